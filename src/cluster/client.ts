/**
 * The cluster client: `connect()` to NATS, then `session()` sessions that run on workers with
 * the same live interface as `runtime.session()`. A session is placed on the least-loaded
 * worker with a free session, which snapshots it every few blocks into the cluster's object
 * store; when that worker dies (its connection gone, or no heartbeat) or frames go missing (a
 * gap, e.g. across a server restart), the session is placed again and resumed from the newest
 * snapshot the client has every frame before (or replayed from block 0 without one) with the
 * switches that had landed, the new worker publishing only the frames the client does not have
 * yet: the consumer sees every frame once, byte-identical to an uninterrupted run
 * (docs/cluster.md).
 */
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { ASYNC_DISPOSE } from '../core/dispose.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkClusterOptions, checkClusterSession } from './cluster-options.js';
import { ClusterClosedError } from './errors.js';
import type { Cluster, ClusterOptions } from './cluster-types.js';
import { decodeWorkerInfo } from './messages.js';
import { checkNatsAuth } from './nats-auth.js';
import { openNats } from './nats-connection.js';
import { SNAPSHOTS_BUCKET } from './bucket.js';
import { DEFAULT_STALE_AFTER_MS, RecentOffers, type WorkerEntry } from './placement.js';
import { RemoteSession, type Context } from './remote-session.js';
import { WORKERS_BUCKET } from './subjects.js';
import { WorkerWatch } from './worker-watch.js';
import { DEFAULT_KEYFRAME_EVERY } from './snapshot-defaults.js';

export type { Cluster, ClusterOptions, ClusterSession, Failover } from './cluster-types.js';

/** How long one listing of the workers bucket may take, and how many are tried. */
const LISTING_TIMEOUT_MS = 2000;
const LISTING_ATTEMPTS = 3;

let nextClientId = 0;

export { DEFAULT_KEYFRAME_EVERY, DEFAULT_SNAPSHOT_EVERY } from './snapshot-defaults.js';

/**
 * Connects to a cluster's NATS server(s); reconnects forever after a server restart.
 *
 * @example
 * ```ts
 * const cluster = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const session = cluster.session({ seed: 1, blocks: 64, prompt: 'red ball moving left' });
 * for await (const frame of session.frames) show(frame);
 * await cluster.close();
 * ```
 */
export async function connect(options: ClusterOptions): Promise<Cluster> {
  checkClusterOptions(options);
  const settings: Context['options'] = {
    deadAfterMs: options.deadAfterMs ?? 1500,
    probeAfterMs: options.probeAfterMs ?? 100,
    creditFrames: options.creditFrames ?? 24,
    openTimeoutMs: options.openTimeoutMs ?? 2000,
    failoverTimeoutMs: options.failoverTimeoutMs ?? 60_000,
    stallMs: options.stallMs ?? 1000,
    staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
    // Absent: the worker's choice, by the session's parallelism (`snapshotEveryFor`).
    snapshotEvery: options.snapshotEvery ?? null,
    keyframeEvery: options.keyframeEvery ?? DEFAULT_KEYFRAME_EVERY,
  };
  checkNatsAuth(options.auth);
  if (settings.snapshotEvery !== null && (!Number.isSafeInteger(settings.snapshotEvery) || settings.snapshotEvery < 0)) throw new InvalidOptionError('snapshotEvery', 'an integer ≥ 0 (0 = no snapshots)', options.snapshotEvery);
  if (!Number.isSafeInteger(settings.keyframeEvery) || settings.keyframeEvery < 0) throw new InvalidOptionError('keyframeEvery', 'an integer ≥ 0 (0 = every snapshot holds its K/V)', options.keyframeEvery);
  const nc = await openNats({ servers: options.servers, name: 'block-cascade client', auth: options.auth });
  const sessions = new Set<RemoteSession>();
  let isConnected = true;
  // While the server is away no heartbeat can arrive: that is no sign of a dead worker, so
  // the sessions' clocks restart when the connection is back.
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') isConnected = false;
      if (s.type === 'reconnect') {
        isConnected = true;
        for (const session of sessions) session.reconnected();
      }
    }
  })();
  let kv: KV | null = null;
  /** One listing of the bucket; `stop` ends a listing that stalls. */
  const listOnce = async (listing: { stop?: () => void }): Promise<WorkerEntry[]> => {
    // Opened lazily: the bucket exists once a worker has started.
    kv ??= await new Kvm(nc).open(WORKERS_BUCKET);
    const bucket = kv;
    const out: WorkerEntry[] = [];
    const keys = await bucket.keys();
    listing.stop = () => keys.stop();
    for await (const key of keys) {
      const entry = await bucket.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      try {
        out.push({ info: decodeWorkerInfo(entry.value, `${WORKERS_BUCKET}.${key}`), writtenAt: entry.created.getTime() });
      } catch {
        // A malformed entry (another version, a stray put) is no worker to place on.
      }
    }
    return out;
  };
  const entries = async (): Promise<WorkerEntry[]> => {
    for (let attempt = 1; ; attempt++) {
      const listing: { stop?: () => void } = {};
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), LISTING_TIMEOUT_MS)));
      const found = await Promise.race([listOnce(listing), stalled]).finally(() => clearTimeout(timer));
      if (found !== null) return found;
      // A key listing of a bucket whose entries expire can stall for good (seen here with 4
      // sessions placed at once): end it and list again on a freshly opened bucket.
      listing.stop?.();
      kv = null;
      if (attempt === LISTING_ATTEMPTS) throw new Error(`listing the ${WORKERS_BUCKET} bucket stalled ${LISTING_ATTEMPTS} times (${LISTING_TIMEOUT_MS} ms each)`);
    }
  };
  const watch = new WorkerWatch(() => new Kvm(nc).open(WORKERS_BUCKET));
  let store: Promise<ObjectStore> | null = null;
  const context: Context = {
    nc,
    snapshotStore: async () => {
      store ??= new Objm(nc).open(SNAPSHOTS_BUCKET);
      return store.catch(() => {
        store = null;
        return null;
      });
    },
    clientId: `c${process.pid}x${nextClientId++}x${Date.now().toString(36)}`,
    options: settings,
    offers: new RecentOffers(),
    entries: () => entries().catch(() => {
      kv = null;
      return [];
    }),
    workersChanged: (ms) => watch.changed(ms),
    connected: () => isConnected,
    forget: (s) => sessions.delete(s),
  };
  let sessionNo = 0;
  let closing: Promise<void> | null = null;
  // Every call returns the same promise, resolved once the connection has drained.
  const close = () =>
    (closing ??= (async () => {
      await Promise.all([...sessions].map((s) => s[ASYNC_DISPOSE]()));
      watch.close();
      await nc.drain().catch(() => undefined);
    })());
  return {
    session(request, sessionOptions = {}) {
      // Refused at the call, as `runtime.session` refuses, and before any worker is asked.
      checkClusterSession(request, sessionOptions);
      if (closing !== null) throw new ClusterClosedError();
      const session = new RemoteSession(context, ++sessionNo, request, sessionOptions);
      sessions.add(session);
      return session;
    },
    async workers() {
      if (closing !== null) throw new ClusterClosedError();
      const now = Date.now();
      return (await context.entries()).filter((e) => now - e.writtenAt <= settings.staleAfterMs).map((e) => e.info).sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    close,
    [ASYNC_DISPOSE]: close,
  };
}
