/**
 * A sequential block's denoising steps handed to a lane as one task (`AheadExecutor`): the same
 * frames as step by step, fewer lane tasks, every stage still a state of the block actor, and a
 * crash or an abort in the middle of the steps loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type GenerateRequest, type GenerationSnapshot, type Runtime } from '../src/index.js';
import type { LaneFault } from '../src/engine/lanes/faults.js';
import type { FeatureCacheOptions } from '../src/core/feature-cache.js';
import { parseTrace } from '../src/inspector/trace-file.js';
import type { TraceRecord } from '../src/core/trace-records.js';
import { RANDOM_MODEL } from './support/models.js';
import { ROOT } from './support/cli.js';
import { join } from 'node:path';

const SPRITES = join(ROOT, 'models', 'sprites');

const request: GenerateRequest = { seed: 5, blocks: 4, prompt: 'green triangle moving right' };
const bytes = (frames: readonly Frame[]) => Buffer.concat(frames.map((f) => f.rgb));
/** One RGB frame of the random model (32 × 32). */
const FRAME_BYTES = 32 * 32 * 3;

async function generate(runtime: Runtime, options: Parameters<Runtime['generate']>[1] = {}, req = request): Promise<Buffer> {
  const out: Frame[] = [];
  for await (const frame of runtime.generate(req, { cascade: { parallelism: 0 }, ...options })) out.push(frame);
  return bytes(out);
}

/** Tasks the runtime's lane workers ran while `work` ran (an `ahead` task counts once). */
async function tasksRun(runtime: Runtime, work: () => Promise<unknown>): Promise<number> {
  const count = () => runtime.lanes.reduce((n, lane) => n + lane.tasksRun, 0);
  const before = count();
  await work();
  return count() - before;
}

