/**
 * The bytes of a generation snapshot (docs/snapshots.md): one tensor frame of the project's
 * codec (`protocol/codec.ts`), whose msgpack header holds the small state (positions, stages,
 * prompt texts, the request's fingerprint) and whose tensors hold the floats copied out of the
 * slabs. Decoding checks every field, so a resume trusts nothing it has not looked at.
 *
 * Tensors (float32, rows in the order of the header's lists):
 * - `latents` `[blocks, framesPerBlock · C · H · W]`: each restored block's latents;
 * - `keys`, `values` `[frames held, layers · heads · tokensPerFrame · headDim]`: the K/V of each
 *   committed frame this snapshot holds (an incremental snapshot refers to an earlier one of its
 *   chain for frames whose rows that one holds: `frames[i].heldBy`);
 * - `cleanLatents` `[frames held, C · H · W]`: those frames' clean latents (re-cache);
 * - `features` `[featureBlocks, featureSlotFloats]`: feature caching's store slot of each block in flight;
 * - `replayLatents` `[replay, framesPerBlock · C · H · W]`: the final latents of each block whose
 *   cache step a resume runs again (version 3; a sequential generation's snapshot between two
 *   K/V keyframes).
 */
import { allocateTensorFrame, decodeTensorFrame, TensorShapeError, type Tensor } from '../../protocol/codec.js';
import { CorruptSnapshotError, SnapshotVersionError } from '../../core/errors.js';
import type { FeatureBlockState } from '../../core/feature-cache.js';
import { describeValue } from '../../core/describe-value.js';

/** What the header's `format` field says of every snapshot. */
export const SNAPSHOT_FORMAT = 'block-cascade/snapshot';
/**
 * The snapshot format version this runtime writes and reads (another one is refused with
 * `SnapshotVersionError`).
 *
 * @example
 * ```ts
 * if (inspectSnapshot(bytes).version !== SNAPSHOT_VERSION) console.warn('written by another runtime');
 * ```
 */
export const SNAPSHOT_VERSION = 3;

/**
 * The request and settings a snapshot belongs to: a resume must match every field but `lanes`
 * (another lane count makes the same frames to within float rounding, docs/snapshots.md).
 */
export interface SnapshotFingerprint {
  readonly seed: number;
  readonly blocks: number;
  readonly steps: number;
  readonly parallelism: number;
  readonly lag: number;
  readonly attention: string;
  readonly exec: string;
  readonly recache: string;
  readonly switchMode: string;
  readonly cascadeWindow: string;
  /** The resolved feature-cache settings as JSON (compared as text). */
  readonly featureCache: string;
  readonly framesPerBlock: number;
  readonly lanes: number;
}

/** A block the resume takes up: at `stage` (0 … steps), or done (steps + 1) and waiting for its decode. */
export interface SnapshotBlock {
  readonly block: number;
  readonly stage: number;
  /** Index into `prompts`: the prompt the block was admitted under. */
  readonly prompt: number;
}

/**
 * A block whose cache step a resume runs again, from its final latents, before anything else:
 * at parallelism 0 that writes the same K/V as the run the snapshot was taken of, so a snapshot
 * between two K/V keyframes holds a block's latents instead of its frames' K/V.
 */
export interface SnapshotReplay {
  readonly block: number;
  /** Index into `prompts`: the prompt the block was made under. */
  readonly prompt: number;
}

/** One entry of the prompt timeline: `prompts[prompt]` applies from `fromBlock` on. */
export interface SnapshotSegment {
  readonly fromBlock: number;
  readonly prompt: number;
}

/** A committed frame of the KV pool. */
export interface SnapshotFrame {
  readonly position: number;
  readonly block: number;
  /**
   * `seq` of the snapshot of this chain that holds the frame's rows: this snapshot's own, or an
   * earlier one's (an incremental snapshot, docs/snapshots.md).
   */
  readonly heldBy: number;
}

