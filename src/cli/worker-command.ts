/**
 * `block-cascade worker --nats URL`: a long-running cluster worker (src/cluster/worker.ts) that
 * takes sessions over NATS until Ctrl-C or SIGTERM, then leaves the cluster cleanly (its entry
 * removed, its connection drained, its lanes closed).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { onInterrupt } from './interrupt.js';
import { natsAuthFromFlags, withNatsFlags, type NatsFlags } from './nats-flags.js';
import { parsePositiveInt } from './options.js';
import { reportError } from './report-error.js';

/** Options of `worker`, as commander parses them. */
export interface WorkerCommandOptions extends NatsFlags {
  readonly nats: string;
  readonly lanes: number;
  readonly maxSessions: number;
  readonly id?: string;
  readonly model?: string;
  readonly quiet?: boolean;
}

/**
 * Adds the `worker` command to a program.
 *
 * @example
 * ```ts
 * registerWorkerCommand(program);
 * await program.parseAsync(['node', 'block-cascade', 'worker', '--nats', 'nats://127.0.0.1:4222']);
 * ```
 */
export function registerWorkerCommand(program: Command): Command {
  return withNatsFlags(program
    .command('worker')
    .description('serve sessions of a cluster over NATS (see docs/cluster.md) until Ctrl-C or SIGTERM')
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated (nats://host:4222); the server needs JetStream (nats-server -js)')
    .option('--lanes <n>', 'CPU lanes of this worker', parsePositiveInt, 1)
    .option('--max-sessions <n>', 'sessions run at once; more are refused and placed elsewhere', parsePositiveInt, 1)
    .option('--id <id>', 'worker id (letters, digits, "_", "-"; default <host>-<pid>)')
    .option('--model <dir>', 'model package folder (default: the bundled models/sprites); every worker of a cluster must load the same')
    .option('--quiet', 'no log lines'))
    .action(async (options: WorkerCommandOptions) => {
      try {
        process.exitCode = await runWorker(options);
      } catch (err) {
        reportError(err);
      }
    });
}

/** Runs a worker until interrupted; returns the exit status (0 after SIGINT or SIGTERM: a worker's normal end). */
export async function runWorker(options: WorkerCommandOptions): Promise<number> {
  const interrupt = onInterrupt();
  const log = options.quiet === true ? undefined : (line: string) => process.stderr.write(`block-cascade worker: ${line}\n`);
  try {
    const auth = natsAuthFromFlags(options, process.env);
    // Loaded lazily: `--help` must not pay for ONNX Runtime or the NATS client.
    const { startWorker } = await import('../cluster/worker.js');
    const worker = await startWorker({
      servers: options.nats.split(',').map((s) => s.trim()),
      ...(auth === undefined ? {} : { auth }),
      signal: interrupt.signal,
      lanes: options.lanes,
      maxSessions: options.maxSessions,
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.model === undefined ? {} : { model: resolve(options.model) }),
      ...(log ? { log } : {}),
    });
    // The line tests and scripts wait for.
    process.stderr.write(`block-cascade worker: ${worker.id} ready (${worker.runtime.lanes.length} lane(s), ${options.maxSessions} session(s)) on ${options.nats}\n`);
    if (!interrupt.signal.aborted) await new Promise((done) => interrupt.signal.addEventListener('abort', done, { once: true }));
    await worker.close();
    log?.(`${worker.id} left the cluster`);
    return 0;
  } finally {
    interrupt.dispose();
  }
}
