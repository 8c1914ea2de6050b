/**
 * Generation snapshots and resume (docs/snapshots.md), on the random model: a run with
 * snapshots every 2 blocks, a scheduled switch before the first snapshot and a live switch
 * during the run, resumed from several of its snapshots on the same runtime and on another
 * one; every frame from the snapshot's first frame on must equal the uninterrupted run's,
 * byte for byte. Also: feature caching, a concurrent session, and the typed refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CorruptSnapshotError,
  createRuntime,
  inspectSnapshot,
  InvalidOptionError,
  SnapshotMismatchError,
  SnapshotUnsupportedError,
  SnapshotVersionError,
  type Frame,
  type GenerateOptions,
  type GenerateRequest,
  type GenerationSnapshot,
  type Runtime,
} from '../src/index.js';
import type { TraceRecord, SnapshotRecord } from '../src/core/trace-records.js';
import { decodeTensorFrame, encodeTensorFrame } from '../src/protocol/codec.js';
import { decodeSnapshot, encodeSnapshot } from '../src/engine/snapshot/snapshot-format.js';
import { RANDOM_MODEL } from './support/models.js';

const BLOCKS = 9;
const LIVE_PROMPT = 'purple square moving down';
const request: GenerateRequest = { seed: 5, blocks: BLOCKS, prompt: 'red ball moving left', switches: [{ atBlock: 2, prompt: 'blue ball moving up' }] };

interface Recorded {
  readonly frames: Frame[];
  /** Each snapshot, whether the live switch had been made, and the sessions running on the runtime then. */
  readonly snapshots: { readonly snapshot: GenerationSnapshot; readonly liveSwitchBefore: boolean; readonly sessions: number }[];
  readonly liveFromBlock: number;
  readonly trace: TraceRecord[];
}

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

/** The uninterrupted run: a session with snapshots every 2 blocks and a live switch once block 1's frames are out. */
async function record(runtime: Runtime, options: GenerateOptions, switchAtFrame = 4): Promise<Recorded> {
  const snapshots: Recorded['snapshots'] = [];
  const trace: TraceRecord[] = [];
  let switched = false;
  const session = runtime.session(request, {
    ...options,
    trace: (r) => trace.push(r),
    snapshots: { every: 2, onSnapshot: (snapshot) => snapshots.push({ snapshot, liveSwitchBefore: switched, sessions: runtime.runningSessions() }) },
  });
  session.on((event) => {
    if (event.type === 'switch') switched = true;
  });
  const frames: Frame[] = [];
  let live: Promise<{ fromBlock: number }> | null = null;
  for await (const frame of session.frames) {
    frames.push(frame);
    if (frame.index === switchAtFrame) live = session.switchPrompt(LIVE_PROMPT);
  }
  const { fromBlock } = await (live as unknown as Promise<{ fromBlock: number }>);
  return { frames, snapshots, liveFromBlock: fromBlock, trace };
}

/** The request a failover client sends: live switches made after the snapshot become scheduled ones. */
function resumedRequest(run: Recorded, at: Recorded['snapshots'][number]): GenerateRequest {
  if (at.liveSwitchBefore || run.liveFromBlock >= BLOCKS) return request;
  return { ...request, switches: [...(request.switches ?? []), { atBlock: run.liveFromBlock, prompt: LIVE_PROMPT }] };
}

/** Resumes `at` on `runtime` and compares every frame; returns the resume's trace. */
async function expectResumesIdentically(runtime: Runtime, run: Recorded, at: Recorded['snapshots'][number], options: GenerateOptions): Promise<TraceRecord[]> {
  const { snapshot } = at;
  const trace: TraceRecord[] = [];
  const frames = await collect(runtime.generate(resumedRequest(run, at), { ...options, resumeFrom: snapshot.bytes, trace: (r) => trace.push(r) }));
  expect(frames[0]?.index).toBe(snapshot.firstFrame);
  expect(frames.map((f) => f.index)).toEqual(run.frames.slice(snapshot.firstFrame).map((f) => f.index));
  const differing = frames.filter((f, i) => !Buffer.from(f.rgb).equals(Buffer.from((run.frames[snapshot.firstFrame + i] as Frame).rgb)));
  expect(differing.map((f) => f.index)).toEqual([]);
  return trace;
}

