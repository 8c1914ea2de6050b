import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import type { CascadeOptions } from '../src/core/cascade-options.js';
import { buildAttentionMask, MASK_HIDDEN, tickMaskFrames } from '../src/engine/model/attention-mask.js';
import { groupKeyFrames, keyGroups, keyWorkSaved, MIN_KEY_WORK_SAVED } from '../src/engine/lanes/key-groups.js';
import { frameDrift } from '../src/quality/drift.js';
import { RANDOM_MODEL } from './support/models.js';

const H = MASK_HIDDEN;
/** Members of a P4 tick of 1-frame blocks 6 … 10 (positions = block numbers). */
const members = [6, 7, 8, 9, 10].map((block) => ({ block, positions: [block] }));

describe('the trained cascade window: the mask', () => {
  it('hides past and in-flight frames more than `frames` before a block, never the sink', () => {
    // Sink: position 0; window: 2 frames; past: positions 0, 3, 4, 5 (committed).
    const window = { frames: 2, sinkFrames: 1, pastPositions: [0, 3, 4, 5] };
    const tick = tickMaskFrames(members, 1);
    const mask = buildAttentionMask({ pastTokens: 4, queryFrames: tick, keyFrames: tick, tokensPerFrame: 1, mode: 'causal', window });
    const rows = Array.from({ length: 5 }, (_, r) => Array.from(mask.subarray(r * 9, (r + 1) * 9)));
    // columns: past 0 3 4 5 | in flight 6 7 8 9 10
    expect(rows).toEqual([
      [0, H, 0, 0, 0, H, H, H, H], // block 6 sees 4, 5 (and the sink), as sequentially
      [0, H, H, 0, 0, 0, H, H, H], // block 7 sees 5 and 6
      [0, H, H, H, 0, 0, 0, H, H],
      [0, H, H, H, H, 0, 0, 0, H],
      [0, H, H, H, H, H, 0, 0, 0], // block 10 sees the blocks in flight 8 and 9 only
    ]);
  });

  it('bidirectional: newer blocks in flight stay visible, older ones outside the window do not', () => {
    const window = { frames: 1, sinkFrames: 0, pastPositions: [5] };
    const tick = tickMaskFrames(members.slice(0, 3), 1);
    const mask = buildAttentionMask({ pastTokens: 1, queryFrames: tick, keyFrames: tick, tokensPerFrame: 1, mode: 'bidirectional', window });
    expect(Array.from(mask)).toEqual([0, 0, 0, 0, H, 0, 0, 0, H, H, 0, 0]);
  });

  it('refuses a window whose positions do not match the past', () => {
    const tick = tickMaskFrames(members, 1);
    expect(() => buildAttentionMask({ pastTokens: 2, queryFrames: tick, keyFrames: tick, tokensPerFrame: 1, mode: 'causal', window: { frames: 2, sinkFrames: 0, pastPositions: [4] } })).toThrow(/pastPositions has 1 frames, the past 2/);
  });
});