/** Everything a snapshot holds, decoded. */
export interface SnapshotState {
  readonly model: string;
  /** The generation that took it (random per generation; '' in version 1): `heldBy` refers within a chain. */
  readonly chain: string;
  /** Its number in the chain, from 0. */
  readonly seq: number;
  readonly fingerprint: SnapshotFingerprint;
  /** First block the resume produces (every earlier one had been decoded). */
  readonly block: number;
  /** The next block to admit. */
  readonly nextBlock: number;
  /** Blocks whose cache step had ended (when the next snapshot falls due). */
  readonly cachedBlocks: number;
  /** Prompt texts (contexts are encoded again from them). */
  readonly prompts: readonly string[];
  readonly timeline: readonly SnapshotSegment[];
  /** Index into `prompts` of the prompt the committed K/V were made under; null before any. */
  readonly cachedUnder: number | null;
  readonly blocks: readonly SnapshotBlock[];
  /**
   * Blocks whose cache steps the resume runs again, oldest first, one at a time, before the
   * blocks of `blocks` take up their stages; `frames` and `evictions` are the KV pool's before them.
   */
  readonly replay: readonly SnapshotReplay[];
  readonly frames: readonly SnapshotFrame[];
  readonly evictions: number;
  /** Feature caching: the policy's per-block state. */
  readonly policy: readonly FeatureBlockState[];
  /** Feature caching: the blocks whose store slot is in `features`, in row order. */
  readonly featureBlocks: readonly number[];
  readonly latents: Float32Array;
  readonly keys: Float32Array;
  readonly values: Float32Array;
  readonly cleanLatents: Float32Array;
  readonly features: Float32Array;
  readonly replayLatents: Float32Array;
}

/** Floats per row of each tensor (they come from the model; a resume checks them against its own). */
export interface SnapshotRows {
  readonly latent: number;
  readonly kv: number;
  readonly clean: number;
  readonly feature: number;
}

/**
 * Encodes a snapshot; `rows` gives each tensor's row width (so empty tensors keep their shape).
 *
 * @example
 * ```ts
 * const bytes = encodeSnapshot(state, { latent: 3 * 256, kv: 2048, clean: 256, feature: 0 });
 * ```
 */
export function encodeSnapshot(state: SnapshotState, rows: SnapshotRows): Uint8Array {
  const { latents, keys, values, cleanLatents, features, replayLatents, ...header } = state;
  const out = allocateSnapshot(header, rows);
  for (const [name, data] of Object.entries({ latents, keys, values, cleanLatents, features, replayLatents }) as [SnapshotTensorName, Float32Array][]) {
    const into = out[name];
    if (data.length !== into.length) throw new TensorShapeError(name, `the snapshot's lists call for ${into.length} values, data has ${data.length}`);
    into.set(data);
  }
  return out.bytes;
}

/**
 * A snapshot's bytes laid out for `header`, its tensors left for the caller to fill through the
 * returned views (zeros until then): a capture copies rows out of the slabs once, straight into
 * the snapshot, instead of into arrays that encoding copies again.
 *
 * @example
 * ```ts
 * const out = allocateSnapshot(header, { latent: 3 * 256, kv: 2048, clean: 256, feature: 0 });
 * out.keys.set(rowsOfFrame0, 0);
 * send(out.bytes);
 * ```
 */
export function allocateSnapshot(header: Omit<SnapshotState, SnapshotTensorName>, rows: SnapshotRows): { readonly bytes: Uint8Array } & Record<SnapshotTensorName, Float32Array> {
  const held = heldRows(header);
  const layout = (name: SnapshotTensorName, count: number, width: number) => ({ name, dtype: 'float32' as const, shape: [count, width] });
  const { frame, views } = allocateTensorFrame({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, ...header }, [
    layout('latents', header.blocks.length, rows.latent),
    layout('keys', held, rows.kv),
    layout('values', held, rows.kv),
    layout('cleanLatents', held, rows.clean),
    layout('features', header.featureBlocks.length, rows.feature),
    layout('replayLatents', header.replay.length, rows.latent),
  ]);
  const f32 = (name: SnapshotTensorName) => views[name] as Float32Array;
  return {
    bytes: frame,
    latents: f32('latents'),
    keys: f32('keys'),
    values: f32('values'),
    cleanLatents: f32('cleanLatents'),
    features: f32('features'),
    replayLatents: f32('replayLatents'),
  };
}

/** The snapshot's tensors, in the order a frame holds them. */
type SnapshotTensorName = 'latents' | 'keys' | 'values' | 'cleanLatents' | 'features' | 'replayLatents';

/** Frames whose rows the snapshot itself holds (the rows of `keys`, `values` and `cleanLatents`). */
export function heldRows(state: Pick<SnapshotState, 'frames' | 'seq'>): number {
  return state.frames.reduce((n, f) => (f.heldBy === state.seq ? n + 1 : n), 0);
}

