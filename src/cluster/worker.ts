/**
 * A cluster worker: one runtime on this machine's lanes, taking sessions addressed to it over
 * NATS. It registers its capacity and health in a JetStream KV bucket (refreshed every second;
 * the bucket's TTL drops the entry of a worker that died), beats on its `alive` subject, answers
 * `open` and `ping` requests, streams each session's frames and events on the session's
 * subjects, no faster than the client grants credit, stores the snapshots the client asked for
 * in the snapshot object store, and resumes a session from one when asked to.
 */
import { hostname } from 'node:os';
import { RequestError, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, setSha256Backend, type ObjectStore } from '@nats-io/obj';
import { createRuntime, type Runtime } from '../api/runtime.js';
import type { GenerationSnapshot } from '../core/api-types.js';
import { mergeSnapshots } from '../engine/snapshot/merge.js';
import type { GenerationSession, SessionOptions, SessionPriority } from '../core/session-types.js';
import { decodeControlRequest, decodeOpenRequest, encodeClusterMessage, encodeFrame, type ControlReply, type OpenReply, type OpenRequest, type WireSessionOptions, type WorkerInfo } from './messages.js';
import { checkId, sessionSubjects, WORKERS_BUCKET, workerSubjects } from './subjects.js';
import { SNAPSHOTS_BUCKET, SNAPSHOTS_STORE_OPTIONS, WORKERS_BUCKET_TTL_MS } from './bucket.js';
import { checkNatsAuth, type NatsAuth } from './nats-auth.js';
import { WorkerIdInUseError } from './errors.js';
import { checkWorkerOptions } from './cluster-options.js';
import { openNats } from './nats-connection.js';
import { threadStorage } from './snapshot-storage.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { snapshotEveryFor } from './snapshot-defaults.js';

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /** Credentials and TLS for the server (the worker's connection and its snapshot store's). */
  readonly auth?: NatsAuth;
  /** Ends the start while the worker waits for its server (the CLI's Ctrl-C). */
  readonly signal?: AbortSignal;
  /** CPU lanes of the worker's runtime. Default 1. */
  readonly lanes?: number;
  /** Sessions the worker runs at once; more are refused (`full`). Default 1. */
  readonly maxSessions?: number;
  /** The worker's id (a subject token); default `<host>-<pid>`. */
  readonly id?: string;
  /** Model package folder (default: the bundled one). Every worker of a cluster must load the same. */
  readonly model?: string;
  /** Heartbeat period. Default 250 ms. */
  readonly heartbeatMs?: number;
  /** KV refresh period. Default 1000 ms. */
  readonly registerMs?: number;
  /** A session whose client sent nothing (not even a credit refresh) for this long is dropped. Default 10 s. */
  readonly clientTimeoutMs?: number;
  /** Called with one line per notable thing (session opened, ended, refused). */
  readonly log?: (line: string) => void;
}

/** A running worker (see {@link startWorker}). */
export interface Worker {
  readonly id: string;
  readonly runtime: Runtime;
  /** Sessions running now. */
  active(): number;
  /** Stops the sessions, removes the worker's entry, drains the connection and closes the runtime. */
  close(): Promise<void>;
}

/** One session hosted here. */
interface Hosted {
  readonly id: string;
  readonly session: GenerationSession;
  readonly subjects: ReturnType<typeof sessionSubjects>;
  /** The index of the next frame to publish. */
  next: number;
  credit: number;
  lastContact: number;
  done: boolean;
  /** The client is gone: drain without publishing. */
  abandoned: boolean;
  wake: (() => void) | null;
  control: Subscription | null;
  /** Stores the session's snapshots, when the client asked for them. */
  snapshots: SnapshotWriter | null;
  /** The priority the client asked for (`SessionOptions.priority`). */
  priority: SessionPriority;
  /**
   * A resumed session makes again, unpublished, the frames its client already has: until it
   * reaches the first new one it runs at `'high'` priority, so that a failover onto a worker busy
   * with other sessions waits for those blocks alone, not for its share of the lanes.
   */
  catchingUp: boolean;
}

const DEFAULT_HEARTBEAT_MS = 250;
const DEFAULT_REGISTER_MS = 1000;
const DEFAULT_CLIENT_TIMEOUT_MS = 10_000;
/** Ended sessions stay in heartbeats this long, so that a client that lost the `done` message sees the session's end. */
const DONE_RETAIN_MS = 3000;

/** A session's parallelism as its open request asks (a worker's runtime has no default of its own: 0 when absent). */
const parallelismOf = (options: WireSessionOptions): number => {
  const p = options.cascade?.['parallelism'];
  // Anything else is refused by the runtime when the session opens.
  return typeof p === 'number' ? p : 0;
};

