/**
 * Wakes a client that waits for capacity as soon as the workers bucket changes (a worker
 * registering, or a registered one writing its new load), instead of at its next poll: a
 * session failing over to a worker that is still starting is placed the moment that worker is
 * ready. A JetStream watch of the bucket's updates, opened on the first wait and opened again
 * after it ends (a server restart); while it cannot be opened (no worker has created the bucket
 * yet), waits are plain timeouts.
 */
import { KvWatchInclude, type KV } from '@nats-io/kv';

/**
 * @example
 * ```ts
 * const watch = new WorkerWatch(() => new Kvm(nc).open(WORKERS_BUCKET));
 * await watch.changed(250); // a put to the bucket, or 250 ms
 * watch.close();
 * ```
 */
export class WorkerWatch {
  readonly #open: () => Promise<KV>;
  readonly #wakers = new Set<() => void>();
  #stop: (() => void) | null = null;
  #opening = false;
  #closed = false;

  /** @param open - Opens the workers bucket (it may not exist yet: then the waits time out). */
  constructor(open: () => Promise<KV>) {
    this.#open = open;
  }

  /** Resolves at the next put to the bucket, or after `ms` milliseconds, whichever comes first. */
  changed(ms: number): Promise<void> {
    this.#watch();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  /** Stops the watch and releases every waiter. */
  close(): void {
    this.#closed = true;
    this.#stop?.();
    this.#stop = null;
    this.#wake();
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  #watch(): void {
    if (this.#closed || this.#opening || this.#stop !== null) return;
    this.#opening = true;
    void (async () => {
      try {
        const updates = await (await this.#open()).watch({ include: KvWatchInclude.UpdatesOnly });
        if (this.#closed) return updates.stop();
        this.#stop = () => updates.stop();
        this.#opening = false;
        for await (const entry of updates) if (entry.operation === 'PUT') this.#wake();
      } catch {
        // No bucket yet, or the watch broke: the waits fall back to their timeouts, and the next one opens it again.
      } finally {
        this.#opening = false;
        this.#stop = null;
      }
    })();
  }
}
