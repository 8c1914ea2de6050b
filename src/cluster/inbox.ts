/**
 * The frames a remote session has received and the consumer not yet read: an unbounded queue
 * in type, bounded in practice by the credit the client grants (the worker publishes no frame
 * past it).
 */
import type { Frame } from '../core/api-types.js';

/** A one-reader async queue that ends or fails once. */
export class Inbox {
  readonly #items: Frame[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  #error: unknown = null;

  get ended(): boolean {
    return this.#ended;
  }
  get length(): number {
    return this.#items.length;
  }
  push(frame: Frame): void {
    if (this.#ended) return;
    this.#items.push(frame);
    this.#wake?.();
  }
  /** Ends the queue; frames already in it are still read (`drop`: they are not). */
  end(drop = false): void {
    if (this.#ended) return;
    this.#ended = true;
    if (drop) this.#items.length = 0;
    this.#wake?.();
  }
  /** Fails the queue: the reader gets `error` at once (frames not yet read are dropped). */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#error = error;
    this.end(true);
  }
  /** The next frame, or null at the end; throws the failure. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const frame = this.#items.shift();
      if (frame) return frame;
      if (this.#ended) {
        if (this.#error !== null) throw this.#error;
        return null;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
  }
}
