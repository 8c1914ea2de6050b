/**
 * Stores one session's snapshots in the cluster's object store, in order and off the
 * generation's path: the runtime hands a snapshot over and goes on. The worker takes snapshots
 * incrementally: each holds only the K/V rows that the snapshots this writer keeps lack, and
 * names those (`requires`), so every snapshot is stored (none may be skipped while a later one
 * refers to it) and the runtime asks {@link SnapshotWriter.kept} before referring to one. Once a
 * snapshot is stored, and every one it refers to too, the client is told (a
 * {@link SnapshotNotice} with the names of those parts). A snapshot is deleted once no snapshot
 * the client could still resume from refers to it: the client resumes from the newest one at or
 * below the frames it has (the worker runs ahead of what the client received by its credit and
 * buffer), and at most {@link SNAPSHOTS_KEPT} announced ones are kept.
 */
import { randomBytes } from 'node:crypto';
import type { GenerationSnapshot } from '../core/api-types.js';
import { snapshotName, SNAPSHOTS_KEPT } from './bucket.js';
import type { SnapshotNotice } from './messages.js';
import type { SnapshotStorage } from './snapshot-storage.js';

/**
 * Bytes of snapshots waiting to be stored beyond which the waiting ones are dropped (a store far
 * slower than the generation): the runtime then refers to none of them, so the next snapshot
 * holds their rows again.
 */
const MAX_WAITING_BYTES = 64 * 1024 * 1024;

/** A snapshot this writer stored. */
interface Stored {
  readonly seq: number;
  readonly name: string;
  readonly firstFrame: number;
  readonly requires: readonly number[];
  /** The client was told (every part it refers to was stored). */
  readonly announced: boolean;
}

/**
 * A session's snapshot writer.
 *
 * @example
 * ```ts
 * const writer = new SnapshotWriter(storage, 'c1-s1', (notice) => nc.publish(subjects.event, encodeClusterMessage(notice)));
 * runtime.session(request, { snapshots: { every: 1, onSnapshot: (s) => writer.offer(s), incremental: { kept: (seq) => writer.kept(seq) } } });
 * ```
 */
export class SnapshotWriter {
  readonly #store: SnapshotStorage;
  readonly #key: string;
  readonly #id = `w${randomBytes(3).toString('hex')}`;
  readonly #notify: (notice: SnapshotNotice) => void;
  readonly #log: (line: string) => void;
  /**
   * Snapshots handed over and not stored yet, oldest first (the first may be being stored), with
   * their size (a put may move the bytes to another thread, leaving the array empty).
   */
  readonly #waiting: (GenerationSnapshot & { readonly size: number })[] = [];
  #waitingBytes = 0;
  #busy = false;
  /** Resolves when the puts under way are stored and announced. */
  #drained: Promise<void> = Promise.resolve();
  /** Takes no more snapshots (the session's frames are all out). */
  #closed = false;
  #stopped = false;
  /** Snapshots stored by this writer and not deleted, by seq (oldest first). */
  readonly #stored = new Map<number, Stored>();
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
    this.#waiting.push({ ...snapshot, size: snapshot.bytes.byteLength });
    this.#waitingBytes += snapshot.bytes.byteLength;
    if (this.#waitingBytes > MAX_WAITING_BYTES) this.#dropWaiting(`more than ${MAX_WAITING_BYTES} bytes waiting to be stored`);
    if (!this.#busy) this.#drained = this.#drain();
  }

  /**
   * Whether snapshot `seq` is stored or on its way (the runtime's `incremental.kept`): a later
   * snapshot may refer to its rows.
   */
  kept(seq: number): boolean {
    return this.#stored.has(seq) || this.#waiting.some((s) => s.seq === seq);
  }

  /** The client has `frames` frames: snapshots no snapshot it could resume from needs can go. */
  received(frames: number): void {
    if (frames <= this.#received) return;
    this.#received = frames;
    void this.#prune();
  }

  /**
   * The session's frames are all out: takes no more snapshots, drops the waiting ones, and
   * resolves once the one being stored is stored and announced (so the announcement precedes the
   * session's end, which the client stops listening at).
   */
  finish(): Promise<void> {
    this.#closed = true;
    this.#dropWaiting(null);
    return this.#drained;
  }

  /** Stores nothing more (the session ended); what it stored stays for the client to delete. */
  stop(): void {
    this.#stopped = true;
    this.#dropWaiting(null);
  }

  /** Drops every snapshot waiting but the one being stored. */
  #dropWaiting(reason: string | null): void {
    const dropped = this.#waiting.splice(this.#busy ? 1 : 0);
    for (const s of dropped) this.#waitingBytes -= s.size;
    if (reason !== null && dropped.length > 0) this.#log(`snapshots ${dropped.map((s) => s.seq).join(', ')} of ${this.#key}: not stored (${reason})`);
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#waiting.length > 0 && !this.#stopped) {
        const next = this.#waiting[0] as GenerationSnapshot & { readonly size: number };
        await this.#put(next, next.size);
        this.#waiting.shift();
        this.#waitingBytes -= next.size;
      }
    } finally {
      this.#busy = false;
    }
  }

  async #put(snapshot: GenerationSnapshot, size: number): Promise<void> {
    const name = snapshotName(this.#key, this.#id, snapshot.seq);
    let storeMs: number;
    try {
      storeMs = await this.#store.put(name, snapshot.bytes);
    } catch (err) {
      // A lost snapshot costs only a longer replay if a failover comes before the next one; the
      // runtime refers to it no more (it is not kept), so later ones hold its rows again.
      this.#log(`snapshot ${name}: not stored (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    if (this.#stopped) return;
    const announced = snapshot.requires.every((seq) => this.#stored.has(seq));
    this.#stored.set(snapshot.seq, { seq: snapshot.seq, name, firstFrame: snapshot.firstFrame, requires: snapshot.requires, announced });
    if (announced) {
      const parts = snapshot.requires.map((seq) => (this.#stored.get(seq) as Stored).name);
      this.#notify({ type: 'snapshot', block: snapshot.block, firstFrame: snapshot.firstFrame, name, parts, bytes: size, replays: snapshot.replays, captureMs: snapshot.captureMs, storeMs });
    } else {
      this.#log(`snapshot ${name}: stored but not announced (a snapshot it refers to was not stored)`);
    }
    await this.#prune();
  }

  async #prune(): Promise<void> {
    if (this.#stopped) return;
    const announced = [...this.#stored.values()].filter((s) => s.announced);
    let from = 0;
    announced.forEach((s, i) => {
      if (s.firstFrame <= this.#received) from = i;
    });
    const heads = announced.slice(Math.max(from, announced.length - SNAPSHOTS_KEPT));
    const needed = new Set([...heads, ...this.#waiting].flatMap((s) => [s.seq, ...s.requires]));
    // Stored after the newest head (not announced): a snapshot still waiting may refer to it.
    const newest = heads.at(-1)?.seq ?? -1;
    for (const s of [...this.#stored.values()]) {
      if (needed.has(s.seq) || s.seq > newest) continue;
      this.#stored.delete(s.seq);
      await this.#store.delete(s.name).catch(() => undefined);
    }
  }
}
