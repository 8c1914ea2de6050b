/**
 * Settings shared by the fuzz tests (test/fuzz-*.test.ts): a fixed seed, so that CI runs the
 * same cases every time, and a number of runs that `FUZZ_RUNS` scales (docs/fuzzing.md).
 *
 * `FUZZ_RUNS=20000 npx vitest run test/fuzz-` runs each property with 20,000 cases instead of
 * its default; `FUZZ_SEED=123` picks other cases. fast-check prints the seed and the shrunk
 * counterexample of a failure: the same `FUZZ_SEED` and `FUZZ_RUNS` replay it.
 */
import fc from 'fast-check';
import { expect } from 'vitest';

const fromEnv = (name: string, min: number): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}=${raw}: expected an integer ≥ ${min}`);
  return n;
};
const positive = (name: string) => fromEnv(name, 1);

/** The seed of every property; 0x5eed unless FUZZ_SEED says otherwise (fast-check's seeds may be negative). */
export const FUZZ_SEED = fromEnv('FUZZ_SEED', -(2 ** 31)) ?? 0x5eed;

/** Cases per property: `FUZZ_RUNS` when given, else the property's own default. */
export function runs(byDefault: number): number {
  return positive('FUZZ_RUNS') ?? byDefault;
}

/** fast-check parameters for one property: the fixed seed and `runs(byDefault)` cases. */
export function params<T>(byDefault: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: runs(byDefault), ...extra };
}

/**
 * Runs `f` and returns what it returned, or the error it threw after checking that the error is
 * one of `types` and that its message matches `where` (the place: a file, field, line or byte).
 * Anything else (a bare TypeError, RangeError, SyntaxError) fails the property.
 */
export function outcome<R>(f: () => R, types: readonly (abstract new (...args: never[]) => Error)[], where: RegExp): { ok: true; value: R } | { ok: false; error: Error } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    if (!types.some((t) => error instanceof t)) throw new Error(`untyped error: ${(error as Error)?.name}: ${(error as Error)?.message}`, { cause: error });
    expect((error as Error).message).toMatch(where);
    return { ok: false, error: error as Error };
  }
}

/** As {@link outcome}, for an async `f`. */
export async function outcomeAsync<R>(f: () => Promise<R>, types: readonly (abstract new (...args: never[]) => Error)[], where: RegExp): Promise<{ ok: true; value: R } | { ok: false; error: Error }> {
  try {
    return { ok: true, value: await f() };
  } catch (error) {
    if (!types.some((t) => error instanceof t)) throw new Error(`untyped error: ${(error as Error)?.name}: ${(error as Error)?.message}`, { cause: error });
    expect((error as Error).message).toMatch(where);
    return { ok: false, error: error as Error };
  }
}

/** JSON-like values with hostile corners: huge and odd numbers, long strings, prototype keys. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'hostile' },
    fc.constantFrom(null, true, false, 0, -0, 1, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity, '', ' ', '\u0000', '__proto__', 'constructor', 'toString'),
    fc.double(),
    fc.integer(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty')), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** A value nested `depth` deep in arrays. */
export function nested(depth: number, leaf: unknown = 0): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}
