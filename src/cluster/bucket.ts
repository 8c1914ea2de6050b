/**
 * The cluster's JetStream buckets: the workers' KV bucket (settings shared by workers, which
 * create it, and clients, which read it: JetStream refuses to open a bucket with a different
 * configuration) and the sessions' snapshot object store.
 */
import { StorageType } from '@nats-io/obj';
import { nanos } from '@nats-io/transport-node';

/**
 * Age at which a worker's entry leaves the bucket (its stream's max age): a worker refreshes its
 * entry every second, so a dead one disappears within this time.
 */
export const WORKERS_BUCKET_TTL_MS = 4000;

/** The object store where workers keep sessions' snapshots (docs/cluster.md). */
export const SNAPSHOTS_BUCKET = 'block_cascade_snapshots';

/**
 * Age at which a snapshot leaves the store if nobody deleted it: a client deletes its session's
 * snapshots when the session ends, so only those of clients that died stay this long.
 */
export const SNAPSHOTS_TTL_MS = 3_600_000;

/**
 * The snapshot store's settings, the same wherever it is created (JetStream refuses another
 * configuration): file storage, so snapshots survive a server restart.
 */
export const SNAPSHOTS_STORE_OPTIONS = { storage: StorageType.File, ttl: nanos(SNAPSHOTS_TTL_MS) };

/** Object store chunk size for snapshots: NATS's default max_payload, fewer messages per snapshot than the library's 128 KiB. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/**
 * Snapshots a worker keeps per session at most. It deletes those the client no longer needs as
 * the client reports the frames it has (a resume needs one at or below them); this bounds the
 * rest when a client reports nothing.
 */
export const SNAPSHOTS_KEPT = 16;

/**
 * The object name of a session's snapshot: the session's key (stable over its failovers), the
 * writer that stored it (one per placement: a resumed session's snapshots are another chain, and
 * must not replace the ones a later resume may still merge) and its number in that chain.
 *
 * @example
 * ```ts
 * snapshotName('c12x0-s1', 'w3f9a', 8); // 'c12x0-s1.w3f9a.s8'
 * ```
 */
export function snapshotName(sessionKey: string, writer: string, seq: number): string {
  return `${sessionKey}.${writer}.s${seq}`;
}
