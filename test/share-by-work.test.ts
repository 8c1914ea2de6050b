/** Lanes shares balanced by work when some members reuse features. */
import { describe, expect, it } from 'vitest';
import { keyFramesOf, keyFrameWorkOf, REUSED_FRAME_WORK, shareFrames, shareFramesByCost, shareFramesByWork, shareTick } from '../src/engine/executors/lanes.js';

describe('shareFramesByWork', () => {
  it('equals shareFrames for equal work', () => {
    for (const [frames, lanes] of [[15, 2], [15, 3], [3, 2], [2, 4]] as const) {
      expect(shareFramesByWork(new Array<number>(frames).fill(1), lanes)).toEqual(shareFrames(frames, lanes));
    }
  });

  it('gives the lane that holds reusing frames more of them, so the computing work is even', () => {
    const r = REUSED_FRAME_WORK;
    // P4 tick: blocks 0 (cache step, computes), 1 and 2 reuse, 3 and 4 compute.
    const work = [1, 1, 1, r, r, r, r, r, r, 1, 1, 1, 1, 1, 1];
    const shares = shareFramesByWork(work, 2);
    expect(shares).toEqual([{ from: 0, to: 10 }, { from: 10, to: 15 }]);
    const load = shares.map(({ from, to }) => work.slice(from, to).reduce((a, b) => a + b, 0));
    expect(Math.max(...load)).toBeCloseTo(5, 9);
    // Contiguous and covering every frame.
    expect(shares[0]?.from).toBe(0);
    expect(shares[shares.length - 1]?.to).toBe(work.length);
  });
});

describe('causal shares', () => {
  const tick = (attention: 'causal' | 'bidirectional', past = 12) => ({ members: Array.from({ length: 5 }, (_, b) => ({ features: 'compute' as const, positions: [0, 1, 2].map((f) => 3 * b + f) })), pastSlots: Array.from({ length: past }, (_, i) => i), attention });

  it('a lane attends to the tick frames up to the end of its last block under causal attention, to all under bidirectional', () => {
    expect(keyFramesOf(8, 15, 3, 'causal')).toBe(9);
    expect(keyFramesOf(9, 15, 3, 'causal')).toBe(9);
    expect(keyFramesOf(15, 15, 3, 'causal')).toBe(15);
    expect(keyFramesOf(1, 15, 3, 'bidirectional')).toBe(15);
  });

  it('balances the lanes by their keys: the lanes holding older blocks take more frames', () => {
    const r = 0.2; // heavy attention (many tokens per frame against a narrow layer), no past yet
    expect(keyFrameWorkOf({ tokensPerFrame: 64, width: 384 })).toBeCloseTo(64 / 2304, 12);
    // The older lane's fewer keys make room for more frames than an equal split's 8.
    const heavy = shareTick(tick('causal', 0), 2, 3, r);
    expect(heavy[0]?.to).toBeGreaterThan(8);
    const cost = (s: { from: number; to: number }) => (s.to - s.from) * (1 + r * keyFramesOf(s.to, 15, 3, 'causal'));
    // No other single cut has a lighter busiest lane.
    for (let cut = 1; cut < 15; cut++) {
      expect(Math.max(...heavy.map(cost))).toBeLessThanOrEqual(Math.max(cost({ from: 0, to: cut }), cost({ from: cut, to: 15 })) + 1e-12);
    }
    // Bidirectional or without a key cost: equal frame counts, as before.
    expect(shareTick(tick('bidirectional', 60), 2, 3, r)).toEqual(shareFrames(15, 2));
    expect(shareTick(tick('causal', 60), 2, 3, 0)).toEqual(shareFrames(15, 2));
  });

  it("under the trained window: by each block's own keys (the first ticks' blocks see less; a full window, equal frame counts)", () => {
    const r = 0.2;
    const window = { frames: 9, sinkFrames: 3, pastPositions: [] };
    // Blocks 0–4 with nothing committed: keys 3, 6, 9, 12, 12 frames.
    const first = shareTick({ ...tick('causal', 0), window }, 2, 3, r);
    expect(first[0]?.to).toBeGreaterThan(8);
    // Blocks 5–9 (the members shifted by 5 blocks), past = sink + window: 15 keys each.
    const later = tick('causal', 12);
    const steady = { ...later, members: later.members.map((m) => ({ ...m, positions: m.positions.map((p) => p + 15) })), window: { ...window, pastPositions: [0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14] } };
    expect(shareTick(steady, 2, 3, r)).toEqual(shareFrames(15, 2));
  });

  it('shareFramesByCost covers every frame with contiguous shares, one per lane at most', () => {
    for (const lanes of [1, 2, 3, 4, 20]) {
      const shares = shareFramesByCost(15, lanes, (from, to) => (to - from) * (1 + 0.05 * to));
      expect(shares.length).toBe(Math.min(lanes, 15));
      expect(shares[0]?.from).toBe(0);
      expect(shares[shares.length - 1]?.to).toBe(15);
      shares.slice(1).forEach((s, i) => expect(s.from).toBe(shares[i]?.to));
    }
  });
});
