/**
 * `block-cascade bench`: throughput and runtime overhead of the default model — a warm-up,
 * then repeats, reported as medians (the measuring lives in `src/bench/`).
 */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { availableParallelism } from 'node:os';
import { cascadeConfigs, formatCascadeTable, runCascadeBench, shapeKey } from '../bench/cascade-bench.js';
import { formatInteractiveTable, INTERACTIVE_CONFIGS, runInteractiveBench } from '../bench/interactive-bench.js';
import { formatBenchTable, machineInfo, reportedModelDir, type BenchReport } from '../bench/report.js';
import { fpsPlot } from '../bench/svg-plot.js';
import { runBench, summarize, type BenchConfig } from '../bench/run-bench.js';
import { defaultModelDir } from '../engine/model/paths.js';
import type { Runtime } from '../api/runtime.js';
import type { RuntimeOptions } from '../core/api-types.js';
import { SIGINT_EXIT_CODE, onInterrupt } from './interrupt.js';
import { addGenerationFlags, runtimeSettings, type GenerationFlags } from './generation-flags.js';
import { parseNonNegativeInt, parsePositiveInt } from './options.js';
import type { Measurement } from '../bench/measure.js';
import { measureTraceOverhead } from '../bench/trace-overhead.js';
import { toJsonl } from '../trace/jsonl.js';
import { chromeTrace } from '../inspector/chrome-trace.js';
import { reportError } from './report-error.js';

/** Options of `bench`, as commander parses them. */
export interface BenchOptions extends GenerationFlags {
  readonly json?: string;
  readonly blocks: number;
  readonly repeats: number;
  readonly warmup: number;
  readonly lanes: number;
  /** Run the cascade benchmark (every P level, attention and execution mode). */
  readonly cascade?: boolean;
  /** With --cascade: only configurations whose label matches this regular expression. */
  readonly configs?: string;
  /** With --cascade: write an SVG plot of FPS against the P level. */
  readonly plot?: string;
  /** Measure prompt switches in live sessions (frame rhythm around a switch). */
  readonly interactive?: boolean;
  /** Plain bench: alternate traced and untraced generations, report the slowdown, write the last trace here. */
  readonly trace?: string;
  /** Plain bench: also write the last trace as Chrome trace-event JSON (implies measuring tracing). */
  readonly chromeTrace?: string;
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
  if (options.cascade) return runCascadeBenchCommand(options);
  if (options.interactive) return runInteractiveBenchCommand(options);
  const config: BenchConfig = {
    blocks: options.blocks,
    repeats: options.repeats,
    warmup: options.warmup,
    seed: BENCH_SEED,
    prompt: BENCH_PROMPT,
  };
  return interruptible(async ({ signal, open }) => {
    const model = defaultModelDir();
    const settings = runtimeSettings(options);
    const runtime = await open({ model, lanes: options.lanes, ...settings });
    process.stderr.write(
      `block-cascade bench: ${runtime.manifest.name}, ${options.lanes} lane(s), ${config.blocks} blocks, ` +
        `${config.warmup} warm-up + ${config.repeats} repeats\n`,
    );
    let runs: Measurement[];
    let traceOverhead: BenchReport['traceOverhead'];
    if (options.trace === undefined && options.chromeTrace === undefined) {
      runs = await runBench(runtime, config, {
        signal,
        onRun: (run, i) =>
          process.stderr.write(`  repeat ${i + 1}/${config.repeats}: ${run.framesPerSecond.toFixed(1)} FPS, ${run.msPerForward.toFixed(2)} ms/forward\n`),
      });
    } else {
      const request = { seed: config.seed, blocks: config.blocks, prompt: config.prompt };
      const measured = await measureTraceOverhead(runtime, request, {
        repeats: config.repeats,
        warmup: config.warmup,
        options: { signal },
        onPair: (done, total) => process.stderr.write(`  pair ${done}/${total} (untraced, traced)\n`),
      });
      runs = [...measured.untraced];
      traceOverhead = { slowdown: measured.slowdown, traced: measured.traced, records: measured.records.length, ...(options.trace === undefined ? {} : { file: options.trace }) };
      if (options.trace !== undefined) await writeOutput(options.trace, toJsonl(measured.records));
      if (options.chromeTrace !== undefined) await writeOutput(options.chromeTrace, JSON.stringify(chromeTrace(measured.records)));
      process.stderr.write(`block-cascade bench: tracing costs ${((measured.slowdown - 1) * 100).toFixed(1)}% (median ms/block traced ÷ untraced = ${measured.slowdown.toFixed(3)}, ${measured.records.length} records per generation)\n`);
    }
    const results = summarize(runs);
    process.stdout.write(`${formatBenchTable(results)}\n`);
    if (options.json !== undefined) {
      const report: BenchReport = {
        machine: machineInfo(),
        model: { name: runtime.manifest.name, dir: reportedModelDir(model) },
        config: { ...config, lanes: options.lanes, cascade: settings.cascade ?? {}, ...(settings.steps === undefined ? {} : { steps: settings.steps }) },
        results,
        runs,
        ...(traceOverhead === undefined ? {} : { traceOverhead }),
      };
      await writeOutput(options.json, `${JSON.stringify(report, null, 2)}\n`);
    }
  });
}