/** Snapshots to resume: the first, and one taken with blocks in flight past their first stage. */
function chosen(run: Recorded): Recorded['snapshots'] {
  const mid = run.snapshots.find((s, i) => i > 0 && inspectSnapshot(s.snapshot.bytes).inFlight.some((b) => b.stage > 0)) ?? run.snapshots[1];
  return [run.snapshots[0] as Recorded['snapshots'][number], mid as Recorded['snapshots'][number]];
}

describe('generation snapshots', () => {
  let oneLane: [Runtime, Runtime];
  let twoLanes: [Runtime, Runtime];
  beforeAll(async () => {
    const [a, b, c, d] = await Promise.all([
      createRuntime({ lanes: 1, model: RANDOM_MODEL }),
      createRuntime({ lanes: 1, model: RANDOM_MODEL }),
      createRuntime({ lanes: 2, model: RANDOM_MODEL }),
      createRuntime({ lanes: 2, model: RANDOM_MODEL }),
    ]);
    oneLane = [a, b];
    twoLanes = [c, d];
  });
  afterAll(async () => {
    await Promise.all([...(oneLane ?? []), ...(twoLanes ?? [])].map((r) => r.close()));
  });

  const configs = [
    { name: 'P0 joint on 1 lane', runtimes: () => oneLane, cascade: { parallelism: 0, attention: 'causal', exec: 'joint' } },
    { name: 'P4 lanes on 2 lanes', runtimes: () => twoLanes, cascade: { parallelism: 4, attention: 'causal', exec: 'lanes' } },
  ] as const;

  for (const config of configs) {
    it(`${config.name}: resumes from snapshots on the same runtime and on another one, frame for frame`, async () => {
      const [first, second] = config.runtimes();
      const options: GenerateOptions = { cascade: config.cascade };
      const run = await record(first, options);
      expect(run.frames).toHaveLength(BLOCKS * 3);
      expect(run.snapshots.length).toBeGreaterThanOrEqual(3);
      const records = run.trace.filter((r): r is SnapshotRecord => r.kind === 'snapshot');
      expect(records.map((r) => r.bytes)).toEqual(run.snapshots.map((s) => s.snapshot.bytes.length));
      for (const { snapshot } of run.snapshots) {
        expect(snapshot.firstFrame).toBe(snapshot.block * 3);
        expect(snapshot.captureMs).toBeGreaterThanOrEqual(0);
        const summary = inspectSnapshot(snapshot.bytes);
        console.log(`${config.name}: snapshot at block ${snapshot.block} (next ${summary.nextBlock}, in flight ${summary.inFlight.map((b) => `B${b.block}@${b.stage}`).join(' ')}, ${summary.kvFrames} K/V frames): ${snapshot.bytes.length} bytes, ${snapshot.captureMs.toFixed(2)} ms`);
      }
      for (const at of chosen(run)) {
        const trace = await expectResumesIdentically(first, run, at, options);
        await expectResumesIdentically(second, run, at, options);
        // P0 re-caches: the first snapshot falls just before block 2, the scheduled switch's first block.
        if (config.cascade.parallelism === 0 && at === run.snapshots[0]) expect(trace.filter((r) => r.kind === 'recache').map((r) => r.kind === 'recache' && r.beforeBlock)).toContain(2);
      }
      // The comparison can fail: one cached K/V float changed, and the resumed frames differ.
      const at = chosen(run)[1] as Recorded['snapshots'][number];
      const tampered = await collect(second.generate(resumedRequest(run, at), { ...options, resumeFrom: tamper(at.snapshot.bytes) }));
      expect(tampered.some((f, i) => !Buffer.from(f.rgb).equals(Buffer.from((run.frames[at.snapshot.firstFrame + i] as Frame).rgb)))).toBe(true);
    });
  }

  it('feature caching (bwcache, reuse on) resumes identically', async () => {
    const [runtime, other] = twoLanes;
    const options: GenerateOptions = { steps: 8, featureCache: { policy: 'bwcache', threshold: 1.5 }, cascade: { parallelism: 4 } };
    const before = runtime.stats().reusedForwards;
    const run = await record(runtime, options);
    expect(runtime.stats().reusedForwards).toBeGreaterThan(before);
    const mid = run.snapshots.find((s) => inspectSnapshot(s.snapshot.bytes).inFlight.some((b) => b.stage > 1)) as Recorded['snapshots'][number];
    expect(mid).toBeDefined();
    const summary = inspectSnapshot(mid.snapshot.bytes);
    console.log(`P4 bwcache: snapshot at block ${mid.snapshot.block} (in flight ${summary.inFlight.map((b) => `B${b.block}@${b.stage}`).join(' ')}): ${mid.snapshot.bytes.length} bytes, ${mid.snapshot.captureMs.toFixed(2)} ms`);
    const reusedBefore = other.stats().reusedForwards;
    // Every snapshot: those inside a switch's span have ticks split by prompt, with reusing members.
    for (const at of run.snapshots) await expectResumesIdentically(other, run, at, options);
    expect(other.stats().reusedForwards).toBeGreaterThan(reusedBefore);
  });

  it('switchMode in-flight, teacache and fbcache resume identically', async () => {
    const [runtime, other] = twoLanes;
    const inFlight: GenerateOptions = { cascade: { parallelism: 4, attention: 'causal', exec: 'joint', switchMode: 'in-flight' } };
    const a = await record(runtime, inFlight);
    await expectResumesIdentically(other, a, chosen(a)[1] as Recorded['snapshots'][number], inFlight);
    const teacache: GenerateOptions = { steps: 8, featureCache: { policy: 'teacache', threshold: 3, coefficients: [1, 0] }, cascade: { parallelism: 4 } };
    const b = await record(runtime, teacache);
    const reusedBefore = other.stats().reusedForwards;
    for (const at of b.snapshots) await expectResumesIdentically(other, b, at, teacache);
    expect(other.stats().reusedForwards).toBeGreaterThan(reusedBefore);
    // fbcache decides on its lane; across the switches its ticks are split by prompt.
    const fbcache: GenerateOptions = { steps: 8, featureCache: { policy: 'fbcache', threshold: 5 }, cascade: { parallelism: 4 } };
    const c = await record(runtime, fbcache);
    const fbReusedBefore = other.stats().reusedForwards;
    for (const at of c.snapshots) await expectResumesIdentically(other, c, at, fbcache);
    expect(other.stats().reusedForwards).toBeGreaterThan(fbReusedBefore);
  });

  it('snapshots stay consistent while another session runs on the same lanes', async () => {
    const [runtime, other] = twoLanes;
    const options: GenerateOptions = { cascade: { parallelism: 4, attention: 'causal', exec: 'joint' } };
    // Long enough to outlast the recorded run whatever the scheduling; stopped once it is done.
    const stop = new AbortController();
    const busy = collect(runtime.generate({ seed: 77, blocks: 64, prompt: 'green triangle moving right' }, { cascade: { parallelism: 4 }, signal: stop.signal })).catch(() => []);
    const run = await record(runtime, options);
    stop.abort();
    await busy;
    expect(run.snapshots.some((s) => s.sessions === 2)).toBe(true);
    for (const at of chosen(run)) await expectResumesIdentically(other, run, at, options);
  });

  it('refuses corrupt bytes, another version, another seed, steps or model, and bad options, naming the field', async () => {
    const [runtime] = oneLane;
    const options: GenerateOptions = { cascade: { parallelism: 0 } };
    const snapshots: GenerationSnapshot[] = [];
    await collect(runtime.generate({ ...request, blocks: 4 }, { ...options, snapshots: { every: 2, onSnapshot: (s) => snapshots.push(s) } }));
    const bytes = (snapshots[0] as GenerationSnapshot).bytes;
    const resume = (req: GenerateRequest, o: GenerateOptions) => collect(runtime.generate(req, o));
    await expect(resume({ ...request, blocks: 4 }, { ...options, resumeFrom: bytes.subarray(0, bytes.length - 100) })).rejects.toBeInstanceOf(CorruptSnapshotError);
    await expect(resume({ ...request, blocks: 4 }, { ...options, resumeFrom: new Uint8Array([1, 2, 3]) })).rejects.toBeInstanceOf(CorruptSnapshotError);
    const other = encodeTensorFrame({ format: 'block-cascade/snapshot', version: 99 }, {});
    await expect(resume({ ...request, blocks: 4 }, { ...options, resumeFrom: other })).rejects.toBeInstanceOf(SnapshotVersionError);
    await expect(resume({ ...request, blocks: 4, seed: 6 }, { ...options, resumeFrom: bytes })).rejects.toMatchObject({ name: 'SnapshotMismatchError', field: 'seed' });
    await expect(resume({ ...request, blocks: 4 }, { ...options, steps: 8, resumeFrom: bytes })).rejects.toMatchObject({ field: 'steps' });
    await expect(resume({ ...request, blocks: 4 }, { cascade: { parallelism: 4 }, resumeFrom: bytes })).rejects.toMatchObject({ field: 'cascade.parallelism' });
    // Another lane count is allowed (docs/snapshots.md): the same frames to within 1/255.
    const [twoLane] = twoLanes;
    const whole = await collect(runtime.generate({ ...request, blocks: 4 }, options));
    const first = (snapshots[0] as GenerationSnapshot).firstFrame;
    const onTwo = await collect(twoLane.generate({ ...request, blocks: 4 }, { ...options, resumeFrom: bytes }));
    expect(onTwo.map((f) => f.index)).toEqual(whole.slice(first).map((f) => f.index));
    const largest = Math.max(...onTwo.map((f, i) => f.rgb.reduce((m, v, j) => Math.max(m, Math.abs(v - ((whole[first + i] as Frame).rgb[j] as number))), 0)));
    expect(largest).toBeLessThanOrEqual(1);
    await expect(resume({ ...request, blocks: 4 }, { ...options, resumeFrom: rename(bytes) })).rejects.toSatisfy((e) => e instanceof SnapshotMismatchError && e.field === 'model');
    // Version 1 (before incremental snapshots) is still read.
    const fromV1 = await collect(runtime.generate({ ...request, blocks: 4 }, { ...options, resumeFrom: asVersion1(bytes) }));
    expect(fromV1.map((f) => Buffer.from(f.rgb).toString('base64'))).toEqual(whole.slice(first).map((f) => Buffer.from(f.rgb).toString('base64')));
    expect(inspectSnapshot(asVersion1(bytes)).version).toBe(1);
    await expect(resume({ ...request, blocks: 4 }, { ...options, snapshots: { every: 1, onSnapshot: () => {}, incremental: {} as never } })).rejects.toMatchObject({ option: 'snapshots.incremental' });
    await expect(resume({ ...request, blocks: 4 }, { ...options, snapshots: { every: 0, onSnapshot: () => {} } })).rejects.toMatchObject({ option: 'snapshots.every' });
    await expect(resume({ ...request, blocks: 4 }, { ...options, snapshots: { every: 1.5, onSnapshot: () => {} } })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(resume({ ...request, blocks: 4 }, { ...options, snapshots: { every: 2 } as never })).rejects.toMatchObject({ option: 'snapshots.onSnapshot' });
    await expect(resume({ ...request, blocks: 4 }, { ...options, resumeFrom: 'bytes' as never })).rejects.toMatchObject({ option: 'resumeFrom' });
    const stale = collect(twoLane.generate({ ...request, blocks: 4 }, { cascade: { parallelism: 4, exec: 'stale' }, snapshots: { every: 1, onSnapshot: () => {} } }));
    await expect(stale).rejects.toBeInstanceOf(SnapshotUnsupportedError);
    await expect(stale).rejects.toMatchObject({ option: 'cascade.exec' });
  });
});

/** The same snapshot with its first cached key moved by 1. */
function tamper(bytes: Uint8Array): Uint8Array {
  const state = decodeSnapshot(bytes);
  const keys = Float32Array.from(state.keys);
  keys[0] = (keys[0] as number) + 1;
  const width = (data: Float32Array, rows: number) => (rows === 0 ? 0 : data.length / rows);
  return encodeSnapshot({ ...state, keys }, {
    latent: width(state.latents, state.blocks.length),
    kv: width(state.keys, state.frames.length),
    clean: width(state.cleanLatents, state.frames.length),
    feature: width(state.features, state.featureBlocks.length),
  });
}

/** The same snapshot as format version 1 wrote it: no chain, no `heldBy` (every frame held). */
function asVersion1(bytes: Uint8Array): Uint8Array {
  const { meta, tensors } = decodeTensorFrame(bytes);
  const { chain: _chain, seq: _seq, frames, ...rest } = meta as Record<string, unknown> & { frames: { position: number; block: number }[] };
  return encodeTensorFrame({ ...rest, version: 1, frames: frames.map(({ position, block }) => ({ position, block })) }, tensors);
}

/** The same snapshot, claiming another model. */
function rename(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes);
  const name = inspectSnapshot(bytes).model;
  const at = text.indexOf(name);
  expect(at).toBeGreaterThan(0);
  const copy = Uint8Array.from(bytes);
  copy.set(Buffer.from(`${name.slice(0, -1)}_`), at);
  return copy;
}

