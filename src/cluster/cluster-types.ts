/**
 * The public shapes of the cluster client (`connect()` in `client.ts`): its options, a
 * connection, a session and a failover.
 */
import type { GenerateRequest } from '../core/api-types.js';
import type { ASYNC_DISPOSE } from '../core/dispose.js';
import type { GenerationSession, SessionOptions } from '../core/session-types.js';
import type { SnapshotNotice, WorkerInfo } from './messages.js';
import type { NatsAuth } from './nats-auth.js';

/** Options of {@link connect}. */
export interface ClusterOptions {
  /** NATS server URL(s). */
  readonly servers: string | readonly string[];
  /** Credentials and TLS for the server ({@link NatsAuth}). */
  readonly auth?: NatsAuth;
  /** A worker silent this long is taken for dead and its sessions move. Default 1500 ms. */
  readonly deadAfterMs?: number;
  /**
   * A worker silent this long is pinged; when the server twice answers that nothing listens
   * (the worker's connection is gone, e.g. after kill -9), its sessions move without waiting
   * for `deadAfterMs`. Default 100 ms, under one heartbeat period: a live worker is then pinged
   * most of the time, one round trip every 0.1 s per session, which proves nothing either way,
   * while a dead one is noticed about 0.15 s sooner than after a missed heartbeat (300 ms).
   */
  readonly probeAfterMs?: number;
  /** Frames a worker may publish beyond those the consumer has read. Default 24. */
  readonly creditFrames?: number;
  /** How long a worker has to answer `open`. Default 2000 ms. */
  readonly openTimeoutMs?: number;
  /** How long a failover keeps looking for a free worker before the session fails. Default 60 s. */
  readonly failoverTimeoutMs?: number;
  /** Frames the worker says it published but that did not arrive for this long count as lost. Default 1000 ms. */
  readonly stallMs?: number;
  /** Worker entries older than this are not offered sessions. Default 3000 ms. */
  readonly staleAfterMs?: number;
  /**
   * Every this many blocks the worker snapshots a session into the cluster's object store, and
   * a failover resumes from the newest snapshot instead of replaying from block 0. 0 turns
   * snapshots off. Default: every block for a session at parallelism 0 with K/V keyframes on
   * (a snapshot between keyframes holds a block's latents, so a failover makes no block twice),
   * every 4 blocks otherwise (`snapshotEveryFor`).
   */
  readonly snapshotEvery?: number;
  /**
   * K/V keyframes for sessions at parallelism 0 (`SnapshotOptions.keyframeEvery`): a snapshot
   * holds the K/V cache only when this many blocks have been cached since the last one that
   * did; those between hold the latents of the blocks since (kilobytes, not megabytes), whose
   * cache steps a failover runs again (one forward each). Default 16; 0: every snapshot holds
   * its K/V.
   */
  readonly keyframeEvery?: number;
}

/** One move of a session to another worker. */
export interface Failover {
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  /** Frames the client had when it moved (the new worker starts publishing there). */
  readonly atFrame: number;
  /** `Date.now()` when the loss was noticed and when the new worker accepted. */
  readonly detectedAt: number;
  readonly placedAt: number;
  /** The block of the snapshot the new worker resumed from; absent when it replayed from block 0. */
  readonly fromSnapshot?: number;
}

/** A session of a {@link Cluster}: a {@link GenerationSession} that also says where it runs. */
export interface ClusterSession extends GenerationSession {
  /** The worker running it now (undefined before placement). */
  readonly worker: string | undefined;
  /** Its moves so far. */
  readonly failovers: readonly Failover[];
  /** The snapshots its workers stored so far, oldest first. */
  readonly snapshots: readonly SnapshotNotice[];
  /**
   * Calls `listener` with each snapshot its workers store from now on; returns the unsubscribe
   * function.
   *
   * @example
   * ```ts
   * const session = cluster.session({ seed: 1, blocks: 64, prompt: 'red ball moving left' });
   * session.onSnapshot((s) => console.log(`resumable from frame ${s.firstFrame}`));
   * ```
   */
  onSnapshot(listener: (snapshot: SnapshotNotice) => void): () => void;
}

/** A connection to a cluster (see {@link connect}). */
export interface Cluster {
  /**
   * Starts a session on a worker; the same live interface as `runtime.session()`. Placement
   * happens when `frames` iteration starts; no free worker fails it with {@link NoCapacityError}.
   * `onProgress` and `signal` work; `trace`, `snapshots` and `resumeFrom` stay on the worker's
   * side and are refused at the call, as a bad request is (`InvalidOptionError`); after
   * {@link close}, `ClusterClosedError`.
   */
  session(request: GenerateRequest, options?: SessionOptions): ClusterSession;
  /** The workers registered now (fresh KV entries); after {@link close}, `ClusterClosedError`. */
  workers(): Promise<WorkerInfo[]>;
  /** Ends every session and closes the connection; every call returns the same promise. */
  close(): Promise<void>;
  [ASYNC_DISPOSE](): Promise<void>;
}
