/**
 * The cluster's messages: what each subject carries, how it is encoded (the project's msgpack
 * codec, src/protocol/codec.ts) and how decoded input is checked. A peer is another process,
 * maybe another machine or version: nothing decoded is trusted until checked here, and a bad
 * message is a {@link ClusterMessageError} naming the subject and field, never a crash.
 */
import type { Frame, GenerateRequest, PromptSwitch } from '../core/api-types.js';
import { SESSION_PRIORITIES, type SessionEvent, type SessionPriority } from '../core/session-types.js';
import { decodeMessage, decodeTensorFrame, encodeMessage, encodeTensorFrame } from '../protocol/codec.js';
import { ClusterMessageError } from './errors.js';

/** Options of a session that travel to the worker (the rest, signal and callbacks, stay with the client). */
export interface WireSessionOptions {
  readonly cascade?: Readonly<Record<string, unknown>>;
  readonly steps?: number;
  readonly featureCache?: Readonly<Record<string, unknown>>;
  readonly allowUnknownWords?: boolean;
  readonly maxBufferedBlocks?: number;
  readonly priority?: SessionPriority;
}

/** Where a replayed session picks up: switches that landed (as scheduled ones) and frames the client has. */
export interface ResumePoint {
  readonly switches: readonly PromptSwitch[];
  readonly skipFrames: number;
  /** The snapshot (object name in the snapshot store) to resume from; without one the session replays from block 0. */
  readonly snapshot?: string;
  /** The earlier snapshots it refers to for K/V rows (object names), merged in before the resume. */
  readonly parts?: readonly string[];
}

/**
 * Snapshot the session every `every` blocks into the snapshot store, under names made from
 * `key`; with `keyframeEvery`, K/V only in keyframes that many blocks apart (`SnapshotOptions.keyframeEvery`).
 */
export interface SnapshotPlan {
  /** Blocks between snapshots; absent, the worker's default for the session (`snapshotEveryFor`). */
  readonly every?: number;
  readonly key: string;
  readonly keyframeEvery?: number;
}

/** `bc.worker.<id>.open`: run this session (request/reply, answered by {@link OpenReply}). */
export interface OpenRequest {
  readonly sessionId: string;
  readonly request: GenerateRequest;
  readonly options: WireSessionOptions;
  readonly resume?: ResumePoint;
  readonly snapshots?: SnapshotPlan;
  /** Frames with index below this may be published before the first credit message. */
  readonly credit: number;
  /** Start paused (the user had paused before a failover). */
  readonly paused: boolean;
}

export type OpenReply =
  /** `snapshot`: the session resumed from the snapshot the request named (false: it replays from block 0). */
  | { readonly ok: true; readonly worker: string; readonly snapshot?: boolean }
  | { readonly ok: false; readonly worker: string; readonly reason: 'full' | 'closing' | 'invalid'; readonly message: string };

/** `bc.session.<id>.control`: request/reply, answered by {@link ControlReply}. */
export type ControlRequest =
  | { readonly type: 'switch'; readonly prompt: string }
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'stop' }
  | { readonly type: 'priority'; readonly level: SessionPriority }
  /** The client is gone or wants no more frames: stop and publish nothing more. */
  | { readonly type: 'close' }
  /**
   * The client may receive frames with index below `upTo` (absolute, so a lost or repeated one
   * does no harm); it has `received` frames, so snapshots before the newest one at or below
   * that are of no more use to it.
   */
  | { readonly type: 'credit'; readonly upTo: number; readonly received?: number };

export type ControlReply = { readonly ok: true; readonly fromBlock?: number } | { readonly ok: false; readonly message: string };

/** A snapshot a worker stored: where it resumes, its object name, and what it cost. */
export interface SnapshotNotice {
  readonly type: 'snapshot';
  /** First block (and frame) a resume from it produces. */
  readonly block: number;
  readonly firstFrame: number;
  readonly name: string;
  /** The earlier snapshots it refers to for K/V rows (object names): a resume fetches and merges them too. */
  readonly parts: readonly string[];
  /** Its own bytes (what storing it cost). */
  readonly bytes: number;
  /** Blocks whose cache steps a resume from it runs again (0: a K/V keyframe; absent from older workers). */
  readonly replays?: number;
  /** Actor-thread time to capture it, and time to store it (off the generation's path). */
  readonly captureMs: number;
  readonly storeMs: number;
}

