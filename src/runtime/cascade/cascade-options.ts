/**
 * Block Cascading settings: how many blocks denoise at once, what they see of each other, and
 * how their forwards are executed.
 */
import { InvalidOptionError } from '../errors.js';

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

export interface CascadeOptions {
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
}

/** Sequential generation: the default. */
export const SEQUENTIAL_CASCADE: CascadeOptions = { parallelism: 0, attention: 'bidirectional', exec: 'joint' };

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
 * Checks cascade options against each other and the lane count; fills defaults.
 *
 * @example
 * ```ts
 * resolveCascade({ parallelism: 4, exec: 'lanes' }, 2); // { parallelism: 4, attention: 'bidirectional', exec: 'lanes' }
 * ```
 */
export function resolveCascade(options: Partial<CascadeOptions> | undefined, lanes: number): CascadeOptions {
  const cascade = { ...SEQUENTIAL_CASCADE, ...options };
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
  return cascade;
}
