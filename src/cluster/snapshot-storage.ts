/**
 * Where a {@link SnapshotWriter} puts snapshots: the object store itself, or a thread of its own
 * that stores into it (what a worker uses, so that its generations' actors never wait for a put).
 */
import { Piscina } from 'piscina';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { ObjectStore } from '@nats-io/obj';
import { siblingModule } from '../core/source-modules.js';
import { SNAPSHOT_CHUNK_BYTES } from './bucket.js';
import type { NatsAuth } from './nats-auth.js';

/** How long `close` lets the puts under way finish. */
const CLOSE_GRACE_MS = 2000;

/** Puts and deletes snapshot objects by name. */
export interface SnapshotStorage {
  /** Stores `bytes` under `name`; resolves with the milliseconds the put took where it ran. */
  put(name: string, bytes: Uint8Array): Promise<number>;
  delete(name: string): Promise<void>;
}

/**
 * Snapshot storage on this thread, straight into an object store.
 *
 * @example
 * ```ts
 * const writer = new SnapshotWriter(objectStoreStorage(await new Objm(nc).open(SNAPSHOTS_BUCKET)), 'c1-s1', notify);
 * ```
 */
export function objectStoreStorage(store: ObjectStore): SnapshotStorage {
  return {
    async put(name, bytes) {
      const start = performance.now();
      await store.putBlob({ name, options: { max_chunk_size: SNAPSHOT_CHUNK_BYTES } }, bytes);
      return performance.now() - start;
    },
    async delete(name) {
      await store.delete(name);
    },
  };
}

/**
 * Snapshot storage on a thread of its own with its own connection to `servers`; the bytes are
 * moved to the thread, not copied. `close()` ends the thread.
 *
 * @example
 * ```ts
 * const storage = threadStorage(['nats://127.0.0.1:4222']);
 * await storage.put('c1-s1.b4', snapshot.bytes);
 * await storage.close();
 * ```
 */
export function threadStorage(servers: readonly string[], auth?: NatsAuth): SnapshotStorage & { close(): Promise<void> } {
  const { file, execArgv } = siblingModule(import.meta.url, './snapshot-store-thread');
  // `stricterFIFO`: puts and deletes reach the store in the order they were made (by default
  // Piscina sends a task it could not hand over at once to the back of its queue).
  const pool = new Piscina({ filename: file, minThreads: 1, maxThreads: 1, stricterFIFO: true, idleTimeout: Number.POSITIVE_INFINITY, execArgv, workerData: { servers: [...servers], auth } });
  // A reply to a task of a destroyed pool, or a thread dying between tasks, is an 'error' event,
  // which unheard would be an uncaught exception in the worker process.
  pool.on('error', () => undefined);
  const pending = new Set<Promise<unknown>>();
  const track = <T>(task: Promise<T>): Promise<T> => {
    pending.add(task);
    void task.then(
      () => pending.delete(task),
      () => pending.delete(task),
    );
    return task;
  };
  return {
    put(name, bytes) {
      // Moved, so the snapshot's buffer must be its own (a snapshot's bytes are).
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      return track(pool.run({ op: 'put', name, bytes: own }, { transferList: [own.buffer as ArrayBuffer] }) as Promise<number>);
    },
    async delete(name) {
      await track(pool.run({ op: 'delete', name }));
    },
    async close() {
      // Puts under way get a moment to finish (a snapshot half stored is one the next failover
      // cannot use), but no more: with the server gone they would wait for it forever.
      await Promise.race([Promise.allSettled([...pending]), delay(CLOSE_GRACE_MS, undefined, { ref: false })]);
      await pool.destroy();
    },
  };
}
