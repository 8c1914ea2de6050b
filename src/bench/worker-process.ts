/**
 * `block-cascade worker` as a child process, for `bench --cluster`: the same Node binary, and
 * when this module runs from the TypeScript sources (tsx, vitest) the sources again through tsx's
 * loader (as lanes start their worker threads, src/engine/lanes/lane.ts), else the built CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { siblingModule } from '../core/source-modules.js';

/** A worker process exited before it said it was ready, or did not say so in time. */
export class WorkerProcessError extends Error {
  readonly code = 'WORKER_PROCESS';
  constructor(
    readonly workerId: string,
    message: string,
    /** What the worker wrote on stderr. */
    readonly log: string,
  ) {
    super(`worker ${workerId}: ${message}${log.trim() === '' ? '' : `\n${log.trim()}`}`);
    this.name = 'WorkerProcessError';
  }
}

/** Options of {@link spawnWorkerProcess}. */
export interface WorkerProcessOptions {
  readonly nats: string;
  readonly id: string;
  readonly lanes: number;
  readonly maxSessions: number;
  readonly model: string;
  /** How long the worker has to say it is ready. Default 60 s. */
  readonly readyTimeoutMs?: number;
}

/** A running worker process. */
export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null after a signal) when it exits. */
  readonly exited: Promise<number | null>;
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (leaves the cluster cleanly) and wait for the exit. */
  stop(): Promise<void>;
  /** The end of what it logged (its last 20 000 characters), for reports of what went wrong. */
  logTail(): string;
}

/**
 * The command line that runs the CLI: `[node, ...args]`.
 *
 * @example
 * ```ts
 * const [node, ...args] = cliCommand(); // from the sources: node --import <tsx> src/cli/main.ts
 * ```
 */
export function cliCommand(): string[] {
  const main = siblingModule(import.meta.url, '../cli/main');
  return [process.execPath, ...main.execArgv, main.file];
}

/**
 * Starts `block-cascade worker` and resolves once it says it is ready.
 *
 * @throws {WorkerProcessError} when it exits first or is not ready in time.
 * @example
 * ```ts
 * const w = await spawnWorkerProcess({ nats: server.url, id: 'w1', lanes: 1, maxSessions: 1, model: dir });
 * await w.kill();
 * ```
 */
export function spawnWorkerProcess(o: WorkerProcessOptions): Promise<WorkerProcess> {
  const [node, ...args] = cliCommand();
  const child = spawn(node as string, [...args, 'worker', '--nats', o.nats, '--id', o.id, '--lanes', String(o.lanes), '--max-sessions', String(o.maxSessions), '--model', o.model], {
    env: { ...process.env, BLOCK_CASCADE_DEBUG: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  const worker: WorkerProcess = { id: o.id, child, exited, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM'), logTail: () => log };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.kill();
      reject(new WorkerProcessError(o.id, `not ready within ${o.readyTimeoutMs ?? 60_000} ms`, log));
    }, o.readyTimeoutMs ?? 60_000);
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      // Only the end of the log is kept: a long-running worker logs every session.
      log = (log + s).slice(-20_000);
      if (log.includes(`${o.id} ready`)) {
        clearTimeout(timer);
        resolve(worker);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new WorkerProcessError(o.id, `exited (${code}) before it was ready`, log));
    });
  });
}
