/**
 * One cluster session on the client's side (`Cluster.session()`): placed on the least-loaded
 * worker with a free session, fed by that worker's frames under the client's credit, watched
 * through the worker's heartbeats, and, when the worker is lost or frames go missing, placed
 * again and resumed from the newest snapshot the client has every frame before (docs/cluster.md).
 */
import { RequestError, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import type { Frame, GenerateRequest, PromptSwitch } from '../core/api-types.js';
import { ASYNC_DISPOSE } from '../core/dispose.js';
import { GenerationAbortedError, NoCapacityError, SessionEndedError } from '../core/errors.js';
import type { SessionEvent, SessionOptions, SessionPriority } from '../core/session-types.js';
import { checkPriority } from '../core/options.js';
import type { ClusterOptions, ClusterSession, Failover } from './cluster-types.js';
import { ClusterSessionError } from './errors.js';
import { Inbox } from './inbox.js';
import { decodeControlReply, decodeFrame, decodeHeartbeat, decodeOpenReply, decodeSessionMessage, encodeClusterMessage, type ControlRequest, type OpenRequest, type SnapshotNotice, type WireSessionOptions } from './messages.js';
import { rankWorkers, RecentOffers, resumeRequest, type WorkerEntry } from './placement.js';
import { sessionSubjects, workerSubjects } from './subjects.js';

/** Settings a session reads from its cluster (made by `connect`). */
export interface Context {
  readonly nc: NatsConnection;
  readonly clientId: string;
  /** The client's settings; `snapshotEvery` null leaves the interval to the worker (`snapshotEveryFor`). */
  readonly options: Required<Omit<ClusterOptions, 'servers' | 'auth' | 'snapshotEvery'>> & { readonly snapshotEvery: number | null };
  entries(): Promise<WorkerEntry[]>;
  /** Resolves at the next change of the workers bucket (`WorkerWatch`), or after `ms`. */
  workersChanged(ms: number): Promise<void>;
  /** Sessions this client offered each worker lately (`rankWorkers`' `recent`). */
  readonly offers: RecentOffers;
  /** The snapshot store, opened on first use (null when it cannot be: no worker created it yet). */
  snapshotStore(): Promise<ObjectStore | null>;
  connected(): boolean;
  forget(session: RemoteSession): void;
}

/** One placement of a session on a worker. */
interface Attempt {
  readonly worker: string;
  readonly sessionId: string;
  readonly subjects: ReturnType<typeof sessionSubjects>;
  readonly subs: Subscription[];
  readonly openedAt: number;
  lastBeat: number;
  stallSince: number | null;
  absentBeats: number;
  /** The frame count of the worker's `done` message, once received. */
  doneFrames: number | null;
  dead: boolean;
  /**
   * The worker said yes. Until then the placement loop owns the attempt: a worker slow to answer
   * `open` is not taken for dead (its heartbeats do not list the session yet), or a second
   * placement would start beside the first.
   */
  accepted: boolean;
  /** A ping is in flight. */
  probing: boolean;
  /** Pings in a row answered "no responders". */
  goneAnswers: number;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** How often a session checks its worker's heartbeats (and renews its lease every few checks). */
const CHECK_MS = 100;
const LEASE_EVERY_CHECKS = 3;
/** Between the two "no responders" answers that take a silent worker for gone. */
const REPROBE_MS = 100;
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A session running on a worker, moved to another when its worker is lost. */
export class RemoteSession implements ClusterSession {
  readonly id: number;
  readonly frames: AsyncIterable<Frame>;
  readonly failovers: Failover[] = [];
  readonly snapshots: SnapshotNotice[] = [];
  readonly #ctx: Context;
  readonly #request: GenerateRequest;
  readonly #options: SessionOptions;
  readonly #wire: WireSessionOptions;
  /** `SessionOptions.priority` as the user last set it: a failover's open carries it. */
  #priority: SessionPriority;
  readonly #inbox = new Inbox();
  readonly #listeners = new Set<(event: SessionEvent) => void>();
  readonly #snapshotListeners = new Set<(snapshot: SnapshotNotice) => void>();
  /** Live switches that landed, at the block their worker reported. */
  readonly #live: PromptSwitch[] = [];
  /** Switch events already reported (`block:prompt`): a replay reports them again. */
  readonly #reportedSwitches = new Set<string>();
  #attempt: Attempt | null = null;
  #attempts = 0;
  /** Resolves when a placement (first or after a failover) is made; replaced at each failover. */
  #placed: { promise: Promise<Attempt>; resolve: (a: Attempt) => void; reject: (e: unknown) => void };
  #received = 0;
  #consumed = 0;
  #granted = 0;
  #lastBlock = -1;
  #lastRecache = -1;
  #userPaused = false;
  #stopped = false;
  #finished = false;
  #started = false;
  #timer: ReturnType<typeof setInterval> | null = null;
  #checks = 0;
  readonly #startedAt = Date.now();
  /** Names the session's snapshots in the store: the same over its failovers. */
  readonly #key: string;
  /** The snapshot block the current placement resumed from, if it did. */
  #resumedFrom: number | undefined;

  constructor(ctx: Context, id: number, request: GenerateRequest, options: SessionOptions) {
    this.#ctx = ctx;
    this.id = id;
    this.#request = request;
    this.#options = options;
    const { cascade, steps, featureCache, allowUnknownWords, maxBufferedBlocks } = options;
    this.#wire = {
      ...(cascade === undefined ? {} : { cascade: { ...cascade } }),
      ...(steps === undefined ? {} : { steps }),
      ...(featureCache === undefined ? {} : { featureCache: { ...featureCache } as Record<string, unknown> }),
      ...(allowUnknownWords === undefined ? {} : { allowUnknownWords }),
      ...(maxBufferedBlocks === undefined ? {} : { maxBufferedBlocks }),
    };
    // Request and options were checked at the door (`checkClusterSession`).
    this.#priority = options.priority ?? 'normal';
    this.#key = `${ctx.clientId}-s${id}`;
    this.#placed = deferred();
    this.frames = { [Symbol.asyncIterator]: () => this.#iterate() };
  }

  get worker(): string | undefined {
    return this.#attempt?.worker;
  }

  async *#iterate(): AsyncGenerator<Frame, void, undefined> {
    if (this.#started) throw new Error('the frames of a session can be iterated once');
    this.#started = true;
    const signal = this.#options.signal;
    const onAbort = () => this.#abort(new GenerationAbortedError(signal?.reason));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (!this.#finished) void this.#start();
    try {
      for (;;) {
        const frame = await this.#inbox.next();
        if (frame === null) return;
        this.#consumed = frame.index + 1;
        this.#grant(false);
        yield frame;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // A consumer that left early (break, throw) ends the session like `stop` + dispose.
      if (!this.#finished) this.#end(true);
    }
  }

  async #start(): Promise<void> {
    this.#timer = setInterval(() => this.#tick(), CHECK_MS);
    try {
      await this.#place(false);
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Offers the session to the ranked workers in turn; on a resume, keeps trying until the failover deadline. */
  async #place(resume: boolean): Promise<void> {
    const { nc, options } = this.#ctx;
    const deadline = Date.now() + options.failoverTimeoutMs;
    const request = resume ? resumeRequest(this.#request, this.#live) : this.#request;
    // The newest snapshot whose frames the client already has all of before it: the frames a
    // worker had made but not yet delivered when it died are after it, and are made again.
    const snapshot = resume ? this.snapshots.filter((s) => s.firstFrame <= this.#received).at(-1) : undefined;
    for (;;) {
      const entries = await this.#ctx.entries();
      const refusals: string[] = [];
      for (const info of rankWorkers(entries, Date.now(), options.staleAfterMs, this.#ctx.offers.counts())) {
        if (this.#finished) return;
        const offer = this.#ctx.offers.add(info.id);
        const sessionId = `${this.#ctx.clientId}-s${this.id}-a${this.#attempts++}`;
        const subjects = sessionSubjects(sessionId);
        const attempt: Attempt = { worker: info.id, sessionId, subjects, subs: [], openedAt: Date.now(), lastBeat: Date.now(), stallSince: null, absentBeats: 0, doneFrames: null, dead: false, accepted: false, probing: false, goneAnswers: 0 };
        // Subscribed before the open request: the worker may publish as soon as it answers.
        attempt.subs.push(
          nc.subscribe(subjects.frame, { callback: (err, msg) => void (err ? undefined : this.#onFrame(attempt, msg.data, msg.subject)) }),
          nc.subscribe(subjects.event, { callback: (err, msg) => void (err ? undefined : this.#onMessage(attempt, msg.data, msg.subject)) }),
          nc.subscribe(workerSubjects(info.id).alive, { callback: (err, msg) => void (err ? undefined : this.#onBeat(attempt, msg.data, msg.subject)) }),
        );
        const open: OpenRequest = {
          sessionId,
          request,
          options: { ...this.#wire, priority: this.#priority },
          ...(resume ? { resume: { switches: request.switches ?? [], skipFrames: this.#received, ...(snapshot ? { snapshot: snapshot.name, parts: snapshot.parts } : {}) } } : {}),
          ...(options.snapshotEvery !== 0 ? { snapshots: { ...(options.snapshotEvery === null ? {} : { every: options.snapshotEvery }), key: this.#key, ...(options.keyframeEvery > 0 ? { keyframeEvery: options.keyframeEvery } : {}) } } : {}),
          credit: this.#consumed + options.creditFrames,
          paused: this.#userPaused,
        };
        // Current before the reply: the first frames can be handled in the same read from the
        // socket as the reply, before the request's promise settles.
        this.#attempt = attempt;
        this.#granted = open.credit;
        try {
          await nc.flush();
          const msg = await nc.request(workerSubjects(info.id).open, encodeClusterMessage(open), { timeout: options.openTimeoutMs });
          const reply = decodeOpenReply(msg.data, msg.subject);
          if (reply.ok) {
            attempt.accepted = true;
            attempt.lastBeat = Date.now();
            this.#resumedFrom = reply.snapshot === true ? snapshot?.block : undefined;
            this.#placed.resolve(attempt);
            return;
          }
          if (reply.reason === 'invalid') {
            this.#ctx.offers.remove(offer);
            attempt.dead = true;
            for (const s of attempt.subs) s.unsubscribe();
            throw new ClusterSessionError(info.id, 'InvalidRequest', 'INVALID_OPTION', reply.message);
          }
          refusals.push(`${info.id}: ${reply.reason}`);
        } catch (err) {
          if (err instanceof ClusterSessionError) throw err;
          refusals.push(`${info.id}: ${message(err)}`);
        }
        this.#ctx.offers.remove(offer);
        attempt.dead = true;
        for (const s of attempt.subs) s.unsubscribe();
      }
      if (!resume || Date.now() > deadline) throw new NoCapacityError(entries.length, refusals);
      await this.#ctx.workersChanged(250);
    }
  }

  #onFrame(attempt: Attempt, data: Uint8Array, subject: string): void {
    if (attempt !== this.#attempt || attempt.dead || this.#finished) return;
    let frame: Frame;
    try {
      frame = decodeFrame(data, subject);
    } catch (err) {
      return this.#fail(err);
    }
    if (frame.index < this.#received) return; // already have it (a replay's overlap)
    if (frame.index > this.#received) return void this.#failover(`frames ${this.#received}–${frame.index - 1} lost`);
    this.#received++;
    attempt.stallSince = null;
    this.#inbox.push(frame);
    if (attempt.doneFrames !== null && this.#received >= attempt.doneFrames) this.#end(false);
  }

  #onMessage(attempt: Attempt, data: Uint8Array, subject: string): void {
    if (attempt !== this.#attempt || attempt.dead || this.#finished) return;
    let m;
    try {
      m = decodeSessionMessage(data, subject);
    } catch (err) {
      return this.#fail(err);
    }
    if (m.type === 'failed') return this.#fail(new ClusterSessionError(attempt.worker, m.name, m.code, m.message));
    if (m.type === 'snapshot') {
      this.snapshots.push(m);
      for (const listener of this.#snapshotListeners) listener(m);
      return;
    }
    if (m.type === 'done') {
      attempt.doneFrames = m.frames;
      if (this.#received >= m.frames) this.#end(false);
      return;
    }
    this.#emit(m.event);
  }

  #onBeat(attempt: Attempt, data: Uint8Array, subject: string): void {
    if (attempt !== this.#attempt || attempt.dead || !attempt.accepted || this.#finished) return;
    let beat;
    try {
      beat = decodeHeartbeat(data, subject);
    } catch {
      return; // a bad heartbeat is no heartbeat
    }
    const now = Date.now();
    attempt.lastBeat = now;
    attempt.goneAnswers = 0;
    const mine = beat.sessions.find((s) => s.id === attempt.sessionId);
    if (!mine) {
      // The worker no longer knows the session (restarted under the same id, or dropped it).
      if (++attempt.absentBeats >= 4) void this.#failover(`worker ${attempt.worker} no longer runs the session`);
      return;
    }
    attempt.absentBeats = 0;
    if (mine.next > this.#received) {
      // Published but not here: in flight, or lost (a server restart drops what it held).
      attempt.stallSince ??= now;
      if (now - attempt.stallSince > this.#ctx.options.stallMs) void this.#failover(`frames from ${this.#received} published by ${attempt.worker} never arrived`);
    } else attempt.stallSince = null;
  }

  #tick(): void {
    const attempt = this.#attempt;
    if (this.#finished || !attempt || attempt.dead || !attempt.accepted) return;
    if (!this.#ctx.connected()) return;
    const silent = Date.now() - attempt.lastBeat;
    if (silent > this.#ctx.options.deadAfterMs) return void this.#failover(`no heartbeat from worker ${attempt.worker} for ${silent} ms`);
    if (silent > this.#ctx.options.probeAfterMs) void this.#probe(attempt);
    // Also the session's lease: a worker drops a session whose client went quiet.
    if (++this.#checks % LEASE_EVERY_CHECKS === 0) this.#grant(true);
  }

  /**
   * Pings a silent worker. Two "no responders" answers in a row (one could come from a worker
   * that is reconnecting after a server restart and has not subscribed again yet) mean its
   * connection is gone; a timeout means nothing (slow or loaded) and leaves it to `deadAfterMs`.
   */
  async #probe(attempt: Attempt): Promise<void> {
    if (attempt.probing) return;
    attempt.probing = true;
    try {
      while (attempt === this.#attempt && !attempt.dead) {
        try {
          await this.#ctx.nc.request(workerSubjects(attempt.worker).ping, undefined, { timeout: this.#ctx.options.probeAfterMs });
          attempt.goneAnswers = 0;
          return;
        } catch (err) {
          if (!(err instanceof RequestError && err.isNoResponders())) return;
        }
        if (++attempt.goneAnswers >= 2) return void this.#failover(`worker ${attempt.worker} is gone (its connection closed)`);
        // The second ask follows at once rather than at the next check: a dead worker's sessions
        // wait for it.
        await wait(REPROBE_MS);
      }
    } finally {
      attempt.probing = false;
    }
  }

  /** The connection is back: heartbeats missed while it was away say nothing of the worker. */
  reconnected(): void {
    if (this.#attempt) {
      this.#attempt.lastBeat = Date.now();
      this.#attempt.goneAnswers = 0;
    }
  }

  #grant(always: boolean): void {
    const attempt = this.#attempt;
    if (!attempt || attempt.dead || this.#finished) return;
    const upTo = this.#consumed + this.#ctx.options.creditFrames;
    // Granted in steps of half the window, not per frame, to keep control traffic low.
    if (!always && upTo - this.#granted < this.#ctx.options.creditFrames / 2) return;
    this.#granted = Math.max(this.#granted, upTo);
    this.#publish(attempt, { type: 'credit', upTo: this.#granted, received: this.#received });
  }

  #publish(attempt: Attempt, control: ControlRequest): void {
    try {
      this.#ctx.nc.publish(attempt.subjects.control, encodeClusterMessage(control));
    } catch {
      // Closed connection: nothing to tell.
    }
  }

  async #failover(reason: string): Promise<void> {
    const old = this.#attempt;
    if (this.#finished || !old || old.dead || !old.accepted) return;
    old.dead = true;
    for (const s of old.subs) s.unsubscribe();
    // The old worker may be alive (lost frames, not a death): free its session.
    this.#publish(old, { type: 'close' });
    if (this.#stopped) return this.#end(false);
    const detectedAt = Date.now();
    // Taken now: the new worker's first frames can be handled before its placement resolves.
    const atFrame = this.#received;
    this.#placed = deferred();
    try {
      await this.#place(true);
    } catch (err) {
      return this.#fail(err);
    }
    const now = this.#attempt as Attempt;
    this.failovers.push({ from: old.worker, to: now.worker, reason, atFrame, detectedAt, placedAt: Date.now(), ...(this.#resumedFrom === undefined ? {} : { fromSnapshot: this.#resumedFrom }) });
  }

  #emit(event: SessionEvent): void {
    // A replay runs the session from block 0: its events for blocks already reported are not news.
    if (event.type === 'block') {
      if (event.block <= this.#lastBlock) return;
      this.#lastBlock = event.block;
      const elapsedMs = Date.now() - this.#startedAt;
      this.#options.onProgress?.({ blocksDone: event.block + 1, blocksTotal: this.#request.blocks, framesDone: this.#received, elapsedMs, fps: elapsedMs > 0 ? (this.#received * 1000) / elapsedMs : 0 });
    } else if (event.type === 'recache') {
      if (event.beforeBlock <= this.#lastRecache) return;
      this.#lastRecache = event.beforeBlock;
    } else if (event.type === 'switch') {
      const key = `${event.fromBlock}:${event.prompt}`;
      if (this.#reportedSwitches.has(key)) return;
      this.#reportedSwitches.add(key);
    }
    for (const listener of this.#listeners) listener(event);
  }

  /** The current attempt, once placed; a control call made during a failover waits for the new one. */
  async #current(): Promise<Attempt> {
    for (;;) {
      if (this.#finished) throw new SessionEndedError();
      const attempt = this.#attempt && !this.#attempt.dead && this.#attempt.accepted ? this.#attempt : await this.#placed.promise;
      if (!attempt.dead) return attempt;
    }
  }

  async #control(control: ControlRequest): Promise<{ fromBlock?: number }> {
    for (;;) {
      const attempt = await this.#current();
      try {
        const msg = await this.#ctx.nc.request(attempt.subjects.control, encodeClusterMessage(control), { timeout: this.#ctx.options.deadAfterMs * 2 });
        const reply = decodeControlReply(msg.data, msg.subject);
        if (!reply.ok) throw new ClusterSessionError(attempt.worker, 'Error', undefined, reply.message);
        return reply;
      } catch (err) {
        if (err instanceof ClusterSessionError) throw err;
        // No answer: the worker is gone or the server away. Sent again to the next attempt
        // (this one's failover is noticed by the heartbeat check), or here after a reconnect.
        if (this.#finished) throw err;
        if (this.#attempt === attempt && !attempt.dead) await wait(250);
      }
    }
  }

  async switchPrompt(prompt: string): Promise<{ readonly fromBlock: number }> {
    const reply = await this.#control({ type: 'switch', prompt });
    const fromBlock = reply.fromBlock ?? this.#request.blocks;
    this.#live.push({ atBlock: fromBlock, prompt });
    return { fromBlock };
  }
  pause(): void {
    this.#userPaused = true;
    void this.#control({ type: 'pause' }).catch(() => undefined);
  }
  resume(): void {
    this.#userPaused = false;
    void this.#control({ type: 'resume' }).catch(() => undefined);
  }
  setPriority(level: SessionPriority): void {
    checkPriority(level);
    this.#priority = level;
    void this.#control({ type: 'priority', level }).catch(() => undefined);
  }
  stop(): void {
    this.#stopped = true;
    void this.#control({ type: 'stop' }).catch(() => undefined);
  }
  on(listener: (event: SessionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  onSnapshot(listener: (snapshot: SnapshotNotice) => void): () => void {
    this.#snapshotListeners.add(listener);
    return () => this.#snapshotListeners.delete(listener);
  }
  async [ASYNC_DISPOSE](): Promise<void> {
    if (this.#finished) return;
    this.#end(true);
  }

  #abort(error: unknown): void {
    this.#fail(error);
  }

  /** Deletes the session's snapshots from the store (the worker keeps a few; the client owns them). */
  async #forgetSnapshots(): Promise<void> {
    const names = [...new Set(this.snapshots.flatMap((s) => [s.name, ...s.parts]))];
    if (names.length === 0) return;
    const store = await this.#ctx.snapshotStore();
    await Promise.all(names.map((name) => store?.delete(name).catch(() => undefined)));
  }

  #cleanup(): void {
    this.#finished = true;
    void this.#forgetSnapshots();
    if (this.#timer) clearInterval(this.#timer);
    const attempt = this.#attempt;
    if (attempt && !attempt.dead) {
      attempt.dead = true;
      for (const s of attempt.subs) s.unsubscribe();
    }
    this.#placed.reject(new SessionEndedError());
    this.#placed.promise.catch(() => undefined);
    this.#ctx.forget(this);
  }

  /** Ends the frames: after those received (`drop` false), or at once (the remote session is stopped). */
  #end(drop: boolean): void {
    if (this.#finished) return;
    const attempt = this.#attempt;
    if (drop && attempt && !attempt.dead) this.#publish(attempt, { type: 'close' });
    this.#cleanup();
    this.#inbox.end(drop);
  }

  #fail(error: unknown): void {
    if (this.#finished) return;
    const attempt = this.#attempt;
    if (attempt && !attempt.dead) this.#publish(attempt, { type: 'close' });
    this.#cleanup();
    this.#inbox.fail(error);
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (e: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
