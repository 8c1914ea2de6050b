/**
 * Many sessions on one runtime (issue 19): generations run at once, each on its own memory set,
 * sharing the lanes. Each session's frames are byte-identical to the same session run alone; an
 * abort or a failure of one leaves the others' frames as they were; `maxSessions` and the bounded
 * queue refuse with RuntimeBusyError; a queued session aborted by its signal never runs.
 *
 * No sleeps: sessions are made to overlap by a promise barrier (each consumer waits, after its
 * first frame, until every session has produced one, so all hold a memory set at once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, GenerationAbortedError, GenerationFailedError, InvalidOptionError, RuntimeBusyError, type Frame, type GenerateRequest, type Runtime } from '../src/index.js';
import type { CascadeOptions } from '../src/core/cascade-options.js';
import type { TickTask } from '../src/protocol/lane-messages.js';
import { planMemory } from '../src/engine/memory/memory-plan.js';
import { RANDOM_MODEL } from './support/models.js';

type Cascade = Partial<CascadeOptions>;

interface Spec {
  readonly request: GenerateRequest;
  readonly cascade: Cascade;
  /** A live switch (`session.switchPrompt`) after this session's first frame (backpressure keeps it before the end). */
  readonly switchTo?: string;
}

const SPECS: readonly Spec[] = [
  { request: { seed: 11, blocks: 5, prompt: 'red ball moving left' }, cascade: { parallelism: 0 } },
  { request: { seed: 12, blocks: 6, prompt: 'blue square moving up' }, cascade: { parallelism: 4 } },
  { request: { seed: 13, blocks: 14, prompt: 'green triangle moving down' }, cascade: { parallelism: 4, attention: 'causal' }, switchTo: 'yellow ball moving right' },
  { request: { seed: 14, blocks: 8, prompt: 'white square moving left' }, cascade: { parallelism: 0 }, switchTo: 'orange triangle moving up' },
];

const bytes = (frames: readonly Frame[]) => Buffer.concat(frames.map((f) => f.rgb));

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

/** A barrier of `n` parties: `arrive()` resolves once all `n` have arrived (or `leave()` for one that will not). */
function barrier(n: number): { arrive: () => Promise<void>; leave: () => void } {
  let left = n;
  let open!: () => void;
  const all = new Promise<void>((resolve) => (open = resolve));
  const one = () => {
    if (--left === 0) open();
  };
  return {
    arrive: () => {
      one();
      return all;
    },
    leave: one,
  };
}

interface Outcome {
  readonly frames: Frame[];
  /** The block a live switch landed at. */
  readonly fromBlock?: number;
  readonly error?: unknown;
}

/**
 * Runs `specs` as concurrent live sessions; each waits after its first frame until every session
 * has one (so all run at once). `abortAfterFirst`: indices whose signal aborts after their first frame.
 */
async function runConcurrently(runtime: Runtime, specs: readonly Spec[], abortAfterFirst: readonly number[] = []): Promise<Outcome[]> {
  const together = barrier(specs.length);
  return Promise.all(
    specs.map(async (spec, i) => {
      const controller = new AbortController();
      const session = runtime.session(spec.request, { cascade: spec.cascade, signal: controller.signal, maxBufferedBlocks: 2 });
      const frames: Frame[] = [];
      let switched: Promise<{ fromBlock: number }> | null = null;
      let arrived = false;
      try {
        for await (const frame of session.frames) {
          frames.push(frame);
          if (!arrived) {
            arrived = true;
            await together.arrive();
            if (abortAfterFirst.includes(i)) controller.abort();
          }
          if (spec.switchTo !== undefined && frame.index === 0) switched = session.switchPrompt(spec.switchTo);
        }
      } catch (error) {
        if (!arrived) together.leave();
        return { frames, error };
      }
      if (!arrived) together.leave();
      return { frames, ...(switched ? { fromBlock: (await switched).fromBlock } : {}) };
    }),
  );
}

/** The same session alone: a live switch replayed as a scheduled one at the block it landed on. */
function alone(runtime: Runtime, spec: Spec, fromBlock?: number): Promise<Frame[]> {
  const request = spec.switchTo !== undefined && fromBlock !== undefined ? { ...spec.request, switches: [{ atBlock: fromBlock, prompt: spec.switchTo }] } : spec.request;
  return collect(runtime.generate(request, { cascade: spec.cascade }));
}