describe('a sequential block\'s steps run ahead on one lane', () => {
  let ahead: Runtime;
  let stepwise: Runtime;
  let reference: Buffer;
  beforeAll(async () => {
    [ahead, stepwise] = await Promise.all([
      createRuntime({ model: RANDOM_MODEL, lanes: 1 }),
      createRuntime({ model: RANDOM_MODEL, lanes: 1, runAhead: false }),
    ]);
    reference = await generate(stepwise);
  });
  afterAll(async () => {
    await Promise.all([ahead?.close(), stepwise?.close()]);
  });

  it('makes the step-by-step frames byte for byte, with one task for each block\'s denoising steps', async () => {
    const frames: Buffer[] = [];
    const tasks = await tasksRun(ahead, async () => frames.push(await generate(ahead)));
    expect(frames[0]?.equals(reference)).toBe(true);
    // Per block: its 4 denoising steps, its cache step and its decode in one task; one prompt encoded.
    expect(tasks).toBe(1 + request.blocks);
    expect(await tasksRun(stepwise, () => generate(stepwise))).toBe(1 + 6 * request.blocks);
  });

  it('counts every forward, and every stage is still a state the block actor enters', async () => {
    const before = ahead.stats();
    const records: TraceRecord[] = [];
    await generate(ahead, { trace: (record) => records.push(record) });
    const after = ahead.stats();
    expect(after.forwards - before.forwards).toBe(5 * request.blocks);
    expect(after.ticks - before.ticks).toBe(5 * request.blocks);
    for (let block = 0; block < request.blocks; block++) {
      const states = records.flatMap((r) => (r.kind === 'state' && r.actor === `block.${block}` ? [r.state] : []));
      expect(states).toEqual(['queued', 't3', 't2', 't1', 't0', 'cache', 'done']);
    }
    // Observers see each step as a tick of its own, in order, with its time in session.run.
    const ends = records.flatMap((r) => (r.kind === 'lane' && r.phase === 'end' && r.task === 'tick' ? [r] : []));
    expect(ends.map((r) => [r.blocks[0], r.stages[0]])).toEqual(Array.from({ length: 5 * request.blocks }, (_, i) => [Math.floor(i / 5), i % 5]));
    expect(ends.every((r) => r.runMs !== undefined && r.runMs > 0)).toBe(true);
    expect(parseTrace(records.map((r) => JSON.stringify(r)).join('\n'), 'ahead.jsonl')).toHaveLength(records.length);
  });

  it('is not used where a tick may hold more than one block', async () => {
    const cascade = (runtime: Runtime) => async () => {
      for await (const _ of runtime.generate(request, { cascade: { parallelism: 2 } })) void _;
    };
    expect(await tasksRun(ahead, cascade(ahead))).toBe(await tasksRun(stepwise, cascade(stepwise)));
  });

  it('with snapshots, takes them only where no block\'s steps are running ahead: each resumes to the same frames', async () => {
    const snapshots: GenerationSnapshot[] = [];
    const tasks = await tasksRun(ahead, () => generate(ahead, { snapshots: { every: 1, onSnapshot: (s) => snapshots.push(s) } }));
    expect(tasks).toBe(1 + request.blocks);
    expect(snapshots.length).toBeGreaterThanOrEqual(request.blocks - 1);
    for (const snapshot of snapshots) {
      const resumed = await generate(ahead, { resumeFrom: snapshot.bytes });
      expect(resumed.equals(reference.subarray(snapshot.firstFrame * FRAME_BYTES))).toBe(true);
    }
  });

  it('with bwcache and snapshots: each snapshot resumes to the same frames, reused steps run together', async () => {
    const options = { steps: 8, featureCache: { policy: 'bwcache', threshold: 1.5 } as FeatureCacheOptions };
    const whole = await generate(ahead, options);
    const snapshots: GenerationSnapshot[] = [];
    const before = ahead.stats().reusedTogether;
    expect((await generate(ahead, { ...options, snapshots: { every: 1, onSnapshot: (s) => snapshots.push(s) } })).equals(whole)).toBe(true);
    expect(ahead.stats().reusedTogether).toBeGreaterThan(before);
    expect(snapshots.length).toBeGreaterThanOrEqual(request.blocks - 1);
    for (const snapshot of snapshots) {
      const resumed = await generate(ahead, { ...options, resumeFrom: snapshot.bytes });
      expect(resumed.equals(whole.subarray(snapshot.firstFrame * FRAME_BYTES))).toBe(true);
    }
  });

  it('an abort in the middle of a block\'s steps leaves the runtime making the same frames', async () => {
    const controller = new AbortController();
    let seen = 0;
    await expect(
      (async () => {
        for await (const _ of ahead.generate({ ...request, blocks: 8 }, { cascade: { parallelism: 0 }, signal: controller.signal })) {
          if (++seen === 4) controller.abort();
        }
      })(),
    ).rejects.toThrow();
    expect((await generate(ahead)).equals(reference)).toBe(true);
  });

  // The random model re-noises every step (its changes are large): thresholds that make it reuse.
  const policies: { name: string; featureCache: FeatureCacheOptions }[] = [
    { name: 'bwcache', featureCache: { policy: 'bwcache', threshold: 1.5 } },
    { name: 'teacache', featureCache: { policy: 'teacache', threshold: 20 } },
    { name: 'fbcache', featureCache: { policy: 'fbcache', threshold: 5 } },
  ];
  for (const p of policies) {
    it(`with ${p.name}: the lane decides each step as the actor's policy does; same frames, decisions and reused steps, one task per block's steps`, async () => {
      const run = async (runtime: Runtime) => {
        const features: unknown[] = [];
        const before = runtime.stats();
        let frames: Buffer = Buffer.alloc(0);
        const tasks = await tasksRun(runtime, async () => {
          frames = await generate(runtime, { steps: 8, featureCache: p.featureCache, trace: (r) => void (r.kind === 'features' && features.push(r.indicators)) });
        });
        const after = runtime.stats();
        return { frames, features, tasks, reused: after.reusedForwards - before.reusedForwards, together: after.reusedTogether - before.reusedTogether };
      };
      const a = await run(ahead);
      const s = await run(stepwise);
      expect(a.frames.equals(s.frames)).toBe(true);
      expect(a.features).toEqual(s.features);
      expect(a.reused).toBe(s.reused);
      expect(a.reused).toBeGreaterThan(0);
      // Once a block's bwcache schedule is fixed, its consecutive reused steps run as one call.
      expect(s.together).toBe(0);
      if (p.name === 'bwcache') expect(a.together).toBeGreaterThan(0);
      else expect(a.together).toBe(0);
      // Per block: its steps, its decode and its cache step (through the fused forward) in one task.
      expect(a.tasks).toBe(1 + request.blocks);
      expect(s.tasks).toBe(1 + 10 * request.blocks);
    });
  }

  it('the trained model at 32 steps, bwcache δ = 0.15: its runs of reused steps in one call make the step-by-step frames', async () => {
    const [a, s] = await Promise.all([createRuntime({ model: SPRITES, lanes: 1 }), createRuntime({ model: SPRITES, lanes: 1, runAhead: false })]);
    try {
      const options = { steps: 32, featureCache: { policy: 'bwcache', threshold: 0.15 } as FeatureCacheOptions };
      const req = { ...request, blocks: 2 };
      const stepwiseFrames = await generate(s, options, req);
      const before = a.stats();
      expect((await generate(a, options, req)).equals(stepwiseFrames)).toBe(true);
      const after = a.stats();
      // Three reused steps between computed ones, each stretch in one call.
      expect(after.reusedTogether - before.reusedTogether).toBeGreaterThanOrEqual(2 * 3 * 4);
      expect(after.reusedTogether - before.reusedTogether).toBe(after.reusedForwards - before.reusedForwards);
      expect(s.stats().reusedTogether).toBe(0);
    } finally {
      await Promise.all([a.close(), s.close()]);
    }
  });

  // Each block with steps: 8 shares for its steps, then its cache step's.
  const cachingCrashes = [
    { name: 'in the middle of a block\'s steps', nth: 15 }, // block 1's sixth step
    { name: 'while its task computes the cache step through the fused forward', nth: 18 }, // block 1's: a cache tick on the lane instead
  ];
  for (const c of cachingCrashes) {
    it(`with caching, a crash ${c.name}: the frames and decisions of a run without it`, async () => {
      const featureCache: FeatureCacheOptions = { policy: 'bwcache', threshold: 1.5 };
      const decisions = async (runtime: Runtime) => {
        const features: unknown[] = [];
        const frames = await generate(runtime, { steps: 8, featureCache, trace: (r) => void (r.kind === 'features' && features.push(r.indicators)) });
        return { frames, features };
      };
      const expected = await decisions(stepwise);
      const runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 1, faults: [{ lane: 0, task: 'share', nth: c.nth, point: 'after-step' }], warmUp: false });
      try {
        const got = await decisions(runtime);
        expect(runtime.lanes[0]!.crashes).toBe(1);
        expect(got.features).toEqual(expected.features);
        expect(got.frames.equals(expected.frames)).toBe(true);
      } finally {
        await runtime.close();
      }
    });
  }

  const crashes: { name: string; faults: LaneFault[] }[] = [
    // Block 1's third step: ticks 1–5 are block 0's, the 6th is block 1's first step.
    { name: 'after a step was written, before it was committed', faults: [{ lane: 0, task: 'tick', nth: 8, point: 'after-step' }] },
    // Block 1's second step: its first was committed and reported, the block starts over from its noise.
    { name: 'as a later step starts', faults: [{ lane: 0, task: 'tick', nth: 7, point: 'start' }] },
    { name: 'as a block\'s steps start', faults: [{ lane: 0, task: 'tick', nth: 6, point: 'start' }] },
    // Block 1's frames, decoded by its steps' task after its last step: decoded again on the lane.
    { name: 'while its task decodes the block', faults: [{ lane: 0, task: 'decode', nth: 2, point: 'after-step' }] },
    // Block 1's cache step (ticks 6–9 its denoising steps, the 10th its cache step), computed by its task: a cache tick on the lane instead.
    { name: 'while its task computes the cache step', faults: [{ lane: 0, task: 'tick', nth: 10, point: 'after-step' }] },
  ];
  for (const c of crashes) {
    it(`a crash ${c.name}: the frames of a run without it`, async () => {
      const runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 1, faults: c.faults, warmUp: false });
      try {
        expect((await generate(runtime)).equals(reference)).toBe(true);
        expect(runtime.lanes[0]!.crashes).toBe(1);
      } finally {
        await runtime.close();
      }
    });
  }
});