/**
 * The earlier snapshots of its chain whose rows a snapshot refers to, oldest first; empty for a
 * snapshot that holds every frame's rows (which a resume can read alone).
 *
 * @example
 * ```ts
 * const missing = requiredSnapshots(decodeSnapshot(bytes)); // [0, 3]: merge with seq 0 and 3 of its chain
 * ```
 */
export function requiredSnapshots(state: Pick<SnapshotState, 'frames' | 'seq'>): number[] {
  return [...new Set(state.frames.map((f) => f.heldBy).filter((s) => s !== state.seq))].sort((a, b) => a - b);
}

/** Reads checked fields of an untrusted header, naming the path of the first bad one. */
class Reader {
  constructor(private readonly root: Record<string, unknown>) {}

  private fail(path: string, problem: string, value: unknown): never {
    throw new CorruptSnapshotError(`snapshot: ${path}`, `${problem}, got ${describeValue(value)}`);
  }

  count(path: string, v: unknown = this.root[path]): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(path, 'expected a count', v);
    return v;
  }

  string(path: string, v: unknown = this.root[path]): string {
    if (typeof v !== 'string') this.fail(path, 'expected a string', v);
    return v;
  }

  numberOrNull(path: string, v: unknown): number | null {
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, 'expected a number or null', v);
    return v;
  }

  object(path: string, v: unknown = this.root[path]): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'expected an object', v);
    return v as Record<string, unknown>;
  }

  array(path: string, v: unknown = this.root[path]): readonly unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'expected a list', v);
    return v;
  }

  below(path: string, v: number, limit: number, what: string): number {
    if (v >= limit) this.fail(path, `expected ${what} below ${limit}`, v);
    return v;
  }
}

/** The header fields of a snapshot, checked; tensors not read. */
type SnapshotHeader = Omit<SnapshotState, SnapshotTensorName>;