describe.each([1, 2])('four concurrent sessions on %i lane(s)', (lanes) => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes, model: RANDOM_MODEL, maxSessions: 4, warmUp: false });
  });
  afterAll(async () => {
    await runtime.close();
  });

  it('each session (seeds, prompts, P0/P4, live switches) is byte-identical to itself run alone', async () => {
    expect(runtime.maxSessions).toBe(4);
    const before = runtime.sharedBytes();
    expect(before).toBeGreaterThanOrEqual(4 * planMemory(runtime.manifest).totalBytes);
    const outcomes = await runConcurrently(runtime, SPECS);
    for (const [i, spec] of SPECS.entries()) {
      const outcome = outcomes[i] as Outcome;
      expect(outcome.error, `session ${i}`).toBeUndefined();
      expect(outcome.frames, `session ${i}`).toHaveLength(spec.request.blocks * runtime.manifest.framesPerBlock);
      if (spec.switchTo !== undefined) {
        expect(outcome.fromBlock, `session ${i}`).toBeGreaterThan(0);
        expect(outcome.fromBlock, `session ${i}`).toBeLessThan(spec.request.blocks);
      }
      const reference = await alone(runtime, spec, outcome.fromBlock);
      expect(bytes(outcome.frames).equals(bytes(reference)), `session ${i}`).toBe(true);
    }
    // The sessions are different videos (no session read another's slots and came out the same).
    expect(new Set(outcomes.map((o) => bytes(o.frames).toString('base64'))).size).toBe(SPECS.length);
    // Every set went back to the pool; no slab was allocated on the way.
    expect(runtime.liveActors()).toBe(0);
    expect(runtime.sharedBytes()).toBe(before);
    expect(runtime.lanes.map((lane) => lane.pending)).toEqual(runtime.lanes.map(() => 0));
  }, 60_000);

  it('an aborted session leaves the others\' frames unchanged', async () => {
    const specs = SPECS.slice(0, 3).map((spec) => ({ ...spec, switchTo: undefined }) as Spec);
    const aborted = { request: { seed: 21, blocks: 40, prompt: 'purple ball moving down' }, cascade: { parallelism: 4 } } satisfies Spec;
    const outcomes = await runConcurrently(runtime, [...specs, aborted], [3]);
    expect((outcomes[3] as Outcome).error).toBeInstanceOf(GenerationAbortedError);
    for (const [i, spec] of specs.entries()) {
      const outcome = outcomes[i] as Outcome;
      expect(outcome.error, `session ${i}`).toBeUndefined();
      expect(bytes(outcome.frames).equals(bytes(await alone(runtime, spec))), `session ${i}`).toBe(true);
    }
  }, 60_000);
});

describe('a failing session among others', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL, maxSessions: 3, warmUp: false });
  });
  afterAll(async () => {
    await runtime.close();
  });

  it('fails alone: the others\' frames are unchanged, and its memory set serves the next session', async () => {
    // Seed 99's ticks fail from its fourth on (a task failure on the lane, not a crash).
    const FAILING_SEED = 99;
    let seen = 0;
    for (const lane of runtime.lanes) {
      const tick = lane.tick.bind(lane);
      lane.tick = (task: TickTask) => (task.members.some((m) => m.seed === FAILING_SEED) && ++seen > 3 ? Promise.reject(new Error('injected failure')) : tick(task));
    }
    const specs = [SPECS[0] as Spec, SPECS[1] as Spec];
    const failing = { request: { seed: FAILING_SEED, blocks: 8, prompt: 'green ball moving up' }, cascade: { parallelism: 4 } } satisfies Spec;
    const outcomes = await runConcurrently(runtime, [failing, ...specs]);
    expect((outcomes[0] as Outcome).error).toBeInstanceOf(GenerationFailedError);
    for (const [i, spec] of specs.entries()) {
      const outcome = outcomes[i + 1] as Outcome;
      expect(outcome.error, `session ${i}`).toBeUndefined();
      expect(bytes(outcome.frames).equals(bytes(await alone(runtime, spec))), `session ${i}`).toBe(true);
    }
    // Three sessions again, the failed one's set among them: still the same frames.
    const again = await runConcurrently(runtime, [SPECS[1] as Spec, SPECS[0] as Spec, { ...(SPECS[2] as Spec), switchTo: undefined }]);
    expect(bytes((again[0] as Outcome).frames).equals(bytes((outcomes[2] as Outcome).frames))).toBe(true);
    expect(bytes((again[1] as Outcome).frames).equals(bytes((outcomes[1] as Outcome).frames))).toBe(true);
  }, 60_000);
});

