/**
 * Stores one session's snapshots in the cluster's object store, one at a time and off the
 * generation's path: the runtime hands a snapshot over and goes on; a snapshot that arrives
 * while the previous one is still being stored replaces any other waiting one (only the newest
 * matters for a resume). Once stored, the client is told (a {@link SnapshotNotice}). A snapshot
 * is deleted once the client has every frame of a newer one (it resumes from the newest snapshot
 * at or below the frames it has, which may be older than the newest stored: the worker runs
 * ahead of what the client received by its credit and buffer), or when more than
 * {@link SNAPSHOTS_KEPT} are stored.
 */
import type { GenerationSnapshot } from '../core/api-types.js';
import { snapshotName, SNAPSHOTS_KEPT } from './bucket.js';
import type { SnapshotNotice } from './messages.js';
import type { SnapshotStorage } from './snapshot-storage.js';

/**
 * A session's snapshot writer.
 *
 * @example
 * ```ts
 * const writer = new SnapshotWriter(storage, 'c1-s1', (notice) => nc.publish(subjects.event, encodeClusterMessage(notice)));
 * runtime.session(request, { snapshots: { every: 4, onSnapshot: (s) => writer.offer(s) } });
 * ```
 */
export class SnapshotWriter {
  readonly #store: SnapshotStorage;
  readonly #key: string;
  readonly #notify: (notice: SnapshotNotice) => void;
  readonly #log: (line: string) => void;
  #waiting: GenerationSnapshot | null = null;
  #busy = false;
  /** Resolves when the puts under way are stored and announced. */
  #drained: Promise<void> = Promise.resolve();
  /** Takes no more snapshots (the session's frames are all out). */
  #closed = false;
  #stopped = false;
  /** Snapshots stored by this writer, oldest first. */
  readonly #stored: { readonly name: string; readonly firstFrame: number }[] = [];
  /** Frames the client reported it has. */
  #received = 0;

  constructor(store: SnapshotStorage, key: string, notify: (notice: SnapshotNotice) => void, log: (line: string) => void = () => {}) {
    this.#store = store;
    this.#key = key;
    this.#notify = notify;
    this.#log = log;
  }

  /** Takes a snapshot to store (the runtime's `onSnapshot`); returns at once. */
  offer(snapshot: GenerationSnapshot): void {
    if (this.#stopped || this.#closed) return;
    this.#waiting = snapshot;
    if (!this.#busy) this.#drained = this.#drain();
  }

  /** The client has `frames` frames: snapshots older than the newest one at or below them can go. */
  received(frames: number): void {
    if (frames <= this.#received) return;
    this.#received = frames;
    void this.#prune();
  }

  /**
   * The session's frames are all out: takes no more snapshots, drops a waiting one, and resolves
   * once the one being stored is stored and announced (so the announcement precedes the
   * session's end, which the client stops listening at).
   */
  finish(): Promise<void> {
    this.#closed = true;
    this.#waiting = null;
    return this.#drained;
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
    const bytes = snapshot.bytes.byteLength;
    let storeMs: number;
    try {
      storeMs = await this.#store.put(name, snapshot.bytes);
    } catch (err) {
      // A lost snapshot costs only a longer replay if a failover comes before the next one.
      this.#log(`snapshot ${name}: not stored (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    if (this.#stopped) return;
    this.#notify({ type: 'snapshot', block: snapshot.block, firstFrame: snapshot.firstFrame, name, bytes, captureMs: snapshot.captureMs, storeMs });
    if (!this.#stored.some((s) => s.name === name)) this.#stored.push({ name, firstFrame: snapshot.firstFrame });
    await this.#prune();
  }

  async #prune(): Promise<void> {
    if (this.#stopped) return;
    let keepFrom = 0;
    this.#stored.forEach((s, i) => {
      if (s.firstFrame <= this.#received) keepFrom = i;
    });
    keepFrom = Math.max(keepFrom, this.#stored.length - SNAPSHOTS_KEPT);
    for (const old of this.#stored.splice(0, keepFrom)) await this.#store.delete(old.name).catch(() => undefined);
  }
}