/** `bc.session.<id>.event`: the session's events and stored snapshots, then `done` (with the frame count) or `failed`. */
export type SessionMessage =
  | { readonly type: 'event'; readonly event: SessionEvent }
  | SnapshotNotice
  | { readonly type: 'done'; readonly frames: number }
  | { readonly type: 'failed'; readonly name: string; readonly code?: string; readonly message: string };

/** `bc.worker.<id>.alive`, every ~250 ms: the worker lives, and how far each of its sessions got. */
export interface Heartbeat {
  readonly worker: string;
  /** Per session: the index of the next frame it will publish, and whether it has ended. */
  readonly sessions: readonly { readonly id: string; readonly next: number; readonly done: boolean }[];
}

/** A worker's entry in the KV bucket (key: its id), refreshed every ~1 s. */
export interface WorkerInfo {
  readonly id: string;
  readonly lanes: number;
  readonly maxSessions: number;
  readonly active: number;
  readonly healthy: boolean;
  readonly host: string;
  /** Worker's clock (ms since the epoch) at the refresh; informative only, the KV entry's time decides. */
  readonly updatedAt: number;
}

// ---------------------------------------------------------------------------------------------
// Checking

type Obj = Readonly<Record<string, unknown>>;

/** Reads fields of a decoded value, each check naming the subject and field path on failure. */
class Reader {
  constructor(
    readonly subject: string,
    readonly path = '',
  ) {}
  #name(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }
  fail(key: string, expected: string): never {
    throw new ClusterMessageError(this.subject, this.#name(key), expected);
  }
  obj(value: unknown, key: string): Obj {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(key, 'an object');
    return value as Obj;
  }
  at(key: string): Reader {
    return new Reader(this.subject, this.#name(key));
  }
  int(o: Obj, key: string, min = 0): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(key, `an integer ≥ ${min}`);
    return v;
  }
  str(o: Obj, key: string): string {
    const v = o[key];
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }
  bool(o: Obj, key: string): boolean {
    const v = o[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }
  oneOf<T extends string>(o: Obj, key: string, values: readonly T[]): T {
    const v = o[key];
    if (typeof v !== 'string' || !values.includes(v as T)) this.fail(key, values.map((s) => `"${s}"`).join(' or '));
    return v as T;
  }
  optional<T>(o: Obj, key: string, read: (o: Obj, key: string) => T): T | undefined {
    return o[key] === undefined || o[key] === null ? undefined : read(o, key);
  }
  list(o: Obj, key: string): readonly unknown[] {
    const v = o[key];
    if (!Array.isArray(v)) this.fail(key, 'a list');
    return v;
  }
}

/** Decodes msgpack bytes into an object, or a {@link ClusterMessageError} for the whole message. */
function decodeObject(bytes: Uint8Array, subject: string): Obj {
  let value: unknown;
  try {
    value = decodeMessage(bytes);
  } catch (cause) {
    throw new ClusterMessageError(subject, 'message', `msgpack (${(cause as Error).message})`, { cause });
  }
  return new Reader(subject).obj(value, 'message');
}

function readNames(r: Reader, o: Obj, key: string): string[] {
  return r.list(o, key).map((item, i) => (typeof item === 'string' ? item : r.fail(`${key}[${i}]`, 'a string')));
}

function readSwitches(r: Reader, o: Obj, key: string): PromptSwitch[] {
  return r.list(o, key).map((item, i) => {
    const s = r.at(`${key}[${i}]`);
    const entry = s.obj(item, '');
    return { atBlock: s.int(entry, 'atBlock'), prompt: s.str(entry, 'prompt') };
  });
}

function readRequest(r: Reader, value: unknown): GenerateRequest {
  const o = r.obj(value, 'request');
  const q = r.at('request');
  const switches = q.optional(o, 'switches', (x, k) => readSwitches(q, x, k));
  return { seed: q.int(o, 'seed'), blocks: q.int(o, 'blocks', 1), prompt: q.str(o, 'prompt'), ...(switches ? { switches } : {}) };
}

function readOptions(r: Reader, value: unknown): WireSessionOptions {
  const o = r.obj(value, 'options');
  const q = r.at('options');
  const out: Record<string, unknown> = {};
  const cascade = q.optional(o, 'cascade', (x, k) => q.obj(x[k], k));
  if (cascade) out.cascade = cascade;
  const featureCache = q.optional(o, 'featureCache', (x, k) => q.obj(x[k], k));
  if (featureCache) out.featureCache = featureCache;
  const steps = q.optional(o, 'steps', (x, k) => q.int(x, k, 1));
  if (steps !== undefined) out.steps = steps;
  const allow = q.optional(o, 'allowUnknownWords', (x, k) => q.bool(x, k));
  if (allow !== undefined) out.allowUnknownWords = allow;
  const maxBuffered = q.optional(o, 'maxBufferedBlocks', (x, k) => q.int(x, k, 1));
  if (maxBuffered !== undefined) out.maxBufferedBlocks = maxBuffered;
  const priority = q.optional(o, 'priority', (x, k) => q.oneOf(x, k, SESSION_PRIORITIES));
  if (priority !== undefined) out.priority = priority;
  return out as WireSessionOptions;
}

// ---------------------------------------------------------------------------------------------
// Encoding and decoding, one pair per message

/**
 * Encodes any cluster message (open, replies, control, events, heartbeats, worker entries).
 *
 * @example
 * ```ts
 * nc.publish(subjects.control, encodeClusterMessage({ type: 'credit', upTo: 48 }));
 * ```
 */
export function encodeClusterMessage(message: OpenRequest | OpenReply | ControlRequest | ControlReply | SessionMessage | Heartbeat | WorkerInfo): Uint8Array {
  return encodeMessage(message);
}

/**
 * Decodes and checks an open request.
 *
 * @example
 * ```ts
 * const open = decodeOpenRequest(msg.data, msg.subject);
 * ```
 */
export function decodeOpenRequest(bytes: Uint8Array, subject: string): OpenRequest {
  const o = decodeObject(bytes, subject);
  const r = new Reader(subject);
  const resumeValue = o.resume;
  let resume: ResumePoint | undefined;
  if (resumeValue !== undefined && resumeValue !== null) {
    const ro = r.obj(resumeValue, 'resume');
    const q = r.at('resume');
    const snapshot = q.optional(ro, 'snapshot', (x, k) => q.str(x, k));
    const parts = q.optional(ro, 'parts', (x, k) => readNames(q, x, k));
    resume = { switches: readSwitches(q, ro, 'switches'), skipFrames: q.int(ro, 'skipFrames'), ...(snapshot === undefined ? {} : { snapshot }), ...(parts === undefined ? {} : { parts }) };
  }
  const snapshots = r.optional(o, 'snapshots', (x, k) => {
    const so = r.obj(x[k], k);
    const q = r.at(k);
    const keyframeEvery = q.optional(so, 'keyframeEvery', (y, j) => q.int(y, j, 1));
    const every = q.optional(so, 'every', (y, j) => q.int(y, j, 1));
    return { ...(every === undefined ? {} : { every }), key: q.str(so, 'key'), ...(keyframeEvery === undefined ? {} : { keyframeEvery }) };
  });
  return {
    sessionId: r.str(o, 'sessionId'),
    request: readRequest(r, o.request),
    options: readOptions(r, o.options),
    ...(resume ? { resume } : {}),
    ...(snapshots ? { snapshots } : {}),
    credit: r.int(o, 'credit'),
    paused: r.bool(o, 'paused'),
  };
}

/** Decodes and checks the reply to an open request. */
export function decodeOpenReply(bytes: Uint8Array, subject: string): OpenReply {
  const o = decodeObject(bytes, subject);
  const r = new Reader(subject);
  const worker = r.str(o, 'worker');
  if (r.bool(o, 'ok')) {
    const snapshot = r.optional(o, 'snapshot', (x, k) => r.bool(x, k));
    return snapshot === undefined ? { ok: true, worker } : { ok: true, worker, snapshot };
  }
  return { ok: false, worker, reason: r.oneOf(o, 'reason', ['full', 'closing', 'invalid'] as const), message: r.str(o, 'message') };
}

/** Decodes and checks a control request. */
export function decodeControlRequest(bytes: Uint8Array, subject: string): ControlRequest {
  const o = decodeObject(bytes, subject);
  const r = new Reader(subject);
  const type = r.oneOf(o, 'type', ['switch', 'pause', 'resume', 'stop', 'close', 'credit', 'priority'] as const);
  if (type === 'switch') return { type, prompt: r.str(o, 'prompt') };
  if (type === 'priority') return { type, level: r.oneOf(o, 'level', SESSION_PRIORITIES) };
  if (type === 'credit') {
    const received = r.optional(o, 'received', (x, k) => r.int(x, k));
    return received === undefined ? { type, upTo: r.int(o, 'upTo') } : { type, upTo: r.int(o, 'upTo'), received };
  }
  return { type };
}

/** Decodes and checks the reply to a control request. */
export function decodeControlReply(bytes: Uint8Array, subject: string): ControlReply {
  const o = decodeObject(bytes, subject);
  const r = new Reader(subject);
  if (!r.bool(o, 'ok')) return { ok: false, message: r.str(o, 'message') };
  const fromBlock = r.optional(o, 'fromBlock', (x, k) => r.int(x, k));
  return fromBlock === undefined ? { ok: true } : { ok: true, fromBlock };
}

const EVENT_TYPES = ['switch', 'recache', 'block', 'paused', 'resumed', 'lane-retired', 'end'] as const;

/** Decodes and checks a session message (event, done, failed). */
export function decodeSessionMessage(bytes: Uint8Array, subject: string): SessionMessage {
  const o = decodeObject(bytes, subject);
  const r = new Reader(subject);
  const type = r.oneOf(o, 'type', ['event', 'snapshot', 'done', 'failed'] as const);
  if (type === 'done') return { type, frames: r.int(o, 'frames') };
  if (type === 'snapshot') {
    const ms = (key: string) => (typeof o[key] === 'number' && Number.isFinite(o[key]) && (o[key] as number) >= 0 ? (o[key] as number) : r.fail(key, 'a number ≥ 0'));
    const replays = r.optional(o, 'replays', (x, k) => r.int(x, k));
    return { type, block: r.int(o, 'block'), firstFrame: r.int(o, 'firstFrame'), name: r.str(o, 'name'), parts: readNames(r, o, 'parts'), bytes: r.int(o, 'bytes'), ...(replays === undefined ? {} : { replays }), captureMs: ms('captureMs'), storeMs: ms('storeMs') };
  }
  if (type === 'failed') {
    const code = r.optional(o, 'code', (x, k) => r.str(x, k));
    return { type, name: r.str(o, 'name'), ...(code === undefined ? {} : { code }), message: r.str(o, 'message') };
  }
  const e = r.obj(o.event, 'event');
  const q = r.at('event');
  // The event's own fields are checked by type: a listener must never see a malformed event.
  const eventType = q.oneOf(e, 'type', EVENT_TYPES);
  let event: SessionEvent;
  switch (eventType) {
    case 'switch':
      event = { type: eventType, prompt: q.str(e, 'prompt'), fromBlock: q.int(e, 'fromBlock') };
      break;
    case 'recache':
      event = { type: eventType, beforeBlock: q.int(e, 'beforeBlock'), frames: q.int(e, 'frames'), ms: typeof e.ms === 'number' ? e.ms : q.fail('ms', 'a number') };
      break;
    case 'block':
      event = { type: eventType, block: q.int(e, 'block'), elapsedMs: typeof e.elapsedMs === 'number' ? e.elapsedMs : q.fail('elapsedMs', 'a number'), // Frames the consumer left unread ÷ frames per block: a fraction while a block is half read.
        bufferedBlocks: typeof e.bufferedBlocks === 'number' && Number.isFinite(e.bufferedBlocks) && e.bufferedBlocks >= 0 ? e.bufferedBlocks : q.fail('bufferedBlocks', 'a number ≥ 0') };
      break;
    case 'paused':
      event = { type: eventType, reason: q.oneOf(e, 'reason', ['user', 'backpressure'] as const) };
      break;
    case 'resumed':
      event = { type: eventType };
      break;
    case 'lane-retired':
      event = { type: eventType, lane: q.int(e, 'lane'), crashes: q.int(e, 'crashes'), message: q.str(e, 'message') };
      break;
    case 'end':
      event = { type: eventType, blocks: q.int(e, 'blocks'), stopped: q.bool(e, 'stopped'), forwards: q.int(e, 'forwards'), reusedForwards: q.int(e, 'reusedForwards') };
      break;
  }
  return { type, event };
}

/** Decodes and checks a heartbeat. */
export function decodeHeartbeat(bytes: Uint8Array, subject: string): Heartbeat {
  const o = decodeObject(bytes, subject);
  const r = new Reader(subject);
  const sessions = r.list(o, 'sessions').map((item, i) => {
    const q = r.at(`sessions[${i}]`);
    const s = q.obj(item, '');
    return { id: q.str(s, 'id'), next: q.int(s, 'next'), done: q.bool(s, 'done') };
  });
  return { worker: r.str(o, 'worker'), sessions };
}

/** Decodes and checks a worker's KV entry (`subject` names the bucket and key in errors). */
export function decodeWorkerInfo(bytes: Uint8Array, subject: string): WorkerInfo {
  const o = decodeObject(bytes, subject);
  const r = new Reader(subject);
  return {
    id: r.str(o, 'id'),
    lanes: r.int(o, 'lanes', 1),
    maxSessions: r.int(o, 'maxSessions', 1),
    active: r.int(o, 'active'),
    healthy: r.bool(o, 'healthy'),
    host: r.str(o, 'host'),
    updatedAt: r.int(o, 'updatedAt'),
  };
}

/** A frame's header on the wire; `seq` is the frame's index in the whole video. */
export interface FrameMeta {
  readonly seq: number;
  readonly block: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Encodes a frame as a tensor frame: the header, then the RGB bytes raw (no msgpack pass over
 * them).
 *
 * @example
 * ```ts
 * nc.publish(subjects.frame, encodeFrame(frame));
 * ```
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const meta: FrameMeta = { seq: frame.index, block: frame.block, width: frame.width, height: frame.height };
  return encodeTensorFrame({ ...meta }, { rgb: { dtype: 'uint8', shape: [frame.height, frame.width, 3], data: frame.rgb } });
}

/** Decodes and checks a frame; its RGB bytes are copied out of the message buffer (NATS reuses nothing, but a Frame owns its bytes). */
export function decodeFrame(bytes: Uint8Array, subject: string): Frame {
  let decoded;
  try {
    decoded = decodeTensorFrame(bytes);
  } catch (cause) {
    throw new ClusterMessageError(subject, 'message', `a tensor frame (${(cause as Error).message})`, { cause });
  }
  const r = new Reader(subject);
  const m = decoded.meta;
  const seq = r.int(m, 'seq');
  const block = r.int(m, 'block');
  const width = r.int(m, 'width', 1);
  const height = r.int(m, 'height', 1);
  const rgb = decoded.tensors.rgb;
  if (!rgb || rgb.dtype !== 'uint8' || rgb.data.length !== width * height * 3) return r.fail('rgb', `a uint8 tensor of ${width}×${height}×3 values`);
  return { index: seq, block: block as Frame['block'], width, height, rgb: new Uint8Array(rgb.data as Uint8Array) };
}