describe('key groups: each query sees only its keys', () => {
  const segments = members.map((_, member) => ({ member, rows: { from: member, to: member + 1 } }));
  const spec = { framesPerBlock: 1, pastFrames: 4, keyFrames: 5, positions: members.map((m) => m.positions) };

  it('causal without a window: an older block gets a shorter prefix of the tick', () => {
    const groups = keyGroups(segments, { ...spec, attention: 'causal' });
    expect(groups.map((g) => g.tick)).toEqual([0, 1, 2, 3, 4].map((j) => [{ from: 0, to: j + 1 }]));
    expect(groups.every((g) => g.past.length === 4)).toBe(true);
  });

  it('bidirectional without a window: one group, every key', () => {
    const groups = keyGroups(segments, { ...spec, attention: 'bidirectional' });
    expect(groups).toEqual([{ rows: { from: 0, to: 5 }, past: [0, 1, 2, 3], tick: [{ from: 0, to: 5 }] }]);
  });

  it('a P4 tick (3-frame blocks, sink 3 + window 9): grouping pays under the trained window, not for causal prefixes alone', () => {
    const p4 = [5, 6, 7, 8, 9].map((block) => [0, 1, 2].map((f) => block * 3 + f));
    const past = { pastFrames: 12, positions: p4, framesPerBlock: 3, attention: 'causal' as const };
    const lane = (from: number, to: number) =>
      [0, 1, 2, 3, 4].flatMap((member) => {
        const a = Math.max(from, member * 3);
        const b = Math.min(to, member * 3 + 3);
        return a < b ? [{ member, rows: { from: a - from, to: b - from } }] : [];
      });
    const window = { frames: 9, sinkFrames: 3, pastPositions: [0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14] };
    for (const [from, to] of [[0, 8], [8, 15]] as const) {
      const keyFrames = Math.ceil(to / 3) * 3;
      const prefixes = keyWorkSaved(keyGroups(lane(from, to), { ...past, keyFrames }), 12 + keyFrames);
      const trained = keyGroups(lane(from, to), { ...past, keyFrames, window });
      expect(prefixes).toBeLessThan(MIN_KEY_WORK_SAVED);
      expect(keyWorkSaved(trained, 12 + keyFrames)).toBeGreaterThanOrEqual(MIN_KEY_WORK_SAVED);
      expect(trained.every((g) => groupKeyFrames(g) === 15)).toBe(true);
    }
  });

  it('the trained window: every block sees the sink, its window and itself, as many keys as sequentially', () => {
    const window = { frames: 2, sinkFrames: 1, pastPositions: [0, 3, 4, 5] };
    const groups = keyGroups(segments, { ...spec, attention: 'causal', window });
    expect(groups.map(groupKeyFrames)).toEqual([4, 4, 4, 4, 4]);
    expect(groups[4]).toEqual({ rows: { from: 4, to: 5 }, past: [0], tick: [{ from: 2, to: 5 }] });
  });
});

describe('the trained cascade window on real lanes', () => {
  const request = { seed: 5, blocks: 8, prompt: 'green triangle moving right' };
  let two: Runtime;
  let ungrouped: Runtime;
  beforeAll(async () => {
    [two, ungrouped] = await Promise.all([createRuntime({ lanes: 2, model: RANDOM_MODEL }), createRuntime({ lanes: 2, model: RANDOM_MODEL, groupKeys: false })]);
  });
  afterAll(async () => {
    await Promise.all([two?.close(), ungrouped?.close()]);
  });
  const collect = async (runtime: Runtime, cascade: Partial<CascadeOptions>) => {
    const out: Frame[] = [];
    for await (const frame of runtime.generate(request, { cascade })) out.push(frame);
    return out;
  };
  const bytes = (frames: Frame[]) => Buffer.concat(frames.map((f) => f.rgb));

  it('P0: the same frames byte for byte as the extended window (nothing is in flight)', async () => {
    const extended = await collect(two, { parallelism: 0 });
    const trained = await collect(two, { parallelism: 0, cascadeWindow: 'trained' });
    expect(bytes(trained).equals(bytes(extended))).toBe(true);
  });

  it('P1 causal with the trained window is the sequential pipeline up to float rounding; the extended window is not', async () => {
    const p0 = await collect(two, { parallelism: 0 });
    const trained = frameDrift(await collect(two, { parallelism: 1, attention: 'causal', exec: 'joint', cascadeWindow: 'trained' }), p0);
    const extended = frameDrift(await collect(two, { parallelism: 1, attention: 'causal', exec: 'joint' }), p0);
    expect(trained.maxAbs).toBeLessThanOrEqual(1);
    expect(trained.psnrDb).toBeGreaterThan(extended.psnrDb);
  });

  for (const attention of ['causal', 'bidirectional'] as const) {
    it(`P4 ${attention}: lanes (key groups) equals joint (one masked call) to float rounding, repeats byte for byte, and differs from the extended window`, async () => {
      const cascade = { parallelism: 4, attention, cascadeWindow: 'trained' } as const;
      const joint = await collect(two, { ...cascade, exec: 'joint' });
      const lanes = await collect(two, { ...cascade, exec: 'lanes' });
      const again = await collect(two, { ...cascade, exec: 'lanes' });
      const masked = await collect(ungrouped, { ...cascade, exec: 'lanes' });
      for (const other of [joint, masked]) {
        const drift = frameDrift(lanes, other);
        expect(drift.maxAbs).toBeLessThanOrEqual(1);
        expect(drift.psnrDb).toBeGreaterThan(70);
      }
      expect(bytes(again).equals(bytes(lanes))).toBe(true);
      const extended = await collect(two, { parallelism: 4, attention, exec: 'joint' });
      expect(frameDrift(joint, extended).maxAbs).toBeGreaterThan(1);
    });
  }
});
