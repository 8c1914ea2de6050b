import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import type { CascadeOptions } from '../src/runtime/cascade/cascade-options.js';
import { frameDrift } from '../src/runtime/bench/drift.js';

const request = { seed: 5, blocks: 7, prompt: 'green triangle moving right' };

async function frames(runtime: Runtime, cascade: Partial<CascadeOptions>): Promise<Buffer> {
  const out: Frame[] = [];
  for await (const frame of runtime.generate(request, { cascade })) out.push(frame);
  return Buffer.concat(out.map((f) => f.rgb));
}

describe('cascades on real lanes', () => {
  let one: Runtime;
  let two: Runtime;
  beforeAll(async () => {
    [one, two] = await Promise.all([createRuntime({ lanes: 1 }), createRuntime({ lanes: 2 })]);
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
  });

  for (const parallelism of [1, 2, 3, 4] as const) {
    it(`P${parallelism} bidirectional joint: identical frames on 1 and 2 lanes, twice`, async () => {
      const cascade = { parallelism, attention: 'bidirectional' as const, exec: 'joint' as const };
      const a = await frames(one, cascade);
      const b = await frames(two, cascade);
      const c = await frames(two, cascade);
      expect(b.equals(a)).toBe(true);
      expect(c.equals(a)).toBe(true);
    });
  }

  it('runs five forwards per block whatever the level, and the cascade really differs from P0', async () => {
    const sequential = await frames(one, { parallelism: 0 });
    for (const parallelism of [1, 4] as const) {
      const before = one.stats().forwards;
      const cascaded = await frames(one, { parallelism, attention: 'bidirectional' });
      expect(one.stats().forwards - before).toBe(request.blocks * 5);
      // Bidirectional windows let the caching block see noisier ones: close to P0, not equal.
      expect(cascaded.equals(sequential)).toBe(false);
      const drift = frameDrift([{ rgb: cascaded } as unknown as Frame], [{ rgb: sequential } as unknown as Frame]);
      expect(drift.psnrDb).toBeGreaterThan(25);
    }
  });
});