describe('snapshot format', () => {
  const state = {
    model: 'm',
    chain: 'c1',
    seq: 0,
    fingerprint: { seed: 1, blocks: 4, steps: 4, parallelism: 4, lag: 1, attention: 'causal', exec: 'joint', recache: 'off', switchMode: 'at-block', cascadeWindow: 'extended', featureCache: '{"policy":"none"}', framesPerBlock: 1, lanes: 1 },
    block: 1,
    nextBlock: 2,
    cachedBlocks: 1,
    prompts: ['red ball moving left'],
    timeline: [{ fromBlock: 0, prompt: 0 }],
    cachedUnder: 0,
    blocks: [{ block: 1, stage: 2, prompt: 0 }],
    replay: [],
    frames: [{ position: 0, block: 0, heldBy: 0 }],
    evictions: 0,
    policy: [],
    featureBlocks: [],
    latents: Float32Array.of(1, 2),
    keys: Float32Array.of(3, 4, 5),
    values: Float32Array.of(6, 7, 8),
    cleanLatents: Float32Array.of(9),
    features: new Float32Array(0),
    replayLatents: new Float32Array(0),
  };
  const rows = { latent: 2, kv: 3, clean: 1, feature: 0 };

  it('round-trips a state, tensors included', () => {
    const decoded = decodeSnapshot(encodeSnapshot(state, rows));
    expect({ ...decoded, latents: [...decoded.latents], keys: [...decoded.keys], values: [...decoded.values], cleanLatents: [...decoded.cleanLatents], features: [...decoded.features], replayLatents: [...decoded.replayLatents] }).toEqual({
      ...state,
      latents: [1, 2],
      keys: [3, 4, 5],
      values: [6, 7, 8],
      cleanLatents: [9],
      features: [],
      replayLatents: [],
    });
  });

  it('round-trips blocks to replay at parallelism 0, and refuses them at another parallelism or out of order', () => {
    const sequential = { ...state, fingerprint: { ...state.fingerprint, parallelism: 0, lag: 5 }, nextBlock: 3, blocks: [{ block: 2, stage: 0, prompt: 0 }], replay: [{ block: 1, prompt: 0 }], replayLatents: Float32Array.of(10, 11) };
    const decoded = decodeSnapshot(encodeSnapshot(sequential, rows));
    expect(decoded.replay).toEqual([{ block: 1, prompt: 0 }]);
    expect([...decoded.replayLatents]).toEqual([10, 11]);
    const bad = (patch: object) => () => decodeSnapshot(encodeSnapshot({ ...sequential, ...patch }, rows));
    expect(bad({ fingerprint: state.fingerprint })).toThrow(/snapshot: replay.*parallelism 4/);
    expect(bad({ replay: [{ block: 1, prompt: 0 }, { block: 0, prompt: 0 }], replayLatents: new Float32Array(4) })).toThrow(/snapshot: replay\[1\]\.block: expected blocks in increasing order/);
    expect(bad({ replay: [{ block: 2, prompt: 0 }] })).toThrow(/snapshot: replay\[0\]\.block: block 2 is also restored/);
    expect(bad({ replay: [{ block: 1, prompt: 3 }] })).toThrow(/snapshot: replay\[0\]\.prompt/);
  });

  it('names the field that is out of range', () => {
    const bad = (patch: object) => () => decodeSnapshot(encodeSnapshot({ ...state, ...patch }, rows));
    expect(bad({ blocks: [{ block: 1, stage: 6, prompt: 0 }] })).toThrow(/snapshot: blocks\[0\]\.stage/);
    expect(bad({ blocks: [{ block: 2, stage: 0, prompt: 0 }] })).toThrow(/snapshot: blocks\[0\]\.block/);
    expect(bad({ timeline: [{ fromBlock: 0, prompt: 1 }] })).toThrow(/snapshot: timeline\[0\]\.prompt/);
    expect(bad({ frames: [{ position: 0, block: 0, heldBy: 0 }, { position: 0, block: 0, heldBy: 0 }], keys: new Float32Array(6), values: new Float32Array(6), cleanLatents: new Float32Array(2) })).toThrow(CorruptSnapshotError);
    expect(bad({ fingerprint: { ...state.fingerprint, seed: -1 } })).toThrow(/snapshot: fingerprint\.seed/);
  });
});
