/**
 * `block-cascade bench`: throughput and runtime overhead of the default model — a warm-up,
 * then repeats, reported as medians (the measuring lives in `src/runtime/bench/`).
 */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatBenchTable, machineInfo, type BenchReport } from '../runtime/bench/report.js';
import { runBench, summarize, type BenchConfig } from '../runtime/bench/run-bench.js';
import { defaultModelDir } from '../runtime/paths.js';
import type { Runtime } from '../runtime/runtime.js';
import { SIGINT_EXIT_CODE, onInterrupt } from './interrupt.js';
import { parseNonNegativeInt, parsePositiveInt } from './options.js';
import { reportError } from './report-error.js';

/** Options of `bench`, as commander parses them. */
export interface BenchOptions {
  readonly json?: string;
  readonly blocks: number;
  readonly repeats: number;
  readonly warmup: number;
  readonly lanes: number;
}

/** Seed and prompt of every benchmark generation: fixed, so runs are comparable. */
const BENCH_SEED = 0;
const BENCH_PROMPT = 'red ball moving left';

/**
 * Runs the benchmark, prints the table on stdout and writes the JSON report if asked; returns
 * the exit status (0, or 130 when interrupted).
 *
 * @example
 * ```ts
 * process.exitCode = await runBenchCommand({ blocks: 8, repeats: 5, warmup: 1, lanes: 2, json: 'bench.json' });
 * ```
 */
export async function runBenchCommand(options: BenchOptions): Promise<number> {
  const config: BenchConfig = {
    blocks: options.blocks,
    repeats: options.repeats,
    warmup: options.warmup,
    seed: BENCH_SEED,
    prompt: BENCH_PROMPT,
  };
  const interrupt = onInterrupt();
  let runtime: Runtime | undefined;
  try {
    const { createRuntime } = await import('../runtime/runtime.js');
    const model = defaultModelDir();
    runtime = await createRuntime({ model, lanes: options.lanes });
    interrupt.signal.throwIfAborted();
    process.stderr.write(
      `block-cascade bench: ${runtime.manifest.name}, ${options.lanes} lane(s), ${config.blocks} blocks, ` +
        `${config.warmup} warm-up + ${config.repeats} repeats\n`,
    );
    const runs = await runBench(runtime, config, {
      signal: interrupt.signal,
      onRun: (run, i) =>
        process.stderr.write(`  repeat ${i + 1}/${config.repeats}: ${run.framesPerSecond.toFixed(1)} FPS, ${run.msPerForward.toFixed(2)} ms/forward\n`),
    });
    const results = summarize(runs);
    process.stdout.write(`${formatBenchTable(results)}\n`);
    if (options.json !== undefined) {
      const report: BenchReport = {
        machine: machineInfo(),
        model: { name: runtime.manifest.name, dir: model },
        config: { ...config, lanes: options.lanes },
        results,
        runs,
      };
      await mkdir(dirname(options.json), { recursive: true });
      await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      process.stderr.write(`block-cascade bench: wrote ${options.json}\n`);
    }
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) return SIGINT_EXIT_CODE;
    throw err;
  } finally {
    await runtime?.close();
    interrupt.dispose();
  }
}

/**
 * Adds the `bench` command to a program.
 *
 * @example
 * ```ts
 * registerBenchCommand(new Command('block-cascade'));
 * ```
 */
export function registerBenchCommand(program: Command): Command {
  return program
    .command('bench')
    .description('measure generation speed and runtime overhead with the default model (medians of repeats)')
    .option('--json <file>', 'also write the results as JSON')
    .option('--blocks <n>', 'blocks per generation', parsePositiveInt, 8)
    .option('--repeats <r>', 'measured generations', parsePositiveInt, 5)
    .option('--warmup <w>', 'unmeasured generations first', parseNonNegativeInt, 1)
    .option('--lanes <n>', 'number of CPU lanes', parsePositiveInt, 1)
    .action(async (options: BenchOptions) => {
      try {
        process.exitCode = await runBenchCommand(options);
      } catch (err) {
        reportError(err);
      }
    });
}