/** What a bench body gets: the Ctrl-C signal, and a way to open runtimes that are closed for it. */
interface BenchScope {
  readonly signal: AbortSignal;
  open(options: RuntimeOptions): Promise<Runtime>;
}

/**
 * Runs a bench body with Ctrl-C handling: returns 0, or 130 when interrupted, and closes every
 * runtime the body opened, whatever happened.
 */
async function interruptible(body: (scope: BenchScope) => Promise<void>): Promise<number> {
  const interrupt = onInterrupt();
  const opened: Runtime[] = [];
  try {
    const { createRuntime } = await import('../api/runtime.js');
    await body({
      signal: interrupt.signal,
      open: async (options) => {
        const runtime = await createRuntime(options);
        opened.push(runtime);
        interrupt.signal.throwIfAborted();
        return runtime;
      },
    });
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) return SIGINT_EXIT_CODE;
    throw err;
  } finally {
    await Promise.all(opened.map((r) => r.close()));
    interrupt.dispose();
  }
}

async function writeOutput(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  process.stderr.write(`block-cascade bench: wrote ${file}\n`);
}

/**
 * `bench --cascade`: the configurations of {@link cascadeConfigs}, interleaved, on three
 * runtimes (1 lane, 2 lanes, 1 lane with every core).
 */
