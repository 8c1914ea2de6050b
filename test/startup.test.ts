/** Warm-up at start: it runs the sessions (so it takes time) and changes no frame. */
import { describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import { RANDOM_MODEL } from './support/models.js';

const request = { seed: 4, blocks: 3, prompt: 'green ball moving up' };

async function video(runtime: Runtime): Promise<Buffer> {
  const frames: Frame[] = [];
  for await (const frame of runtime.generate(request)) frames.push(frame);
  return Buffer.concat(frames.map((f) => f.rgb));
}

describe('start-up warm-up', () => {
  it('warms every lane (layered graphs too when the settings run them) and gives the frames of a cold runtime', async () => {
    const settings = { lanes: 2, model: RANDOM_MODEL, cascade: { parallelism: 4, exec: 'lanes' } } as const;
    const cold = await createRuntime({ ...settings, warmUp: false });
    const warm = await createRuntime(settings);
    try {
      expect(cold.startup.warmUpMs).toBe(0);
      expect(warm.startup.warmUpMs).toBeGreaterThan(0);
      expect(warm.startup.createMs).toBeGreaterThanOrEqual(warm.startup.warmUpMs);
      expect((await video(warm)).equals(await video(cold))).toBe(true);
    } finally {
      await Promise.all([cold.close(), warm.close()]);
    }
  });
});
