/** Parsers for numeric command-line options: they turn bad input into commander's usage errors. */
import { InvalidArgumentError } from 'commander';

/**
 * Parses a positive integer (`--blocks 8`).
 *
 * @throws {InvalidArgumentError} which commander prints as `option '--blocks <n>' argument '0' is invalid. expected a positive integer`.
 *
 * @example
 * ```ts
 * program.option('--blocks <n>', 'blocks to generate', parsePositiveInt);
 * ```
 */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/**
 * Parses a non-negative integer (`--seed 0`, `--warmup 0`).
 *
 * @example
 * ```ts
 * program.option('--seed <s>', 'noise seed', parseNonNegativeInt);
 * ```
 */
export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/**
 * Parses a positive number (`--fps 12.5`).
 *
 * @example
 * ```ts
 * program.option('--fps <n>', 'GIF frame rate', parsePositiveNumber, 16);
 * ```
 */
export function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/**
 * Parses a TCP port (`--port 8080`; 0 lets the system pick a free one).
 *
 * @example
 * ```ts
 * program.option('--port <n>', 'port on 127.0.0.1', parsePort, 0);
 * ```
 */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n > 65535) throw new InvalidArgumentError('expected a port in [0, 65535] (0 picks a free one)');
  return n;
}

/**
 * Parses a scale factor (`--scale 4`): an integer in 1..16, each pixel becoming an N×N block.
 *
 * @example
 * ```ts
 * program.option('--scale <n>', 'enlarge every output N times', parseScale, 1);
 * ```
 */
export function parseScale(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < 1 || n > 16) throw new InvalidArgumentError('expected an integer from 1 to 16');
  return n;
}
