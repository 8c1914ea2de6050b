/**
 * Lane crash recovery: workers killed (by the fault-injection hook) at chosen and at random
 * tasks and points; the frames must be those of a run without the crash.
 */
import { describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type GenerateRequest, type Runtime } from '../src/index.js';
import type { CascadeOptions } from '../src/core/cascade-options.js';
import type { LaneFault } from '../src/engine/lanes/faults.js';
import type { TraceRecord } from '../src/core/trace-records.js';
import { frameDrift } from '../src/quality/drift.js';
import { RANDOM_MODEL } from './support/models.js';
import { oneAndTwoLanes } from './support/lane-runtimes.js';

const request: GenerateRequest = { seed: 3, blocks: 6, prompt: 'green triangle moving right' };
const switched: GenerateRequest = { ...request, switches: [{ atBlock: 3, prompt: 'purple square moving down' }] };
type Cascade = Partial<CascadeOptions>;

async function frames(runtime: Runtime, cascade: Cascade, req: GenerateRequest = request): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of runtime.generate(req, { cascade })) out.push(frame);
  return out;
}
const bytes = (f: readonly Frame[]) => Buffer.concat(f.map((x) => x.rgb));

/** A runtime with `faults`, closed after `use`. */
async function withFaults<T>(lanes: number, faults: LaneFault[], use: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await createRuntime({ lanes, model: RANDOM_MODEL, faults, warmUp: false });
  try {
    return await use(runtime);
  } finally {
    await runtime.close();
  }
}
const crashes = (runtime: Runtime) => runtime.lanes.reduce((n, lane) => n + lane.crashes, 0);

