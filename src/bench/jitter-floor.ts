/**
 * The machine's own jitter, measured in the same run as a benchmark: `threads` worker threads
 * run fixed chunks of CPU work at once, and each thread's p99 ÷ median chunk time is what this
 * machine's scheduling alone does to work that never changes. `bench --sessions` runs it with
 * one thread per lane, chunks as long as its median block interval, and prints it beside its
 * worst p99/p50 (docs/serving.md): the floor under that figure on this machine.
 */
import { Piscina } from 'piscina';
import { siblingModule } from '../core/source-modules.js';
import { waitAsync } from '../core/wait-async.js';
import { percentile } from './sessions-bench.js';

const jitterWorker = siblingModule(import.meta.url, './jitter-worker');

/** Chunks per thread that `bench --sessions` times: enough for a p99 that is not simply the largest. */
export const JITTER_FLOOR_CHUNKS = 300;

/** What one probe thread receives. */
export interface JitterTask {
  readonly index: number;
  readonly chunks: number;
  readonly chunkMs: number;
  /** Int32 [threads ready, start]. */
  readonly control: SharedArrayBuffer;
  /** Float64 chunk times, `chunks` per thread. */
  readonly results: SharedArrayBuffer;
}

export interface JitterFloorOptions {
  /** Busy threads at once (the runtime's lanes). */
  readonly threads: number;
  /** Chunks each thread times (≥ 100 for a p99 that is not simply the largest). */
  readonly chunks: number;
  /** Length of one chunk of work, in milliseconds, as calibrated by each thread. */
  readonly chunkMs: number;
}

/** The probe's figures. */
export interface JitterFloor {
  readonly threads: number;
  readonly chunks: number;
  readonly chunkMs: number;
  /** Median and p99 chunk time, every thread's chunks pooled. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The worst thread's p99 ÷ its own median: read against a benchmark's worst session p99/p50. */
  readonly worstP99OverP50: number;
}

function check(options: JitterFloorOptions): void {
  const bad = (field: keyof JitterFloorOptions, want: string) => new RangeError(`measureJitterFloor: ${field} must be ${want}, got ${String(options[field])}`);
  if (!Number.isSafeInteger(options.threads) || options.threads < 1 || options.threads > 64) throw bad('threads', 'an integer from 1 to 64');
  if (!Number.isSafeInteger(options.chunks) || options.chunks < 2) throw bad('chunks', 'an integer ≥ 2');
  if (!(options.chunkMs > 0 && options.chunkMs <= 1000)) throw bad('chunkMs', 'a number of milliseconds in (0, 1000]');
}

/**
 * Runs the probe: every thread calibrates its chunk, then all start together.
 *
 * @throws {RangeError} naming the option that is out of range.
 * @example
 * ```ts
 * const floor = await measureJitterFloor({ threads: 2, chunks: 300, chunkMs: 10 });
 * console.log(`fixed work on 2 threads: p99/p50 ${floor.worstP99OverP50.toFixed(2)}`);
 * ```
 */
export async function measureJitterFloor(options: JitterFloorOptions): Promise<JitterFloor> {
  check(options);
  const { threads, chunks, chunkMs } = options;
  const control = new SharedArrayBuffer(8);
  const results = new SharedArrayBuffer(8 * threads * chunks);
  const barrier = new Int32Array(control);
  const pool = new Piscina({ filename: jitterWorker.file, execArgv: jitterWorker.execArgv, minThreads: threads, maxThreads: threads, concurrentTasksPerWorker: 1, idleTimeout: Number.POSITIVE_INFINITY });
  const tasks = Array.from({ length: threads }, (_, index) => pool.run({ index, chunks, chunkMs, control, results } satisfies JitterTask) as Promise<void>);
  const failed = Promise.all(tasks).then(() => new Promise<never>(() => {}));
  try {
    for (let ready = Atomics.load(barrier, 0); ready < threads; ready = Atomics.load(barrier, 0)) {
      const wait = waitAsync(barrier, 0, ready);
      // A thread that failed before the barrier never arrives: its rejection ends the wait.
      await Promise.race([wait.async ? wait.value : Promise.resolve(), failed]);
    }
    Atomics.store(barrier, 1, 1);
    Atomics.notify(barrier, 1);
    await Promise.all(tasks);
  } finally {
    await pool.destroy();
  }
  const times = new Float64Array(results);
  const rows = Array.from({ length: threads }, (_, t) => Array.from(times.subarray(t * chunks, (t + 1) * chunks)));
  const pooled = rows.flat();
  return {
    threads,
    chunks,
    chunkMs,
    p50Ms: percentile(pooled, 50),
    p99Ms: percentile(pooled, 99),
    worstP99OverP50: Math.max(...rows.map((row) => percentile(row, 99) / percentile(row, 50))),
  };
}
