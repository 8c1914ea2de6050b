/**
 * N-step schedules on real lanes: the same seed gives the same frames on 1 and 2 lanes, `lanes`
 * execution equals `joint` up to rounding, every block costs N + 1 forwards, and more steps
 * really change the frames.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type GenerateOptions, type Runtime } from '../src/index.js';
import { frameDrift } from '../src/quality/drift.js';
import { RANDOM_MODEL } from './support/models.js';

const request = { seed: 9, blocks: 4, prompt: 'blue square moving up' };

describe('N-step schedules', () => {
  let one: Runtime;
  let two: Runtime;
  beforeAll(async () => {
    [one, two] = await Promise.all([createRuntime({ lanes: 1, model: RANDOM_MODEL }), createRuntime({ lanes: 2, model: RANDOM_MODEL })]);
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
  });

  async function frames(runtime: Runtime, options: GenerateOptions): Promise<Frame[]> {
    const out: Frame[] = [];
    for await (const frame of runtime.generate(request, options)) out.push(frame);
    return out;
  }
  const bytes = (f: readonly Frame[]) => Buffer.concat(f.map((x) => x.rgb));

  for (const steps of [8, 16]) {
    it(`${steps} steps: P0 and P4 identical on 1 and 2 lanes, ${steps + 1} forwards per block`, async () => {
      for (const cascade of [{ parallelism: 0 }, { parallelism: 4, attention: 'causal' }] as const) {
        const before = one.stats().forwards;
        const a = await frames(one, { steps, cascade });
        expect(one.stats().forwards - before).toBe(request.blocks * (steps + 1));
        expect(bytes(await frames(two, { steps, cascade })).equals(bytes(a))).toBe(true);
      }
    });
  }

  it('lanes execution equals joint at eight steps (rounding only), and steps change the video', async () => {
    const cascade = { parallelism: 3, attention: 'bidirectional' } as const;
    const joint = await frames(two, { steps: 8, cascade: { ...cascade, exec: 'joint' } });
    const lanes = await frames(two, { steps: 8, cascade: { ...cascade, exec: 'lanes' } });
    expect(frameDrift(lanes, joint).maxAbs).toBeLessThanOrEqual(1);
    const four = await frames(two, { cascade: { ...cascade, exec: 'joint' } });
    expect(bytes(four).equals(bytes(joint))).toBe(false);
  });
});
