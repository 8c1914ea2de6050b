/**
 * Real cluster processes for the tests: `block-cascade worker` from the sources (optionally run
 * through a prefix such as `ip netns exec <ns>`), and the byte-for-byte frame comparison.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import type { Frame } from '../../src/core/api-types.js';
import { BIN, ROOT } from './cli.js';
import { RANDOM_MODEL } from './models.js';

export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  log: string;
}

/** Options of {@link spawnWorker}. */
export interface SpawnWorkerOptions {
  /** A command the worker runs through, e.g. `['ip', 'netns', 'exec', 'ns-b']` (it execs, so the child is the worker). */
  readonly prefix?: readonly string[];
  readonly lanes?: number;
  readonly maxSessions?: number;
  /** More `worker` arguments (e.g. `--nats-user`), and environment variables. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** Spawns `block-cascade worker --model models/random` from the sources; resolves once it says it is ready. */
export function spawnWorker(url: string, id: string, options: SpawnWorkerOptions = {}): Promise<WorkerProcess> {
  const prefix = options.prefix ?? [];
  const args = [process.execPath, BIN, 'worker', '--nats', url, '--lanes', String(options.lanes ?? 1), '--max-sessions', String(options.maxSessions ?? 1), '--id', id, '--model', RANDOM_MODEL, ...(options.args ?? [])];
  const child = spawn(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length > 0 ? args : args.slice(1))], {
    cwd: ROOT,
    env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '1', BLOCK_CASCADE_DEBUG: '', ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const worker: WorkerProcess = { id, child, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), log: '' };
  return new Promise((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      worker.log += s;
      if (worker.log.includes(`${id} ready`)) resolve(worker);
    });
    child.once('error', reject);
    void worker.exited.then((code) => reject(new Error(`worker ${id} exited (${code}) before it was ready: ${worker.log}`)));
  });
}

/** Sends `signal` (default SIGKILL) and waits for the exit; a worker already gone is no error. */
export async function stopWorker(worker: WorkerProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill(signal);
  await worker.exited;
}

/** What {@link expectSameFrames} compares (a {@link Frame}, or one decoded from a child's output). */
export interface FrameBytes {
  readonly index: number;
  readonly block: number;
  readonly rgb: Uint8Array;
}

/** The same frame indices, blocks and RGB bytes, in order. */
export function expectSameFrames(got: readonly FrameBytes[], want: readonly FrameBytes[]): void {
  expect(got.map((f) => f.index)).toEqual(want.map((f) => f.index));
  const differing = got.filter((f, i) => Buffer.compare(f.rgb, (want[i] as FrameBytes).rgb) !== 0 || f.block !== (want[i] as FrameBytes).block).map((f) => f.index);
  expect(differing).toEqual([]);
}

/** Resolves once the worker's log contains `text` (now or in a later line); rejects if it exits first. */
export function logged(worker: WorkerProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (worker.log.includes(text)) return resolve();
    const onData = () => {
      if (!worker.log.includes(text)) return;
      worker.child.stderr?.off('data', onData);
      resolve();
    };
    // Added after spawnWorker's listener, so `worker.log` already has the new text when this runs.
    worker.child.stderr?.on('data', onData);
    void worker.exited.then(() => reject(new Error(`worker ${worker.id} exited before logging ${JSON.stringify(text)}: ${worker.log}`)));
  });
}
