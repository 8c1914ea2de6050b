/**
 * Block Cascading settings: how many blocks denoise at once, what they see of each other, and
 * how their forwards are executed.
 */
import { InvalidOptionError } from './errors.js';

/** Parallelism level P: lag Δ = 5 − P stages between consecutive blocks; P0 is sequential. */
export type Parallelism = 0 | 1 | 2 | 3 | 4;
/** Lag Δ in stages between consecutive blocks: 5 is sequential, 1 is fully parallel. */
export type Lag = 1 | 2 | 3 | 4 | 5;
/**
 * What in-flight blocks see of each other: `causal` (a block sees older in-flight blocks),
 * `bidirectional` (all in-flight blocks see each other; the paper's recommended mode).
 */
export type AttentionMode = 'causal' | 'bidirectional';
/**
 * How a tick's forwards run: `joint` (all in-flight blocks in one forward on one lane) or
 * `lanes` (their frames spread over the lanes, K/V exchanged at every layer).
 */
export type ExecMode = 'joint' | 'lanes';

/**
 * What a prompt switch does to the KV cache in sequential mode: `on` re-caches like LongLive
 * (one forward over the cached frames' clean latents at t = 0 under the new prompt, before the
 * first block under it), `off` keeps the K/V made under the old prompt. Cascades never re-cache:
 * their in-flight blocks already take the new prompt at their next step.
 */
export type RecacheMode = 'on' | 'off';

export interface CascadeOptions {
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
  /** Default at P0: the model package's `kv.recache`, else `on`; `off` in a cascade (where `on` is an error). */
  readonly recache: RecacheMode;
}

/** Sequential generation: the default. */
export const SEQUENTIAL_CASCADE: CascadeOptions = { parallelism: 0, attention: 'bidirectional', exec: 'joint', recache: 'on' };

/**
 * Lag of a parallelism level.
 *
 * @example
 * ```ts
 * lagOf(4); // 1: one block admitted per tick, five in flight
 * ```
 */
export function lagOf(parallelism: Parallelism): Lag {
  return (5 - parallelism) as Lag;
}

/**
 * Checks cascade options against each other and the lane count; fills defaults. `recache`
 * defaults to `sequentialRecache` at P0 (the model package's `kv.recache`, else `on`) and to
 * `off` in a cascade.
 *
 * @example
 * ```ts
 * resolveCascade({ parallelism: 4, exec: 'lanes' }, 2); // { parallelism: 4, attention: 'bidirectional', exec: 'lanes', recache: 'off' }
 * resolveCascade({}, 1, 'off').recache; // 'off': the model says it switches better without
 * ```
 */
export function resolveCascade(options: Partial<CascadeOptions> | undefined, lanes: number, sequentialRecache: RecacheMode = 'on'): CascadeOptions {
  const merged = { ...SEQUENTIAL_CASCADE, ...options };
  const cascade = { ...merged, recache: options?.recache ?? (merged.parallelism === 0 ? sequentialRecache : 'off') };
  if (![0, 1, 2, 3, 4].includes(cascade.parallelism)) {
    throw new InvalidOptionError('parallelism', 'an integer from 0 to 4', cascade.parallelism);
  }
  if (cascade.attention !== 'causal' && cascade.attention !== 'bidirectional') {
    throw new InvalidOptionError('attention', '"causal" or "bidirectional"', cascade.attention);
  }
  if (cascade.exec !== 'joint' && cascade.exec !== 'lanes') {
    throw new InvalidOptionError('exec', '"joint" or "lanes"', cascade.exec);
  }
  if (cascade.exec === 'lanes' && lanes < 2) {
    throw new InvalidOptionError('exec', `"joint" with ${lanes} lane ("lanes" spreads a tick's frames over two or more lanes)`, cascade.exec);
  }
  if (cascade.recache !== 'on' && cascade.recache !== 'off') {
    throw new InvalidOptionError('recache', '"on" or "off"', cascade.recache);
  }
  if (cascade.recache === 'on' && cascade.parallelism !== 0) {
    throw new InvalidOptionError('recache', `"off" at P${cascade.parallelism} (a cascade switches prompts without re-cache; re-cache is for P0)`, cascade.recache);
  }
  return cascade;
}
