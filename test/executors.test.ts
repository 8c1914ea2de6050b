/**
 * Execution modes are registered: every mode in `EXECUTORS` runs a real generation with the
 * frames of every other (up to rounding), prices ticks for the simulator, and declares what it
 * needs. A new mode added to the registry is picked up here without touching this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import { buildSchedule } from '../src/core/sampler.js';
import type { TickPlan } from '../src/core/tick.js';
import { EXECUTORS, executorKind } from '../src/engine/executors/registry.js';
import { VirtualExecutor } from '../src/engine/executors/virtual.js';
import { frameDrift } from '../src/quality/drift.js';
import { simulate } from '../src/sim/simulate.js';
import { RANDOM_MODEL } from './support/models.js';

const request = { seed: 3, blocks: 5, prompt: 'yellow ball moving down' };
const lanesNeeded = Math.max(2, ...EXECUTORS.map((e) => e.needs.minLanes));

describe('registered execution modes', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: lanesNeeded, model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('declare a name, a sentence and their needs, and are found by name', () => {
    expect(new Set(EXECUTORS.map((e) => e.name)).size).toBe(EXECUTORS.length);
    for (const kind of EXECUTORS) {
      expect(kind.description.length, kind.name).toBeGreaterThan(10);
      expect(kind.needs.minLanes, kind.name).toBeGreaterThanOrEqual(1);
      expect(executorKind(kind.name)).toBe(kind);
    }
    expect(() => executorKind('gpu-magic')).toThrow(/no execution mode "gpu-magic" \(registered: joint, lanes/);
  });

  it('every exact mode makes the same frames as joint under the settings it requires (rounding only) at P3 and P4', async () => {
    const generate = async (cascade: object) => {
      const frames: Frame[] = [];
      for await (const frame of runtime.generate(request, { cascade })) frames.push(frame);
      return frames;
    };
    for (const parallelism of [3, 4] as const) {
      for (const kind of EXECUTORS.filter((e) => e.exact && e.name !== 'joint')) {
        const settings = { parallelism, ...kind.needs.requires };
        const reference = await generate({ ...settings, exec: 'joint' });
        expect(frameDrift(await generate({ ...settings, exec: kind.name }), reference).maxAbs, `${kind.name} at P${parallelism}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('every mode prices ticks for the simulator, which runs the real actors on them', async () => {
    const model = { forwardMs: 10, exchangeMs: 1, layers: 4, lanes: 2, latentFramesPerBlock: 3, jointScaling: 1 };
    const plan = { members: Array.from({ length: 5 }, (_, block) => ({ block })) } as unknown as Pick<TickPlan, 'members'>;
    for (const kind of EXECUTORS) {
      const cost = kind.cost(plan, model);
      expect(cost, kind.name).toBeGreaterThan(0);
      const virtual = new VirtualExecutor(kind, model);
      await virtual.run({ ...plan, tick: 0, attention: 'bidirectional', pastSlots: [], cacheSlots: null } as TickPlan);
      expect(virtual.elapsedMs).toBe(cost);
      const sim = await simulate({ parallelism: 4, lanes: 2, exec: kind.name, forwardMs: 10, exchangeMs: 1, layers: 4, blocks: 10, videoFramesPerBlock: 12 });
      expect(sim.maxInFlight, kind.name).toBe(5);
    }
    // joint: 5 blocks in one forward; lanes: 15 frames over 2 lanes, the busiest has 8 (8/3 blocks) + 4 exchanges.
    expect(executorKind('joint').cost(plan, model)).toBe(50);
    expect(executorKind('lanes').cost(plan, model)).toBeCloseTo((8 / 3) * 10 + 4, 9);
  });

  it('a mode that does not reuse features refuses a member that asks to (the feature-caching seam)', async () => {
    const schedule = buildSchedule({ shift: 5, timesteps: [1000, 750, 500, 250], warp: true });
    for (const kind of EXECUTORS.filter((e) => !e.needs.reusesFeatures)) {
      const executor = kind.create({
        schedule, lanes: [], exchange: undefined as never, framesPerBlock: 3, staleStore: () => undefined as never,
        pickLane: () => { throw new Error('no lane should be asked for'); },
      });
      const plan: TickPlan = {
        tick: 3, attention: 'bidirectional', pastSlots: [], cacheSlots: null,
        members: [{ block: 2, stage: 1, features: 'reuse', seed: 1, latentSlot: 0, contextSlot: 0, positions: [6, 7, 8] }],
      };
      await expect(executor.run(plan), kind.name).rejects.toThrow(`tick 3: block 2 asks to reuse cached features, which "${kind.name}" execution does not do`);
    }
  });
});
