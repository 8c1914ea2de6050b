/**
 * N-step schedules on real lanes: the same seed gives the same frames on 1 and 2 lanes, `lanes`
 * execution equals `joint` up to rounding, every block costs N + 1 forwards, and more steps
 * really change the frames.
 */
import { describe, expect, it } from 'vitest';
import type { Frame, GenerateOptions, Runtime } from '../src/index.js';
import { frameDrift } from '../src/quality/drift.js';
import { oneAndTwoLanes } from './support/lane-runtimes.js';

const request = { seed: 9, blocks: 4, prompt: 'blue square moving up' };

describe('N-step schedules', () => {
  const runtimes = oneAndTwoLanes();

  async function frames(runtime: Runtime, options: GenerateOptions): Promise<Frame[]> {
    const out: Frame[] = [];
    for await (const frame of runtime.generate(request, options)) out.push(frame);
    return out;
  }
  const bytes = (f: readonly Frame[]) => Buffer.concat(f.map((x) => x.rgb));

  for (const steps of [8, 16]) {
    it(`${steps} steps: P0 and P4 identical on 1 and 2 lanes, ${steps + 1} forwards per block`, async () => {
      for (const cascade of [{ parallelism: 0 }, { parallelism: 4, attention: 'causal' }] as const) {
        const before = runtimes.one.stats().forwards;
        const a = await frames(runtimes.one, { steps, cascade });
        expect(runtimes.one.stats().forwards - before).toBe(request.blocks * (steps + 1));
        expect(bytes(await frames(runtimes.two, { steps, cascade })).equals(bytes(a))).toBe(true);
      }
    });
  }

  it('lanes execution equals joint at eight steps (rounding only), and steps change the video', async () => {
    const cascade = { parallelism: 3, attention: 'bidirectional' } as const;
    const joint = await frames(runtimes.two, { steps: 8, cascade: { ...cascade, exec: 'joint' } });
    const lanes = await frames(runtimes.two, { steps: 8, cascade: { ...cascade, exec: 'lanes' } });
    expect(frameDrift(lanes, joint).maxAbs).toBeLessThanOrEqual(1);
    const four = await frames(runtimes.two, { cascade: { ...cascade, exec: 'joint' } });
    expect(bytes(four).equals(bytes(joint))).toBe(false);
  });
});
