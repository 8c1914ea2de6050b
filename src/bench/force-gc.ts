/**
 * A forced full garbage collection, with or without `node --expose-gc`. Heap figures taken
 * right after one measure what is still reachable, not how far behind the collector happens to
 * be, which is what a leak check needs.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A way to collect garbage, and where it came from (reported with the figures). */
export interface ForcedGc {
  readonly collect: () => void;
  /** `expose-gc`: node ran with `--expose-gc`; `v8-flags`: exposed at run time (see {@link forcedGc}). */
  readonly source: 'expose-gc' | 'v8-flags';
}

/**
 * `globalThis.gc` when node runs with `--expose-gc`; otherwise the flag is switched on through
 * `v8.setFlagsFromString` just long enough for a fresh VM context to pick up its own `gc`
 * (the way jest's leak detector does it), then switched off again, so neither the command
 * line nor a child process is needed and vitest workers get one too.
 *
 * @example
 * ```ts
 * const gc = forcedGc();
 * gc.collect();
 * console.log(process.memoryUsage().heapUsed, gc.source);
 * ```
 */
export function forcedGc(): ForcedGc {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return { collect: () => exposed(), source: 'expose-gc' };
  setFlagsFromString('--expose-gc');
  try {
    const collect = runInNewContext('gc') as unknown;
    if (typeof collect !== 'function') throw new Error('could not expose the garbage collector: run node with --expose-gc');
    return { collect: collect as () => void, source: 'v8-flags' };
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
