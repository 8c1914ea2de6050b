/**
 * A session's priority ({@link SessionOptions.priority}) as the lanes see it: the runtime keeps
 * one set of preferred memory sets, shared by its lanes, and each session adds its own set
 * while it is `'high'` and holds one.
 */
import { checkPriority } from '../core/options.js';
import type { SessionPriority } from '../core/session-types.js';

/**
 * @example
 * ```ts
 * const preferred = new Set<number>();
 * const priority = new PriorityHolder('high', preferred);
 * priority.bind(2); // preferred: {2}
 * priority.set('normal'); // preferred: {}
 * ```
 */
export class PriorityHolder {
  #level: SessionPriority;
  #memory: number | null = null;

  constructor(level: SessionPriority, private readonly preferred: Set<number>) {
    this.#level = level;
  }

  /** Changes the level; takes effect at once when the session holds a memory set. */
  set(level: SessionPriority): void {
    checkPriority(level);
    this.#level = level;
    this.#apply();
  }

  /** The session took memory set `memory`. */
  bind(memory: number): void {
    this.#memory = memory;
    this.#apply();
  }

  /** The session gives its memory set back: the next session on it starts at its own level. */
  unbind(): void {
    if (this.#memory !== null) this.preferred.delete(this.#memory);
    this.#memory = null;
  }

  #apply(): void {
    if (this.#memory === null) return;
    if (this.#level === 'high') this.preferred.add(this.#memory);
    else this.preferred.delete(this.#memory);
  }
}