describe('`lanes` execution, sessions sharing two lanes', () => {
  it('concurrent `lanes` ticks neither deadlock nor mix their exchanges: each equals itself alone', async () => {
    const runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL, maxSessions: 3, warmUp: false });
    try {
      const specs: Spec[] = [
        { request: { seed: 31, blocks: 5, prompt: 'red square moving up' }, cascade: { parallelism: 4, exec: 'lanes', attention: 'causal' } },
        { request: { seed: 32, blocks: 5, prompt: 'blue ball moving left' }, cascade: { parallelism: 4, exec: 'lanes', attention: 'causal' } },
        { request: { seed: 33, blocks: 4, prompt: 'yellow triangle moving right' }, cascade: { parallelism: 4 } },
      ];
      const outcomes = await runConcurrently(runtime, specs);
      for (const [i, spec] of specs.entries()) {
        const outcome = outcomes[i] as Outcome;
        expect(outcome.error, `session ${i}`).toBeUndefined();
        expect(bytes(outcome.frames).equals(bytes(await alone(runtime, spec))), `session ${i}`).toBe(true);
      }
    } finally {
      await runtime.close();
    }
  }, 60_000);
});

describe('lane crashes with sessions sharing the lanes', () => {
  it('each session recovers its own work (its exchange aborted, its tasks waited for): frames as alone', async () => {
    const specs: Spec[] = [
      { request: { seed: 41, blocks: 5, prompt: 'red triangle moving down' }, cascade: { parallelism: 4, exec: 'lanes', attention: 'causal' } },
      { request: { seed: 42, blocks: 5, prompt: 'green square moving left' }, cascade: { parallelism: 4, exec: 'lanes', attention: 'causal' } },
      { request: { seed: 43, blocks: 4, prompt: 'blue triangle moving up' }, cascade: { parallelism: 0 } },
    ];
    const faults = [
      { lane: 0, task: 'share', nth: 4, point: 'after-step' },
      { lane: 1, task: 'share', nth: 7, point: 'start' },
      { lane: 1, task: 'tick', nth: 3, point: 'after-step' },
      { lane: 0, task: 'decode', nth: 2, point: 'after-step' },
    ] as const;
    const [faulty, clean] = await Promise.all([
      createRuntime({ lanes: 2, model: RANDOM_MODEL, maxSessions: 3, warmUp: false, faults: [...faults] }),
      createRuntime({ lanes: 2, model: RANDOM_MODEL, maxSessions: 1, warmUp: false }),
    ]);
    try {
      const outcomes = await runConcurrently(faulty, specs);
      // The share faults always fire (every lanes tick has a share on each lane); whether a lane
      // reaches its nth joint tick or decode depends on which lane was free when those were
      // placed, and on how many ticks were batched into one call.
      expect(faulty.lanes[0]?.crashes).toBeGreaterThanOrEqual(1);
      expect(faulty.lanes[1]?.crashes).toBeGreaterThanOrEqual(1);
      expect(faulty.lanes.reduce((sum, lane) => sum + lane.crashes, 0)).toBeLessThanOrEqual(faults.length);
      for (const [i, spec] of specs.entries()) {
        const outcome = outcomes[i] as Outcome;
        expect(outcome.error, `session ${i}`).toBeUndefined();
        expect(bytes(outcome.frames).equals(bytes(await alone(clean, spec))), `session ${i}`).toBe(true);
      }
    } finally {
      await Promise.all([faulty.close(), clean.close()]);
    }
  }, 60_000);
});

describe('cross-session batching', () => {
  const specs: Spec[] = [0, 1, 2, 3].map((i) => ({
    request: { seed: 60 + i, blocks: 8, prompt: ['red ball moving left', 'blue square moving up', 'green triangle moving right', 'yellow ball moving down'][i] as string },
    cascade: { parallelism: 0 },
  }));

  it('four sessions on one lane share calls (one item each, equal shapes) and each is byte-identical to itself alone; off (the default), none shares', async () => {
    const [batched, single] = await Promise.all([
      createRuntime({ lanes: 1, model: RANDOM_MODEL, maxSessions: 4, warmUp: false, batchSessions: true }),
      createRuntime({ lanes: 1, model: RANDOM_MODEL, maxSessions: 4, warmUp: false }),
    ]);
    try {
      const together = await runConcurrently(batched, specs);
      // Four sessions on one lane: while one call runs, the others' ticks wait and leave together.
      expect(batched.stats().batchedCalls).toBeGreaterThan(0);
      const separate = await runConcurrently(single, specs);
      expect(single.stats().batchedCalls).toBe(0);
      for (const [i, spec] of specs.entries()) {
        const reference = await alone(single, spec);
        expect(bytes((together[i] as Outcome).frames).equals(bytes(reference)), `session ${i} batched`).toBe(true);
        expect(bytes((separate[i] as Outcome).frames).equals(bytes(reference)), `session ${i} unbatched`).toBe(true);
      }
    } finally {
      await Promise.all([batched.close(), single.close()]);
    }
  }, 60_000);

  it('refuses a batchSessions that is not a boolean, naming the field', async () => {
    await expect(createRuntime({ lanes: 1, model: RANDOM_MODEL, batchSessions: 'yes' as unknown as boolean })).rejects.toThrow(/batchSessions/);
  });
});

