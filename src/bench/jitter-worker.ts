/**
 * One thread of the jitter floor (`jitter-floor.ts`), a Piscina task: calibrates a fixed unit of
 * CPU work to the chunk length asked, waits at the start barrier with the other threads, then
 * times `chunks` chunks of exactly that work into its row of the shared results.
 */
import type { JitterTask } from './jitter-floor.js';

// 128 KiB: the work stays in a core's own cache, so a chunk's time is the core's and the scheduler's, not memory's.
const data = new Float64Array(1 << 14).map((_, i) => i);

function unit(): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += (data[i] as number) * 1.0000001;
  return sum;
}

/** Piscina entry point: fills this thread's row of `task.results`. */
export default function probeThread({ index, chunks, chunkMs, control, results }: JitterTask): void {
  const barrier = new Int32Array(control);
  const times = new Float64Array(results, index * chunks * 8, chunks);
  let sink = 0;
  // Optimised first, so that calibration times the code the chunks will run.
  for (let i = 0; i < 2000; i++) sink += unit();
  const start = performance.now();
  for (let i = 0; i < 500; i++) sink += unit();
  const units = Math.max(1, Math.round((chunkMs * 500) / (performance.now() - start)));
  Atomics.add(barrier, 0, 1);
  Atomics.notify(barrier, 0);
  Atomics.wait(barrier, 1, 0);
  for (let c = 0; c < chunks; c++) {
    const t = performance.now();
    for (let u = 0; u < units; u++) sink += unit();
    times[c] = performance.now() - t;
  }
  // Read, so that the work cannot be optimised away.
  if (sink === Number.MIN_VALUE) times[0] = -1;
}