describe('a lane whose worker dies mid-task is replaced and its work re-run', () => {
  const clean = new Map<string, Buffer>();
  const reference = async (lanes: number, cascade: Cascade, req: GenerateRequest = request) => {
    const key = JSON.stringify([lanes, cascade, req]);
    if (!clean.has(key)) clean.set(key, bytes(await frames(lanes === 1 ? runtimes.one : runtimes.two, cascade, req)));
    return clean.get(key) as Buffer;
  };
  const runtimes = oneAndTwoLanes();

  const cases: { name: string; lanes: number; cascade: Cascade; faults: LaneFault[]; req?: GenerateRequest }[] = [
    { name: 'P0 joint, 1 lane, after a step was written', lanes: 1, cascade: { parallelism: 0 }, faults: [{ lane: 0, task: 'tick', nth: 7, point: 'after-step' }] },
    { name: 'P4 joint, 2 lanes, both lanes once', lanes: 2, cascade: { parallelism: 4, exec: 'joint' }, faults: [{ lane: 0, task: 'tick', nth: 2, point: 'after-step' }, { lane: 1, task: 'tick', nth: 4, point: 'after-step' }] },
    { name: 'P4 lanes, 2 lanes, one lane after its step', lanes: 2, cascade: { parallelism: 4, exec: 'lanes', attention: 'causal' }, faults: [{ lane: 0, task: 'share', nth: 5, point: 'after-step' }] },
    { name: 'during a decode', lanes: 2, cascade: { parallelism: 4 }, faults: [{ lane: 0, task: 'decode', nth: 1, point: 'after-step' }, { lane: 1, task: 'decode', nth: 1, point: 'after-step' }] },
    { name: 'during a re-cache (P0, switch at block 3)', lanes: 1, cascade: { parallelism: 0, recache: 'on' }, faults: [{ lane: 0, task: 'recache', nth: 1, point: 'after-step' }], req: switched },
    { name: 'P4 at-block switch, during the ticks that run one call per prompt', lanes: 1, cascade: { parallelism: 4, attention: 'causal' }, faults: [{ lane: 0, task: 'tick', nth: 5, point: 'after-step' }, { lane: 0, task: 'tick', nth: 7, point: 'after-step' }], req: switched },
  ];
  for (const c of cases) {
    it(`${c.name}: the frames of a run without the crash`, async () => {
      const expected = await reference(c.lanes, c.cascade, c.req);
      await withFaults(c.lanes, c.faults, async (runtime) => {
        const got = bytes(await frames(runtime, c.cascade, c.req));
        // On one lane every fault fires; on two, which lane takes a task depends on timing.
        if (c.lanes === 1) expect(crashes(runtime)).toBe(c.faults.length);
        else expect(crashes(runtime)).toBeGreaterThanOrEqual(1);
        expect(got.equals(expected)).toBe(true);
      });
    });
  }

  it('at random ticks and points (seeded): the frames of a run without the crash', async () => {
    // A small LCG: the test is reproducible; the choices are not hand-picked.
    let state = 20261201;
    const next = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
    for (const [lanes, cascade, task] of [[2, { parallelism: 3, exec: 'lanes' }, 'share']] as const) {
      const faults: LaneFault[] = Array.from({ length: 2 }, (_, i) => ({ lane: next(lanes), task, nth: 1 + next(8) + 8 * i, point: next(2) === 0 ? 'start' : 'after-step' }));
      const expected = await reference(lanes, cascade);
      await withFaults(lanes, faults, async (runtime) => {
        const got = bytes(await frames(runtime, cascade));
        expect(crashes(runtime), JSON.stringify(faults)).toBe(faults.length); // a share runs on every lane
        expect(got.equals(expected), JSON.stringify(faults)).toBe(true);
      });
    }
  });

  it('a lane that keeps crashing is retired; joint goes on with the other one, frames unchanged', async () => {
    const cascade = { parallelism: 4, exec: 'joint' } as const;
    const expected = await reference(2, cascade);
    await withFaults(2, [{ lane: 1, task: 'tick', nth: 2, point: 'after-step', repeat: true }], async (runtime) => {
      const session = runtime.session(request, { cascade });
      const retired: { lane: number; crashes: number }[] = [];
      session.on((e) => {
        if (e.type === 'lane-retired') retired.push({ lane: e.lane, crashes: e.crashes });
      });
      const got: Frame[] = [];
      for await (const frame of session.frames) got.push(frame);
      expect(retired).toEqual([{ lane: 1, crashes: 3 }]);
      expect(runtime.lanes[1]?.retired).toBe(true);
      expect(bytes(got).equals(expected)).toBe(true);
    });
  });

  it('lanes mode goes on with the lanes left (within 1 of 255: the share boundaries change)', async () => {
    const cascade = { parallelism: 4, exec: 'lanes' } as const;
    const expected = await frames(runtimes.two, cascade);
    await withFaults(2, [{ lane: 0, task: 'share', nth: 4, point: 'after-step', repeat: true }], async (runtime) => {
      const got = await frames(runtime, cascade);
      expect(runtime.lanes[0]?.retired).toBe(true);
      expect(got.length).toBe(expected.length);
      expect(frameDrift(got, expected).maxAbs).toBeLessThanOrEqual(1);
    });
  });

  it('fails naming lane and block when no lane is left', async () => {
    await withFaults(1, [{ lane: 0, task: 'tick', nth: 3, point: 'start', repeat: true }], async (runtime) => {
      await expect(frames(runtime, { parallelism: 0 })).rejects.toThrow(/^block 0: lane 0, block 0, stage t1: retired after 3 crashes, and no lane is left: .*the worker died/);
    });
  });

  it('with feature caching (its store staged too): the frames and the cache decisions of a run without the crash', async () => {
    const run = async (runtime: Runtime) => {
      const out: Frame[] = [];
      const decisions: unknown[] = [];
      const trace = (r: TraceRecord) => void (r.kind === 'features' && decisions.push(r.indicators));
      for await (const frame of runtime.generate(request, { featureCache: { policy: 'bwcache', threshold: 1.2 }, steps: 8, trace })) out.push(frame);
      return { frames: bytes(out), decisions };
    };
    const expected = await run(runtimes.one);
    // Share 47 is block 5's step 1, whose indicator (1.21) stays above δ: re-run against a
    // half-updated store it would read a change of 0 and fix the schedule a step early.
    await withFaults(1, [{ lane: 0, task: 'share', nth: 20, point: 'after-step' }, { lane: 0, task: 'share', nth: 47, point: 'after-step' }], async (runtime) => {
      const got = await run(runtime);
      expect(crashes(runtime)).toBe(2);
      expect(got.decisions).toEqual(expected.decisions);
      expect(got.frames.equals(expected.frames)).toBe(true);
      expect(runtime.stats().reusedForwards).toBeGreaterThan(0);
    });
  });

  // The store commits by flipping each computing slot's parity, and teacache's reusing members by
  // copying their layer-0 input: crashes after a tick's writes, at P4 (K/V kept, reusing members
  // read by computing ones), in ticks with reusing members and after schedules were fixed.
  for (const [name, featureCache] of [
    ['teacache', { policy: 'teacache', threshold: 3, coefficients: [1, 0] }],
    ['bwcache', { policy: 'bwcache', threshold: 1.5 }],
  ] as const) {
    it(`with ${name} at P4: the frames and the cache decisions of a run without the crashes`, async () => {
      const run = async (runtime: Runtime) => {
        const out: Frame[] = [];
        const decisions: unknown[] = [];
        const trace = (r: TraceRecord) => void (r.kind === 'features' && decisions.push(r.indicators));
        for await (const frame of runtime.generate(request, { featureCache, steps: 8, cascade: { parallelism: 4 }, trace })) out.push(frame);
        return { frames: bytes(out), decisions, reused: runtime.stats().reusedForwards };
      };
      const expected = await run(runtimes.one);
      await withFaults(1, [5, 11].map((nth) => ({ lane: 0, task: 'share', nth, point: 'after-step' }) as const), async (runtime) => {
        const got = await run(runtime);
        expect(crashes(runtime)).toBe(2);
        expect(got.decisions).toEqual(expected.decisions);
        expect(got.frames.equals(expected.frames)).toBe(true);
        expect(got.reused).toBeGreaterThan(0);
      });
    });
  }
});
