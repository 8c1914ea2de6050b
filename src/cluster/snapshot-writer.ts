/**
 * Stores one session's snapshots in the cluster's object store, one at a time and off the
 * generation's path: the runtime hands a snapshot over and goes on; a snapshot that arrives
 * while the previous one is still being stored replaces any other waiting one (only the newest
 * matters for a resume). Once stored, the client is told (a {@link SnapshotNotice}), and the
 * worker's older ones beyond {@link SNAPSHOTS_KEPT} are deleted.
 */
import { performance } from 'node:perf_hooks';
import type { ObjectStore } from '@nats-io/obj';
import type { GenerationSnapshot } from '../core/api-types.js';
import { snapshotName, SNAPSHOTS_KEPT } from './bucket.js';
import type { SnapshotNotice } from './messages.js';

/**
 * A session's snapshot writer.
 *
 * @example
 * ```ts
 * const writer = new SnapshotWriter(store, 'c1-s1', (notice) => nc.publish(subjects.event, encodeClusterMessage(notice)));
 * runtime.session(request, { snapshots: { every: 4, onSnapshot: (s) => writer.offer(s) } });
 * ```
 */
export class SnapshotWriter {
  readonly #store: ObjectStore;
  readonly #key: string;
  readonly #notify: (notice: SnapshotNotice) => void;
  readonly #log: (line: string) => void;
  #waiting: GenerationSnapshot | null = null;
  #busy = false;
  #stopped = false;
  /** Names stored by this writer, oldest first. */
  readonly #stored: string[] = [];

  constructor(store: ObjectStore, key: string, notify: (notice: SnapshotNotice) => void, log: (line: string) => void = () => {}) {
    this.#store = store;
    this.#key = key;
    this.#notify = notify;
    this.#log = log;
  }

  /** Takes a snapshot to store (the runtime's `onSnapshot`); returns at once. */
  offer(snapshot: GenerationSnapshot): void {
    if (this.#stopped) return;
    this.#waiting = snapshot;
    if (!this.#busy) void this.#drain();
  }

  /** Stores nothing more (the session ended); what it stored stays for the client to delete. */
  stop(): void {
    this.#stopped = true;
    this.#waiting = null;
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#waiting && !this.#stopped) {
        const snapshot = this.#waiting;
        this.#waiting = null;
        await this.#put(snapshot);
      }
    } finally {
      this.#busy = false;
    }
  }

  async #put(snapshot: GenerationSnapshot): Promise<void> {
    const name = snapshotName(this.#key, snapshot.block);
    const start = performance.now();
    try {
      await this.#store.putBlob({ name }, snapshot.bytes);
    } catch (err) {
      // A lost snapshot costs only a longer replay if a failover comes before the next one.
      this.#log(`snapshot ${name}: not stored (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    const storeMs = performance.now() - start;
    if (this.#stopped) return;
    this.#notify({ type: 'snapshot', block: snapshot.block, firstFrame: snapshot.firstFrame, name, bytes: snapshot.bytes.byteLength, captureMs: snapshot.captureMs, storeMs });
    if (!this.#stored.includes(name)) this.#stored.push(name);
    while (this.#stored.length > SNAPSHOTS_KEPT) {
      const old = this.#stored.shift() as string;
      await this.#store.delete(old).catch(() => undefined);
    }
  }
}