function readHeader(meta: Record<string, unknown>): SnapshotHeader {
  if (meta['format'] !== SNAPSHOT_FORMAT) throw new CorruptSnapshotError('snapshot: format', `expected "${SNAPSHOT_FORMAT}", got ${describeValue(meta['format'])}`);
  const version = meta['version'];
  if (version !== 1 && version !== 2 && version !== SNAPSHOT_VERSION) throw new SnapshotVersionError(version, SNAPSHOT_VERSION);
  const r = new Reader(meta);
  // Version 1 had no chains: every snapshot held all its frames' rows.
  const chain = version === 1 ? '' : r.string('chain');
  if (version !== 1 && chain === '') throw new CorruptSnapshotError('snapshot: chain', 'expected the id of the generation that took it, got ""');
  const seq = version === 1 ? 0 : r.count('seq');
  const f = r.object('fingerprint');
  const fingerprint: SnapshotFingerprint = {
    seed: r.count('fingerprint.seed', f['seed']),
    blocks: r.count('fingerprint.blocks', f['blocks']),
    steps: r.count('fingerprint.steps', f['steps']),
    parallelism: r.count('fingerprint.parallelism', f['parallelism']),
    lag: r.count('fingerprint.lag', f['lag']),
    attention: r.string('fingerprint.attention', f['attention']),
    exec: r.string('fingerprint.exec', f['exec']),
    recache: r.string('fingerprint.recache', f['recache']),
    switchMode: r.string('fingerprint.switchMode', f['switchMode']),
    // Snapshots written before the option existed ran the only window there was.
    cascadeWindow: f['cascadeWindow'] === undefined ? 'extended' : r.string('fingerprint.cascadeWindow', f['cascadeWindow']),
    featureCache: r.string('fingerprint.featureCache', f['featureCache']),
    framesPerBlock: r.count('fingerprint.framesPerBlock', f['framesPerBlock']),
    lanes: r.count('fingerprint.lanes', f['lanes']),
  };
  const prompts = r.array('prompts').map((p, i) => r.string(`prompts[${i}]`, p));
  const promptIndex = (path: string, v: unknown) => r.below(path, r.count(path, v), prompts.length, 'a prompt index');
  const nextBlock = r.below('nextBlock', r.count('nextBlock'), fingerprint.blocks + 1, 'a block');
  const blocks = r.array('blocks').map((b, i) => {
    const o = r.object(`blocks[${i}]`, b);
    return {
      block: r.below(`blocks[${i}].block`, r.count(`blocks[${i}].block`, o['block']), nextBlock, 'a block admitted'),
      stage: r.below(`blocks[${i}].stage`, r.count(`blocks[${i}].stage`, o['stage']), fingerprint.steps + 2, 'a stage'),
      prompt: promptIndex(`blocks[${i}].prompt`, o['prompt']),
    };
  });
  if (new Set(blocks.map((b) => b.block)).size !== blocks.length) throw new CorruptSnapshotError('snapshot: blocks', 'a block is listed twice');
  // Versions 1 and 2 replayed nothing.
  const replay = version !== SNAPSHOT_VERSION ? [] : r.array('replay').map((b, i) => {
    const o = r.object(`replay[${i}]`, b);
    return { block: r.below(`replay[${i}].block`, r.count(`replay[${i}].block`, o['block']), nextBlock, 'a block admitted'), prompt: promptIndex(`replay[${i}].prompt`, o['prompt']) };
  });
  replay.forEach((b, i) => {
    if (i > 0 && b.block <= (replay[i - 1] as SnapshotReplay).block) throw new CorruptSnapshotError(`snapshot: replay[${i}].block`, `expected blocks in increasing order, got ${b.block} after ${(replay[i - 1] as SnapshotReplay).block}`);
    if (blocks.some((x) => x.block === b.block)) throw new CorruptSnapshotError(`snapshot: replay[${i}].block`, `block ${b.block} is also restored at a stage`);
  });
  // Only a sequential generation's cache steps write what they wrote in the run, run again alone.
  if (replay.length > 0 && fingerprint.parallelism !== 0) throw new CorruptSnapshotError('snapshot: replay', `cache steps to run again in a generation at parallelism ${fingerprint.parallelism} (only parallelism 0 replays)`);
  const timeline = r.array('timeline').map((s, i) => {
    const o = r.object(`timeline[${i}]`, s);
    return { fromBlock: r.count(`timeline[${i}].fromBlock`, o['fromBlock']), prompt: promptIndex(`timeline[${i}].prompt`, o['prompt']) };
  });
  if (timeline.length === 0 || (timeline[0] as SnapshotSegment).fromBlock !== 0) throw new CorruptSnapshotError('snapshot: timeline', 'expected a first segment at block 0');
  const frames = r.array('frames').map((s, i) => {
    const o = r.object(`frames[${i}]`, s);
    return {
      position: r.count(`frames[${i}].position`, o['position']),
      block: r.below(`frames[${i}].block`, r.count(`frames[${i}].block`, o['block']), nextBlock, 'a block admitted'),
      heldBy: version === 1 ? seq : r.below(`frames[${i}].heldBy`, r.count(`frames[${i}].heldBy`, o['heldBy']), seq + 1, 'a snapshot of the chain up to this one'),
    };
  });
  if (new Set(frames.map((f) => f.position)).size !== frames.length) throw new CorruptSnapshotError('snapshot: frames', 'a frame position is listed twice');
  const cachedUnder = meta['cachedUnder'] === null ? null : promptIndex('cachedUnder', meta['cachedUnder']);
  const policy = r.array('policy').map((s, i) => {
    const o = r.object(`policy[${i}]`, s);
    return { block: r.count(`policy[${i}].block`, o['block']), values: r.array(`policy[${i}].values`, o['values']).map((v, j) => r.numberOrNull(`policy[${i}].values[${j}]`, v)) };
  });
  const featureBlocks = r.array('featureBlocks').map((b, i) => r.count(`featureBlocks[${i}]`, b));
  return {
    model: r.string('model'),
    chain,
    seq,
    fingerprint,
    block: r.below('block', r.count('block'), nextBlock + 1, 'a block up to nextBlock'),
    nextBlock,
    cachedBlocks: r.count('cachedBlocks'),
    prompts,
    timeline,
    cachedUnder,
    blocks,
    replay,
    frames,
    evictions: r.count('evictions'),
    policy,
    featureBlocks,
  };
}

/** A float32 tensor of `rows` rows, or a CorruptSnapshotError naming it. */
function rowsOf(tensors: Record<string, Tensor>, name: string, rows: number): Float32Array {
  const t = tensors[name];
  if (!t) throw new CorruptSnapshotError(`snapshot: tensors.${name}`, 'missing');
  if (t.dtype !== 'float32' || t.shape.length !== 2 || t.shape[0] !== rows) {
    throw new CorruptSnapshotError(`snapshot: tensors.${name}`, `expected float32 [${rows}, n], got ${t.dtype} [${t.shape.join(', ')}]`);
  }
  return t.data as Float32Array;
}