const errorFields = (e: unknown) => ({ name: e instanceof Error ? e.name : 'Error', ...(e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' ? { code: (e as { code: string }).code } : {}), message: e instanceof Error ? e.message : String(e) });

/**
 * Starts a worker: loads the model on its lanes, connects to NATS (reconnecting forever), and
 * takes sessions until closed.
 *
 * @throws {ClusterConnectError} when the server refuses the credentials or the TLS settings.
 * @throws {WorkerIdInUseError} when a running worker answers under the same id.
 * Any failure (these, a model that does not load, a server without JetStream) leaves nothing open.
 * @example
 * ```ts
 * const worker = await startWorker({ servers: 'nats://127.0.0.1:4222', lanes: 2, maxSessions: 2, id: 'gpu-box-1' });
 * process.on('SIGTERM', () => void worker.close());
 * ```
 */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  checkWorkerOptions(options);
  const id = checkId(options.id ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-${process.pid}`, 'worker id');
  const maxSessions = options.maxSessions ?? 1;
  const lanes = options.lanes ?? 1;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const registerMs = options.registerMs ?? DEFAULT_REGISTER_MS;
  const clientTimeoutMs = options.clientTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  const log = options.log ?? (() => {});
  checkNatsAuth(options.auth);
  const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
  // A few queued generations: a session's memory set is released a moment after its frames
  // end, and a new session placed in that moment must wait for it rather than fail.
  const runtime = await createRuntime({ lanes, maxSessions, maxQueuedSessions: maxSessions, ...(options.model === undefined ? {} : { model: options.model }) });
  let nc: NatsConnection;
  try {
    // A worker may start before its server; it never waits on credentials or TLS the server refused.
    nc = await openNats({ servers, name: `block-cascade worker ${id}`, auth: options.auth, waitForServer: true, signal: options.signal, onWait: (reason) => log(`waiting for NATS at ${servers.join(', ')} (${reason})`) });
  } catch (err) {
    await runtime.close();
    throw err;
  }
  const subjects = workerSubjects(id);
  let kv: KV;
  let store: ObjectStore;
  try {
    kv = await new Kvm(nc).create(WORKERS_BUCKET, { history: 1, ttl: WORKERS_BUCKET_TTL_MS });
    // Node's own SHA-256 for the object store's digests (a resume's fetch checks one): the
    // library's default is pure JavaScript, slow on the thread that runs the generations.
    setSha256Backend('native');
    store = await new Objm(nc).create(SNAPSHOTS_BUCKET, SNAPSHOTS_STORE_OPTIONS);
    // One live worker per id: asked before taking the id's subjects (a dead worker's id is free,
    // its connection gone: "no responders" at once).
    if (await answers(nc, subjects.ping)) throw new WorkerIdInUseError(id);
  } catch (err) {
    // A bucket the server would not create (JetStream off, a bucket of another configuration),
    // or the id taken: nothing of this worker stays open.
    await nc.close().catch(() => undefined);
    await runtime.close();
    throw err;
  }
  // Snapshots are stored from a thread of their own: a put never holds up the actors.
  const storage = threadStorage(servers, options.auth);
  const sessions = new Map<string, Hosted>();
  const ended = new Map<string, { next: number; until: number }>();
  let closing = false;
  const running = () => [...sessions.values()].filter((h) => !h.done).length;

  const info = (): WorkerInfo => ({ id, lanes: runtime.lanes.length, maxSessions, active: running(), healthy: !closing, host: hostname(), updatedAt: Date.now() });
  // A put fails while the server is away; the next refresh puts it again.
  const register = () => kv.put(id, encodeClusterMessage(info())).then(() => undefined, () => undefined);

  const beat = () => {
    const now = Date.now();
    for (const [sid, e] of ended) if (e.until < now) ended.delete(sid);
    const list = [...sessions.values()].map((h) => ({ id: h.id, next: h.next, done: h.done }));
    for (const [sid, e] of ended) list.push({ id: sid, next: e.next, done: true });
    nc.publish(subjects.alive, encodeClusterMessage({ worker: id, sessions: list }));
  };

  const sweep = () => {
    const now = Date.now();
    for (const h of sessions.values()) {
      if (!h.done && !h.abandoned && now - h.lastContact > clientTimeoutMs) {
        log(`session ${h.id}: no word from its client for ${clientTimeoutMs} ms, dropped`);
        abandon(h);
      }
    }
  };

  const abandon = (h: Hosted) => {
    h.abandoned = true;
    h.session.stop();
    h.wake?.();
  };

  const onControl = async (h: Hosted, msg: Msg) => {
    h.lastContact = Date.now();
    let reply: ControlReply;
    try {
      const control = decodeControlRequest(msg.data, msg.subject);
      switch (control.type) {
        case 'credit':
          if (control.received !== undefined) h.snapshots?.received(control.received);
          if (control.upTo > h.credit) {
            h.credit = control.upTo;
            h.wake?.();
          }
          reply = { ok: true };
          break;
        case 'switch':
          reply = { ok: true, fromBlock: (await h.session.switchPrompt(control.prompt)).fromBlock };
          break;
        case 'pause':
          h.session.pause();
          reply = { ok: true };
          break;
        case 'resume':
          h.session.resume();
          reply = { ok: true };
          break;
        case 'stop':
          h.session.stop();
          reply = { ok: true };
          break;
        case 'priority':
          h.priority = control.level;
          if (!h.catchingUp) h.session.setPriority(control.level);
          reply = { ok: true };
          break;
        case 'close':
          abandon(h);
          reply = { ok: true };
          break;
      }
    } catch (err) {
      reply = { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
    if (msg.reply) msg.respond(encodeClusterMessage(reply));
  };

  const run = async (h: Hosted, open: OpenRequest) => {
    const skip = open.resume?.skipFrames ?? 0;
    try {
      for await (const frame of h.session.frames) {
        if (frame.index < skip) continue;
        if (h.catchingUp) {
          h.catchingUp = false;
          h.session.setPriority(h.priority);
        }
        // Waiting here leaves the frame unread, so the runtime's backpressure pauses this
        // session (maxBufferedBlocks) while the worker's other sessions go on.
        while (frame.index >= h.credit && !h.abandoned) await new Promise<void>((resolve) => (h.wake = resolve));
        h.wake = null;
        if (h.abandoned) continue;
        nc.publish(h.subjects.frame, encodeFrame(frame));
        h.next = frame.index + 1;
      }
      await h.snapshots?.finish();
      if (!h.abandoned) nc.publish(h.subjects.event, encodeClusterMessage({ type: 'done', frames: h.next }));
      log(`session ${h.id}: ended after frame ${h.next - 1}`);
    } catch (err) {
      if (!h.abandoned) nc.publish(h.subjects.event, encodeClusterMessage({ type: 'failed', ...errorFields(err) }));
      log(`session ${h.id}: failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      h.done = true;
      h.snapshots?.stop();
      h.control?.unsubscribe();
      sessions.delete(h.id);
      ended.set(h.id, { next: h.next, until: Date.now() + DONE_RETAIN_MS });
      void register();
    }
  };

  /**
   * A snapshot from the store, merged with the earlier ones it refers to, or null (one gone or
   * unreadable: the session then replays from block 0).
   */
  const fetchSnapshot = async (name: string, parts: readonly string[]): Promise<Uint8Array | null> => {
    try {
      const blobs = await Promise.all([name, ...parts].map(async (part) => {
        const bytes = await store.getBlob(part);
        if (bytes === null) throw new Error(`${part} is not in the store`);
        return bytes;
      }));
      return parts.length === 0 ? (blobs[0] as Uint8Array) : mergeSnapshots(blobs);
    } catch (err) {
      log(`snapshot ${name}: unreadable (${err instanceof Error ? err.message : String(err)}), replaying from block 0`);
      return null;
    }
  };

  const onOpen = async (msg: Msg): Promise<void> => {
    const refuse = (reason: 'full' | 'closing' | 'invalid', message: string): void => {
      msg.respond(encodeClusterMessage({ ok: false, worker: id, reason, message } satisfies OpenReply));
    };
    let open: OpenRequest;
    try {
      open = decodeOpenRequest(msg.data, msg.subject);
      checkId(open.sessionId, 'session id');
    } catch (err) {
      refuse('invalid', err instanceof Error ? err.message : String(err));
      return;
    }
    /** Refuses the open when this worker is shutting down or full; true when it did. */
    const unavailable = (): boolean => {
      if (closing) refuse('closing', `worker ${id} is shutting down`);
      else if (running() >= maxSessions) refuse('full', `worker ${id} runs ${maxSessions} session(s), its maximum`);
      else return false;
      return true;
    };
    if (unavailable()) return;
    if (sessions.has(open.sessionId)) return refuse('invalid', `session ${open.sessionId} is already open here`);
    const request = open.resume ? { ...open.request, switches: open.resume.switches } : open.request;
    const resumeFrom = open.resume?.snapshot === undefined ? null : await fetchSnapshot(open.resume.snapshot, open.resume.parts ?? []);
    // Checked again: the fetch gave other opens a turn.
    if (unavailable()) return;
    const subjectsOf = sessionSubjects(open.sessionId);
    const writer = open.snapshots ? new SnapshotWriter(storage, open.snapshots.key, (notice) => nc.publish(subjectsOf.event, encodeClusterMessage(notice)), log) : null;
    const priority = open.options.priority ?? 'normal';
    const catchingUp = (open.resume?.skipFrames ?? 0) > 0;
    const sessionOptions = (from: Uint8Array | null): SessionOptions => ({
      ...(open.options as SessionOptions),
      priority: catchingUp ? 'high' : priority,
      ...(from ? { resumeFrom: from } : {}),
      ...(writer && open.snapshots
        ? {
            snapshots: {
              every: open.snapshots.every ?? snapshotEveryFor(parallelismOf(open.options), open.snapshots.keyframeEvery ?? 0),
              onSnapshot: (snapshot: GenerationSnapshot) => writer.offer(snapshot),
              incremental: { kept: (seq: number) => writer.kept(seq) },
              ...(open.snapshots.keyframeEvery === undefined ? {} : { keyframeEvery: open.snapshots.keyframeEvery }),
            },
          }
        : {}),
    });
    let session: GenerationSession;
    let resumed = resumeFrom !== null;
    try {
      try {
        session = runtime.session(request, sessionOptions(resumeFrom));
      } catch (err) {
        if (!resumed) throw err;
        // A snapshot this runtime cannot take (another model version, say): replaying from
        // block 0 makes the same frames, only later.
        log(`snapshot ${open.resume?.snapshot}: refused (${err instanceof Error ? err.message : String(err)}), replaying from block 0`);
        resumed = false;
        session = runtime.session(request, sessionOptions(null));
      }
    } catch (err) {
      return refuse('invalid', err instanceof Error ? err.message : String(err));
    }
    const h: Hosted = { id: open.sessionId, session, subjects: subjectsOf, next: open.resume?.skipFrames ?? 0, credit: open.credit, lastContact: Date.now(), done: false, abandoned: false, wake: null, control: null, snapshots: writer, priority, catchingUp };
    sessions.set(h.id, h);
    h.control = nc.subscribe(h.subjects.control, { callback: (err, m) => void (err ? undefined : onControl(h, m)) });
    session.on((event) => {
      if (!h.abandoned) nc.publish(h.subjects.event, encodeClusterMessage({ type: 'event', event }));
    });
    if (open.paused) session.pause();
    msg.respond(encodeClusterMessage({ ok: true, worker: id, ...(open.resume?.snapshot === undefined ? {} : { snapshot: resumed }) } satisfies OpenReply));
    const from = open.resume ? `, resumed from frame ${open.resume.skipFrames} ${resumed ? `with snapshot ${open.resume.snapshot}` : 'by a replay from block 0'}` : '';
    log(`session ${h.id}: opened (seed ${request.seed}, ${request.blocks} blocks${from})`);
    void register();
    void run(h, open);
  };

  const openSub = nc.subscribe(subjects.open, { callback: (err, msg) => {
    if (!err) void onOpen(msg);
  } });
  const pingSub = nc.subscribe(subjects.ping, { callback: (err, msg) => {
    if (!err) msg.respond();
  } });
  await register();
  beat();
  const timers = [setInterval(beat, heartbeatMs), setInterval(() => void register(), registerMs), setInterval(sweep, Math.min(1000, clientTimeoutMs))];

  let closed: Promise<void> | null = null;
  return {
    id,
    runtime,
    active: running,
    close() {
      closed ??= (async () => {
        closing = true;
        openSub.unsubscribe();
        pingSub.unsubscribe();
        for (const h of sessions.values()) abandon(h);
        for (const t of timers) clearInterval(t);
        await kv.delete(id).catch(() => undefined);
        await storage.close().catch(() => undefined);
        await nc.drain().catch(() => undefined);
        await runtime.close();
      })();
      return closed;
    },
  };
}

/** How long a running worker may take to answer a ping before its id counts as taken anyway. */
const ID_CHECK_MS = 2000;

/**
 * Whether something answers on `subject`: "no responders" (nobody subscribed) is the only no; a
 * reply, or silence from a subscriber too busy to answer in time, is a yes.
 */
async function answers(nc: NatsConnection, subject: string): Promise<boolean> {
  try {
    await nc.request(subject, undefined, { timeout: ID_CHECK_MS });
    return true;
  } catch (err) {
    return !(err instanceof RequestError && err.isNoResponders());
  }
}
