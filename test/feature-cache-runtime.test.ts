/**
 * Block-wise feature caching on real lanes (the random model, 12 steps): frames identical on 1
 * and 2 lanes and across repeats at P0 and P4, reused forwards counted and traced, the cache
 * step always computed; with policy none the `layered` mode makes `joint`'s frames.
 *
 * The random model's sampler re-noises every step, so its layer inputs change by about 1.2 a
 * step: δ = 1.5 makes every block trigger at its first comparable step (step 1, a zero-step
 * tail), which exercises reuse as much as possible.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import type { FeatureCacheOptions } from '../src/core/feature-cache.js';
import type { LaneRecord, TraceRecord } from '../src/core/trace-records.js';
import { frameDrift } from '../src/quality/drift.js';
import { deriveModel } from '../src/inspector/model.js';
import { chromeTrace } from '../src/inspector/chrome-trace.js';
import { RANDOM_MODEL } from './support/models.js';
import { decodeSnapshot } from '../src/engine/snapshot/snapshot-format.js';
import type { GenerationSnapshot } from '../src/index.js';
import { oneAndTwoLanes } from './support/lane-runtimes.js';

const STEPS = 12;
const BLOCKS = 4;
const request = { seed: 11, blocks: BLOCKS, prompt: 'green square moving up' };
const bwcache: FeatureCacheOptions = { policy: 'bwcache', threshold: 1.5 };

interface Run {
  readonly frames: Frame[];
  readonly forwards: number;
  readonly reused: number;
  readonly trace: TraceRecord[];
}

async function generate(runtime: Runtime, parallelism: 0 | 4, featureCache: FeatureCacheOptions | undefined, exec?: string): Promise<Run> {
  const before = runtime.stats();
  const frames: Frame[] = [];
  const trace: TraceRecord[] = [];
  const options = { steps: STEPS, cascade: { parallelism, ...(exec ? { exec } : {}) }, trace: (r: TraceRecord) => trace.push(r), ...(featureCache ? { featureCache } : {}) };
  for await (const frame of runtime.generate(request, options)) frames.push(frame);
  const after = runtime.stats();
  return { frames, forwards: after.forwards - before.forwards, reused: after.reusedForwards - before.reusedForwards, trace };
}

const same = (a: readonly Frame[], b: readonly Frame[]) => a.length === b.length && a.every((f, i) => Buffer.from(f.rgb).equals(Buffer.from((b[i] as Frame).rgb)));

describe('feature caching on real lanes', () => {
  const runtimes = oneAndTwoLanes();

  for (const parallelism of [0, 4] as const) {
    it(`P${parallelism}: identical frames on 1 and 2 lanes and across repeats; reuse counted, traced, never at the cache step`, async () => {
      const a = await generate(runtimes.one, parallelism, bwcache);
      const b = await generate(runtimes.two, parallelism, bwcache);
      const c = await generate(runtimes.two, parallelism, bwcache);
      expect(same(a.frames, b.frames)).toBe(true);
      expect(same(b.frames, c.frames)).toBe(true);
      expect(a.frames).toHaveLength(BLOCKS * 3);
      // Every block still takes N + 1 forwards; triggered at step 1 with no tail, 12 steps
      // compute 0, 1, 5, 9 and the cache step: 8 of 12 steps reused.
      expect(a.forwards).toBe(BLOCKS * (STEPS + 1));
      expect(a.reused).toBe(BLOCKS * 8);
      expect(b.reused).toBe(a.reused);
      const meta = a.trace.find((r) => r.kind === 'meta');
      expect(meta).toMatchObject({ exec: 'layered', featureCache: { policy: 'bwcache', threshold: 1.5, interval: 3, lastStep: 0.5 } });
      const ends = a.trace.filter((r): r is LaneRecord => r.kind === 'lane' && r.phase === 'end' && r.task === 'share');
      const reusedInTrace = ends.flatMap((r) => (r.reused ?? []).map((block) => ({ block, stage: r.stages[r.blocks.indexOf(block)] as number })));
      expect(reusedInTrace).toHaveLength(a.reused);
      for (const { stage } of reusedInTrace) expect(stage).not.toBe(STEPS);
      for (const { stage } of reusedInTrace) expect(stage).not.toBe(0);
      for (let block = 0; block < BLOCKS; block++) {
        const stages = reusedInTrace.filter((r) => r.block === block).map((r) => r.stage);
        expect(stages, `block ${block}`).toEqual([2, 3, 4, 6, 7, 8, 10, 11]);
      }
    });
  }

  // The peer policies on the same machinery (random model: layer 0's input changes by about 1.2
  // and its residual by about 0.55 a step, so these thresholds reuse one or two steps at a time).
  const peers: [string, FeatureCacheOptions][] = [
    ['teacache', { policy: 'teacache', threshold: 1.2 }],
    ['fbcache', { policy: 'fbcache', threshold: 1.2 }],
  ];
  for (const [name, options] of peers) {
    for (const parallelism of [0, 4] as const) {
      it(`${name} P${parallelism}: identical frames on 1 and 2 lanes and across repeats; never reuses the first, last or cache step`, async () => {
        const a = await generate(runtimes.one, parallelism, options);
        const b = await generate(runtimes.two, parallelism, options);
        const c = await generate(runtimes.two, parallelism, options);
        expect(same(a.frames, b.frames)).toBe(true);
        expect(same(b.frames, c.frames)).toBe(true);
        expect(a.reused).toBeGreaterThan(0);
        expect(b.reused).toBe(a.reused);
        expect(a.forwards).toBe(BLOCKS * (STEPS + 1));
        const ends = a.trace.filter((r): r is LaneRecord => r.kind === 'lane' && r.phase === 'end' && r.task === 'share');
        const stages = ends.flatMap((r) => (r.reused ?? []).map((block) => r.stages[r.blocks.indexOf(block)] as number));
        expect(stages).toHaveLength(a.reused);
        for (const stage of stages) expect([0, STEPS - 1, STEPS]).not.toContain(stage);
      });
    }
  }

  it('teacache on a model without a calibration fails naming the file; featureCache.coefficients stands in for it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bc-uncalibrated-'));
    try {
      await cp(RANDOM_MODEL, dir, { recursive: true });
      const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { name: string };
      await writeFile(join(dir, 'model.json'), JSON.stringify({ ...manifest, name: 'uncalibrated-test-model' }));
      const runtime = await createRuntime({ lanes: 1, model: dir });
      try {
        await expect(generate(runtime, 0, { policy: 'teacache' })).rejects.toThrow(/calibrations[/\\]uncalibrated-test-model\.12-steps\.json.*calibrate-cache --model DIR --steps 12/);
        const run = await generate(runtime, 0, { policy: 'teacache', threshold: 1.2, coefficients: [0.5, 0] });
        expect(run.frames).toHaveLength(BLOCKS * 3);
        expect(run.reused).toBeGreaterThan(0);
      } finally {
        await runtime.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reused steps change the frames; a trigger that never comes (δ = 0) changes no byte of layered mode\'s frames', async () => {
    const none = await generate(runtimes.one, 0, { policy: 'none' }, 'layered');
    const cached = await generate(runtimes.one, 0, bwcache);
    expect(same(none.frames, cached.frames)).toBe(false);
    expect(none.reused).toBe(0);
    const never = await generate(runtimes.one, 0, { policy: 'bwcache', threshold: 0 });
    expect(never.reused).toBe(0);
    expect(same(never.frames, none.frames)).toBe(true);
  });

  it('with policy none, layered makes joint frames (within 1/255) at P0 and P4, and reuses nothing', async () => {
    for (const parallelism of [0, 4] as const) {
      const joint = await generate(runtimes.two, parallelism, undefined);
      const layered = await generate(runtimes.two, parallelism, { policy: 'none' }, 'layered');
      expect(frameDrift(layered.frames, joint.frames).maxAbs, `P${parallelism}`).toBeLessThanOrEqual(1);
      expect(layered.reused).toBe(0);
    }
  });

  it('the inspector model marks reused steps on the diagonal and the lane tasks, and the Chrome trace names them', async () => {
    const run = await generate(runtimes.two, 4, bwcache);
    const model = deriveModel(run.trace);
    const cells = model.diagonal.cells.filter((c) => c.reused);
    expect(cells).toHaveLength(run.reused);
    expect(cells.every((c) => c.stage > 0 && c.stage < STEPS)).toBe(true);
    expect(model.tasks.filter((t) => t.reused.length > 0).length).toBeGreaterThan(0);
    const events = chromeTrace(run.trace).traceEvents.filter((e) => e.ph === 'X' && e.cat === 'share');
    const named = events.filter((e) => / reused/.test(e.name));
    expect(named.length).toBeGreaterThan(0);
    expect(named.every((e) => Array.isArray((e.args as { reused?: unknown }).reused))).toBe(true);
  });

  it('records each measuring member\'s indicator and its block\'s trigger step per tick; a prompt switch with re-cache works with caching', async () => {
    const run = await generate(runtimes.one, 0, bwcache);
    const features = run.trace.filter((r) => r.kind === 'features');
    expect(features.length).toBeGreaterThan(0);
    const first = features.flatMap((r) => (r.kind === 'features' ? r.indicators : [])).filter((i) => i.block === 0);
    // Block 0 computes steps 1, 5 and 9 past its first: step 1 triggers (the random model's
    // indicator is about 1.2 < 1.5), which fixes its schedule, so steps 5 and 9 measure nothing.
    expect(first.map((i) => i.stage)).toEqual([1]);
    expect(first.every((i) => i.trigger === 1 && typeof i.indicator === 'number')).toBe(true);
    const frames: Frame[] = [];
    const switched = { ...request, switches: [{ atBlock: 2, prompt: 'red ball moving left' }] };
    for await (const frame of runtimes.one.generate(switched, { steps: STEPS, cascade: { parallelism: 0, recache: 'on' }, featureCache: bwcache })) frames.push(frame);
    expect(frames).toHaveLength(BLOCKS * 3);
  });

  // What the store itself holds is checked at the worker's level (feature-cache-fast-paths.test.ts);
  // here, that the generation tells its store and its snapshots the same thing.
  it('a snapshot\'s feature rows hold K/V only in a cascade (P4, not P0), and no layer inputs once the schedule is fixed', async () => {
    const m = runtimes.one.manifest;
    const hidden = m.framesPerBlock * m.tokensPerFrame * m.width;
    const kvAt = (m.layers + 1) * hidden;
    const rowsOf = async (runtime: Runtime, parallelism: 0 | 4, featureCache: FeatureCacheOptions) => {
      const snapshots: GenerationSnapshot[] = [];
      for await (const _ of runtime.generate(request, { steps: STEPS, cascade: { parallelism }, featureCache, snapshots: { every: 1, onSnapshot: (s) => snapshots.push(s) } })) void _;
      return snapshots.flatMap((s) => {
        const state = decodeSnapshot(s.bytes);
        const row = state.features.length / Math.max(1, state.featureBlocks.length);
        return state.featureBlocks.map((_, i) => state.features.subarray(i * row, (i + 1) * row));
      });
    };
    const zero = (a: Float32Array) => a.every((v) => v === 0);
    // δ = 0 never fixes a schedule: every block measures. A P0 snapshot falls between blocks, so
    // its block is at step 0 in a slot an earlier block used (the second run on this runtime).
    await rowsOf(runtimes.one, 0, { policy: 'bwcache', threshold: 0 });
    const p0 = await rowsOf(runtimes.one, 0, { policy: 'bwcache', threshold: 0 });
    expect(p0.length).toBeGreaterThan(0);
    expect(p0.every((row) => zero(row.subarray(kvAt)))).toBe(true);
    const p4 = await rowsOf(runtimes.two, 4, { policy: 'bwcache', threshold: 0 });
    expect(p4.some((row) => !zero(row.subarray(kvAt)) && !zero(row.subarray(0, hidden)))).toBe(true);
    // δ = 1.5 fixes every block's schedule at step 1: snapshots after it hold no inputs.
    const fixed = await rowsOf(runtimes.two, 4, bwcache);
    expect(fixed.some((row) => zero(row.subarray(0, m.layers * hidden)) && !zero(row.subarray(m.layers * hidden, kvAt)))).toBe(true);
  });

  it('a generation aborted mid-way leaves nothing behind: the next one makes a fresh runtime\'s frames', async () => {
    const controller = new AbortController();
    let seen = 0;
    await expect(
      (async () => {
        for await (const _ of runtimes.two.generate({ ...request, seed: 99 }, { steps: STEPS, cascade: { parallelism: 4 }, featureCache: bwcache, signal: controller.signal })) {
          if (++seen === 3) controller.abort();
        }
      })(),
    ).rejects.toThrow();
    const after = await generate(runtimes.two, 4, bwcache);
    const fresh = await createRuntime({ lanes: 2, model: RANDOM_MODEL });
    try {
      expect(same(after.frames, (await generate(fresh, 4, bwcache)).frames)).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('lanes execution reuses too: repeats byte for byte on 2 lanes, with the same schedule as layered', async () => {
    const a = await generate(runtimes.two, 4, bwcache, 'lanes');
    const b = await generate(runtimes.two, 4, bwcache, 'lanes');
    expect(same(a.frames, b.frames)).toBe(true);
    expect(a.reused).toBe(BLOCKS * 8);
    const layered = await generate(runtimes.two, 4, bwcache);
    // The lanes split blocks across lanes: float rounding only.
    expect(frameDrift(a.frames, layered.frames).maxAbs).toBeLessThanOrEqual(2);
  });

  it('the peers through lanes execution: repeat byte for byte on 2 lanes and reuse', async () => {
    for (const [name, options] of peers) {
      const a = await generate(runtimes.two, 4, options, 'lanes');
      const b = await generate(runtimes.two, 4, options, 'lanes');
      expect(same(a.frames, b.frames), name).toBe(true);
      expect(a.reused, name).toBeGreaterThan(0);
      expect(b.reused, name).toBe(a.reused);
    }
  });
});