describe('admission: maxSessions, the bounded queue, RuntimeBusyError', () => {
  const request: GenerateRequest = { seed: 5, blocks: 2, prompt: 'red ball moving left' };

  it('runs maxSessions, queues maxQueuedSessions, refuses the next with a retry hint; a queued session aborted by its signal never runs', async () => {
    const runtime = await createRuntime({ lanes: 1, model: RANDOM_MODEL, maxSessions: 1, maxQueuedSessions: 1, warmUp: false });
    try {
      const before = runtime.stats().forwards;
      // The first holds the only memory set until its frames are drained.
      const first = runtime.generate(request)[Symbol.asyncIterator]();
      const head = await first.next();
      expect(head.done).toBe(false);
      // The second waits in the queue (its first next() stays pending).
      const controller = new AbortController();
      const queued = runtime.generate({ ...request, blocks: 50 }, { signal: controller.signal })[Symbol.asyncIterator]();
      const queuedNext = queued.next();
      // The third finds the queue full: refused at once, typed, with a hint.
      const refused = collect(runtime.generate(request));
      await expect(refused).rejects.toBeInstanceOf(RuntimeBusyError);
      const busy = (await refused.catch((e: unknown) => e)) as RuntimeBusyError;
      expect(busy.code).toBe('RUNTIME_BUSY');
      expect(busy.retryAfterMs).toBeGreaterThan(0);
      expect(busy.running).toBe(1);
      expect(busy.queued).toBe(1);
      // A live session is refused the same way, and its controls do not wait for it forever.
      const session = runtime.session(request);
      await expect(collect(session.frames)).rejects.toBeInstanceOf(RuntimeBusyError);
      await expect(session.switchPrompt('blue ball moving up')).rejects.toThrow(/ended/);
      // Aborting the queued one removes it from the queue: it settles while the first still runs…
      controller.abort();
      await expect(queuedNext).rejects.toBeInstanceOf(GenerationAbortedError);
      // …and its place is free again.
      const next = collect(runtime.generate(request));
      const rest = await collect({ [Symbol.asyncIterator]: () => first });
      expect(rest).toHaveLength(2 * runtime.manifest.framesPerBlock - 1);
      expect(await next).toHaveLength(2 * runtime.manifest.framesPerBlock);
      // Only the first and the last ran (five forwards a block at P0): none of the aborted one's 50 blocks.
      expect(runtime.stats().forwards - before).toBe(20);
    } finally {
      await runtime.close();
    }
  }, 30_000);

  it('maxQueuedSessions 0 refuses as soon as maxSessions run; close waits for running sessions', async () => {
    const runtime = await createRuntime({ lanes: 1, model: RANDOM_MODEL, maxSessions: 2, maxQueuedSessions: 0, warmUp: false });
    const a = runtime.generate(request)[Symbol.asyncIterator]();
    const b = runtime.generate(request)[Symbol.asyncIterator]();
    await Promise.all([a.next(), b.next()]);
    await expect(collect(runtime.generate(request))).rejects.toBeInstanceOf(RuntimeBusyError);
    // close() resolves only once both running sessions have ended.
    let closed = false;
    const closing = runtime.close().then(() => (closed = true));
    const [restA, restB] = await Promise.all([collect({ [Symbol.asyncIterator]: () => a }), collect({ [Symbol.asyncIterator]: () => b })]);
    expect(restA).toHaveLength(2 * runtime.manifest.framesPerBlock - 1);
    expect(restB).toHaveLength(2 * runtime.manifest.framesPerBlock - 1);
    await closing;
    expect(closed).toBe(true);
    await expect(collect(runtime.generate(request))).rejects.toThrow(/closed/);
  }, 30_000);

  it('refuses invalid limits before any lane starts', async () => {
    await expect(createRuntime({ model: RANDOM_MODEL, maxSessions: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(createRuntime({ model: RANDOM_MODEL, maxSessions: 1.5 })).rejects.toThrow(/maxSessions/);
    await expect(createRuntime({ model: RANDOM_MODEL, maxQueuedSessions: -1 })).rejects.toThrow(/maxQueuedSessions/);
  });

  it('defaults: maxSessions 2 × lanes (memory permitting), maxQueuedSessions 8', async () => {
    const runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL, warmUp: false });
    try {
      expect(runtime.maxSessions).toBe(4);
      expect(runtime.maxQueuedSessions).toBe(8);
    } finally {
      await runtime.close();
    }
  });
});