/**
 * Decodes and checks snapshot bytes. The tensors view `bytes` (no copy).
 *
 * @throws {CorruptSnapshotError} for bytes that are not a whole snapshot, naming the bad field.
 * @throws {SnapshotVersionError} for a snapshot of another format version.
 *
 * @example
 * ```ts
 * const state = decodeSnapshot(bytes);
 * console.log(state.block, state.blocks.map((b) => `${b.block}@${b.stage}`));
 * ```
 */
export function decodeSnapshot(bytes: Uint8Array): SnapshotState {
  return decodeVersioned(bytes).state;
}

/** {@link decodeSnapshot}, with the format version the bytes were written in. */
function decodeVersioned(bytes: Uint8Array): { readonly state: SnapshotState; readonly version: number } {
  const { meta, tensors } = decodeFrame(bytes);
  const header = readHeader(meta);
  const state = {
    ...header,
    latents: rowsOf(tensors, 'latents', header.blocks.length),
    keys: rowsOf(tensors, 'keys', heldRows(header)),
    values: rowsOf(tensors, 'values', heldRows(header)),
    cleanLatents: rowsOf(tensors, 'cleanLatents', heldRows(header)),
    features: rowsOf(tensors, 'features', header.featureBlocks.length),
    replayLatents: header.replay.length === 0 && tensors['replayLatents'] === undefined ? new Float32Array(0) : rowsOf(tensors, 'replayLatents', header.replay.length),
  };
  return { state, version: meta['version'] as number };
}

function decodeFrame(bytes: Uint8Array): ReturnType<typeof decodeTensorFrame> {
  try {
    return decodeTensorFrame(bytes);
  } catch (cause) {
    throw new CorruptSnapshotError(`snapshot of ${bytes.length} bytes`, `not a snapshot (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
}

/** What {@link inspectSnapshot} tells of a snapshot without resuming it. */
export interface SnapshotSummary {
  readonly version: number;
  readonly model: string;
  /** Its number in its generation's chain of snapshots. */
  readonly seq: number;
  /** Earlier snapshots of the chain it refers to for K/V rows (`mergeSnapshots`); empty when it stands alone. */
  readonly requires: readonly number[];
  /** First block a resume produces, and its first frame. */
  readonly block: number;
  readonly firstFrame: number;
  readonly nextBlock: number;
  readonly seed: number;
  readonly blocks: number;
  readonly steps: number;
  readonly parallelism: number;
  readonly exec: string;
  readonly lanes: number;
  /** Blocks restored in flight (or waiting for their decode), with their stage. */
  readonly inFlight: readonly { readonly block: number; readonly stage: number }[];
  /** Blocks whose cache steps the resume runs again before them (a snapshot between two K/V keyframes). */
  readonly replayed: readonly number[];
  /** Committed K/V frames it restores. */
  readonly kvFrames: number;
  /** Of those, the frames whose rows it holds itself (the others' are in `requires`). */
  readonly heldFrames: number;
  readonly prompts: readonly string[];
  readonly bytes: number;
}

/**
 * Reads a snapshot's header: where it stands and what it was taken of. Checks the bytes as a
 * resume would (same errors).
 *
 * @throws {CorruptSnapshotError} for bytes that are not a whole snapshot.
 * @throws {SnapshotVersionError} for a snapshot of another format version.
 *
 * @example
 * ```ts
 * import { inspectSnapshot } from 'block-cascade';
 * const { model, block, firstFrame, seed } = inspectSnapshot(bytes);
 * console.log(`${model}: resumes at frame ${firstFrame} (block ${block}) of seed ${seed}`);
 * ```
 */
export function inspectSnapshot(bytes: Uint8Array): SnapshotSummary {
  const { state: s, version } = decodeVersioned(bytes);
  return {
    version,
    model: s.model,
    seq: s.seq,
    requires: requiredSnapshots(s),
    block: s.block,
    firstFrame: s.block * s.fingerprint.framesPerBlock,
    nextBlock: s.nextBlock,
    seed: s.fingerprint.seed,
    blocks: s.fingerprint.blocks,
    steps: s.fingerprint.steps,
    parallelism: s.fingerprint.parallelism,
    exec: s.fingerprint.exec,
    lanes: s.fingerprint.lanes,
    inFlight: s.blocks.map((b) => ({ block: b.block, stage: b.stage })),
    replayed: s.replay.map((b) => b.block),
    kvFrames: s.frames.length,
    heldFrames: heldRows(s),
    prompts: s.prompts,
    bytes: bytes.length,
  };
}
