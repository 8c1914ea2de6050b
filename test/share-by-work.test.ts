/** Lanes shares balanced by work when some members reuse features. */
import { describe, expect, it } from 'vitest';
import { REUSED_FRAME_WORK, shareFrames, shareFramesByWork } from '../src/engine/executors/lanes.js';

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