async function runCascadeBenchCommand(options: BenchOptions): Promise<number> {
  const cores = availableParallelism();
  const filter = options.configs === undefined ? null : new RegExp(options.configs);
  const configs = cascadeConfigs(cores).filter((c, i) => i === 0 || !filter || filter.test(c.label));
  return interruptible(async ({ signal, open }) => {
    const runtimes = new Map<string, Runtime>();
    for (const c of configs) {
      const key = shapeKey(c.lanes, c.threadsPerLane);
      if (!runtimes.has(key)) {
        runtimes.set(key, await open({ lanes: Array.from({ length: c.lanes }, () => ({ device: 'cpu' as const, threads: c.threadsPerLane })) }));
      }
    }
    const request = { seed: BENCH_SEED, blocks: options.blocks, prompt: BENCH_PROMPT };
    process.stderr.write(`block-cascade bench --cascade: ${configs.length} configurations × (${options.warmup} warm-up + ${options.repeats} repeats), ${options.blocks} blocks each, interleaved\n`);
    const records = await runCascadeBench(runtimes, configs, request, {
      repeats: options.repeats,
      warmup: options.warmup,
      onProgress: (done, total) => {
        signal.throwIfAborted();
        if (process.stderr.isTTY) process.stderr.write(`\r  ${done}/${total} generations`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    process.stdout.write(`${formatCascadeTable(records)}\n`);
    const model = defaultModelDir();
    if (options.json !== undefined) {
      const report = { machine: machineInfo(), model: { name: (runtimes.values().next().value as Runtime).manifest.name, dir: reportedModelDir(model) }, request, repeats: options.repeats, warmup: options.warmup, records };
      await writeOutput(options.json, `${JSON.stringify(report, (_, v) => (v === Number.POSITIVE_INFINITY ? 'Infinity' : v), 2)}\n`);
    }
    if (options.plot !== undefined) {
      await writeOutput(options.plot, fpsPlot(records, `FPS by parallelism level (${options.blocks} blocks, ${cores} cores)`));
    }
  });
}

/** Blocks of an interactive-bench session at least (whatever `--blocks` says). */
const INTERACTIVE_MIN_BLOCKS = 20;

/** `bench --interactive`: a live prompt switch halfway through, sequential vs cascades. */
async function runInteractiveBenchCommand(options: BenchOptions): Promise<number> {
  return interruptible(async ({ signal, open }) => {
    const runtimes = new Map<number, Runtime>();
    for (const lanes of new Set(INTERACTIVE_CONFIGS.map((c) => c.lanes))) runtimes.set(lanes, await open({ lanes }));
    // A P4 switch lands up to 5 blocks after it is asked for, halfway: fewer blocks leave no room.
    const blocks = Math.max(options.blocks, INTERACTIVE_MIN_BLOCKS);
    const switchAt = Math.floor(blocks / 2);
    process.stderr.write(`block-cascade bench --interactive: ${INTERACTIVE_CONFIGS.length} configurations × (${options.warmup} warm-up + ${options.repeats} repeats), ${blocks} blocks, prompt switched after block ${switchAt - 1}\n`);
    const records = await runInteractiveBench(runtimes, INTERACTIVE_CONFIGS, { blocks, switchAt, repeats: options.repeats, warmup: options.warmup }, (done, total) => {
      signal.throwIfAborted();
      if (process.stderr.isTTY) process.stderr.write(`\r  ${done}/${total} sessions`);
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    process.stdout.write(`${formatInteractiveTable(records)}\n`);
    if (options.json !== undefined) {
      await writeOutput(options.json, `${JSON.stringify({ machine: machineInfo(), model: reportedModelDir(defaultModelDir()), blocks, switchAt, repeats: options.repeats, warmup: options.warmup, records }, null, 2)}\n`);
    }
  });
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
  const command = program
    .command('bench')
    .description('measure generation speed and runtime overhead with the default model (medians of repeats)')
    .option('--json <file>', 'also write the results as JSON')
    .option('--blocks <n>', 'blocks per generation', parsePositiveInt, 8)
    .option('--repeats <r>', 'measured generations', parsePositiveInt, 5)
    .option('--warmup <w>', 'unmeasured generations first', parseNonNegativeInt, 1)
    .option('--lanes <n>', 'number of CPU lanes', parsePositiveInt, 1)
    .option('--cascade', 'measure P0..P4 × causal/bidirectional × joint/lanes on 1 and 2 lanes, interleaved, with drift vs P0')
    .option('--configs <regex>', 'with --cascade: only configurations whose label matches (the P0 baseline always runs)')
    .option('--plot <file.svg>', 'with --cascade: write an SVG plot of FPS against the P level')
    .option('--interactive', `switch the prompt live halfway through: frame rhythm and switch latency, sequential vs cascades (at least ${INTERACTIVE_MIN_BLOCKS} blocks)`)
    .option('--trace <file.jsonl>', 'alternate traced and untraced generations, print what tracing costs, write the last trace (see block-cascade inspect)')
    .option('--chrome-trace <file.json>', 'like --trace, written as Chrome trace-event JSON (Perfetto)');
  return addGenerationFlags(command, '(plain bench)').action(async (options: BenchOptions) => {
      try {
        process.exitCode = await runBenchCommand(options);
      } catch (err) {
        reportError(err);
      }
    });
}
