/** One memory plan: what it says is what the runtime allocates, and `block-cascade model` prints it. */
import { describe, expect, it } from 'vitest';
import { allocateFeatureCache, allocateMemory, planMemory } from '../src/engine/memory/memory-plan.js';
import { readManifest } from '../src/engine/model/loader.js';
import { RANDOM_MODEL } from './support/models.js';
import { runCli } from './support/cli.js';

describe('memory plan', () => {
  it('allocates exactly the bytes it plans, slab by slab', async () => {
    const manifest = await readManifest(RANDOM_MODEL);
    const plan = planMemory(manifest);
    const memory = allocateMemory(manifest, plan);
    const allocated = {
      kv: memory.kv.keys.byteLength + memory.kv.values.byteLength,
      latents: memory.latents.buffer.byteLength,
      latentSteps: memory.latentSteps.buffer.byteLength,
      cleanLatents: memory.cleanLatents.buffer.byteLength,
      contexts: memory.contexts.buffer.byteLength,
      exchange: memory.exchange.keys.byteLength + memory.exchange.values.byteLength,
    };
    expect(Object.fromEntries(plan.slabs.map((s) => [s.name, s.bytes]))).toEqual(allocated);
    expect(plan.totalBytes).toBe(Object.values(allocated).reduce((a, b) => a + b, 0));
    // Sink + window + five blocks in flight.
    expect(plan.kvCapacitySlots).toBe(manifest.kv.sinkFrames + manifest.kv.windowFrames + 5 * manifest.framesPerBlock);
  });

  it('plans the feature cache only when asked, one slot per latent slot, and allocates what it plans', async () => {
    const manifest = await readManifest(RANDOM_MODEL);
    expect(planMemory(manifest).slabs.map((s) => s.name)).not.toContain('featureCache');
    const plan = planMemory(manifest, { featureCache: true });
    const slab = plan.slabs.find((s) => s.name === 'featureCache');
    const tokens = manifest.framesPerBlock * manifest.tokensPerFrame;
    // Layer inputs, the residual, and K and V of every layer, for one block's tokens.
    expect(slab?.slotBytes).toBe(4 * tokens * ((manifest.layers + 1) * manifest.width + 2 * manifest.layers * manifest.heads * manifest.headDim));
    expect(slab?.slots).toBe(planMemory(manifest).slabs.find((s) => s.name === 'latents')?.slots);
    expect(allocateFeatureCache(manifest, plan).buffer.byteLength).toBe(slab?.bytes);
    expect(() => allocateFeatureCache(manifest, planMemory(manifest))).toThrow(/no feature-cache slab/);
  });

  it('block-cascade model prints the card and the plan', async () => {
    const manifest = await readManifest(RANDOM_MODEL);
    const { code, stdout } = await runCli(['model', RANDOM_MODEL]);
    expect(code).toBe(0);
    expect(stdout).toContain(manifest.name);
    expect(stdout).toMatch(/sampler\s+4 steps/);
    expect(stdout).toContain(`window ${manifest.kv.windowFrames} frames`);
    expect(stdout).toMatch(new RegExp(`^kv\\s+${planMemory(manifest).kvCapacitySlots}\\s`, 'm'));
    const bad = await runCli(['model', '/nonexistent-model-dir']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('/nonexistent-model-dir');
  });
});
