/**
 * `block-cascade bench`: throughput and runtime overhead of the default model — a warm-up,
 * then repeats, reported as medians (the measuring lives in `src/bench/`).
 */
import { Option, type Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { cascadeConfigs, formatCascadeTable, formatCeiling, runCascadeBench, shapeKey, type CascadeConfig } from '../bench/cascade-bench.js';
import { formatSweepSummary, planSweep, sweepModelDir, type PlannedSize, type SweepSizeResult } from '../bench/sweep.js';
import { formatInteractiveTable, INTERACTIVE_CONFIGS, runInteractiveBench } from '../bench/interactive-bench.js';
import { formatBenchTable, machineInfo, reportedModelDir, type BenchReport } from '../bench/report.js';
import { fpsPlot, sweepPlot } from '../bench/svg-plot.js';
import { runBench, summarize, type BenchConfig } from '../bench/run-bench.js';
import { defaultModelDir, packageRoot } from '../engine/model/paths.js';
import { MANIFEST_FILE } from '../engine/model/contract.js';
import type { Runtime } from '../api/runtime.js';
import type { RuntimeOptions } from '../core/api-types.js';
import { onInterrupt } from './interrupt.js';
import { addGenerationFlags, runtimeSettings, type GenerationFlags } from './generation-flags.js';
import { parseNonNegativeInt, parsePositiveInt } from './options.js';
import type { Measurement } from '../bench/measure.js';
import { median } from '../core/median.js';
import { measureTraceOverhead } from '../bench/trace-overhead.js';
import { toJsonl } from '../trace/jsonl.js';
import { chromeTrace } from '../inspector/chrome-trace.js';
import { reportError } from './report-error.js';
import { runCachingBenchCommand } from './caching-bench-command.js';
import { runClusterBenchCommand } from './cluster-bench-command.js';
import { runSoakCommand, SOAK_DEFAULT_BLOCKS, SOAK_DEFAULT_LANES } from './soak-command.js';

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
  /** With --cascade: write an SVG plot of FPS against the P level; with --sweep: speed-ups by size. */
  readonly plot?: string;
  /** Run the size sweep: the cascade bench and its ceiling on the default, a medium and a large model. */
  readonly sweep?: boolean;
  /** With --sweep: the sizes to run, comma-separated (default: default,medium,large). */
  readonly sizes?: string;
  /**
   * Which of blocks, repeats, warmup and lanes hold commander's defaults rather than given values:
   * the sweep then uses each size's own default instead, and the soak its own blocks and lanes.
   */
  readonly defaulted?: readonly ('blocks' | 'repeats' | 'warmup' | 'lanes')[];
  /** Measure prompt switches in live sessions (frame rhythm around a switch). */
  readonly interactive?: boolean;
  /** Measure block-wise feature caching against none (docs/caching.md). */
  readonly caching?: boolean;
  /** Plain bench: alternate traced and untraced generations, report the slowdown, write the last trace here. */
  readonly trace?: string;
  /** Plain bench: also write the last trace as Chrome trace-event JSON (implies measuring tracing). */
  readonly chromeTrace?: string;
  /** One long P4 live session with prompt switches, sampled for memory and actor growth. */
  readonly soak?: boolean;
  /** With --soak: blocks between samples. */
  readonly sampleEvery?: number;
  /** With --soak: blocks between prompt switches. */
  readonly switchEvery?: number;
  /** Serving bench: the session counts to run at once, comma-separated (e.g. `1,2,4,8`). */
  readonly sessions?: string;
  /** With --sessions: `off` runs one call per tick (no cross-session batching). */
  readonly batchSessions?: string;
  /** With --cascade, --sessions or --cluster: the model package (default: the bundled one). */
  readonly model?: string;
  /** Cluster bench: its own nats-server and worker processes (src/bench/cluster-bench.ts). */
  readonly cluster?: boolean;
  /** With --cluster: the worker counts, comma-separated (default 1,2,3). */
  readonly workers?: string;
  /** With --cluster: blocks between snapshots (0: none; default 4). */
  readonly snapshotEvery?: number;
  /** With --cluster: blocks between K/V keyframes (0: every snapshot; default 16). */
  readonly keyframeEvery?: number;
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
  if (options.model !== undefined && (options.sweep || !(options.cascade || options.cluster || options.sessions !== undefined))) throw new Error('--model is an option of bench --cascade, --sessions and --cluster only');
  if (options.workers !== undefined && !options.cluster) throw new Error('--workers is an option of bench --cluster only');
  if (options.snapshotEvery !== undefined && !options.cluster) throw new Error('--snapshot-every is an option of bench --cluster only');
  if (options.keyframeEvery !== undefined && !options.cluster) throw new Error('--keyframe-every is an option of bench --cluster only');
  if (options.cluster) return runClusterBenchCommand(options);
  if (options.sweep) return runSweepCommand(options);
  if (options.cascade) return runCascadeBenchCommand(options);
  if (options.interactive) return runInteractiveBenchCommand(options);
  if (options.caching) return runCachingBenchCommand(options);
  if (options.soak) return runSoakCommand(options);
  if (options.sessions !== undefined) return runSessionsBenchCommand(options);
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
    if (interrupt.signal.aborted) return interrupt.exitCode;
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

/** Generations at once in `bench --cascade`'s ceiling: one per lane of its 2-lane configurations. */
const CEILING_RUNTIMES = 2;

/** The runtimes a cascade run needs: one per shape, and the ceiling's (the 1 × 1 one among them). */
interface CascadeRuntimes {
  readonly runtimes: ReadonlyMap<string, Runtime>;
  readonly ceilingRuntimes: readonly Runtime[];
  /** Every runtime opened, to close. */
  readonly all: readonly Runtime[];
}

async function openCascadeRuntimes(open: BenchScope['open'], configs: readonly CascadeConfig[], model: string, ceiling: number): Promise<CascadeRuntimes> {
  const runtimes = new Map<string, Runtime>();
  const all: Runtime[] = [];
  const openLanes = async (lanes: number, threads: number) => {
    const runtime = await open({ model, lanes: Array.from({ length: lanes }, () => ({ device: 'cpu' as const, threads })) });
    all.push(runtime);
    return runtime;
  };
  for (const c of configs) {
    const key = shapeKey(c.lanes, c.threadsPerLane);
    if (!runtimes.has(key)) runtimes.set(key, await openLanes(c.lanes, c.threadsPerLane));
  }
  // The baseline's runtime (1 lane × 1 thread) runs one of the ceiling's generations; the others get their own.
  const ceilingRuntimes = [runtimes.get(shapeKey(1, 1)) as Runtime];
  while (ceilingRuntimes.length < ceiling) ceilingRuntimes.push(await openLanes(1, 1));
  return { runtimes, ceilingRuntimes, all };
}

/** JSON text of a report: Infinity (identical frames' PSNR) as the string 'Infinity'. */
const reportJson = (report: unknown): string => `${JSON.stringify(report, (_, v) => (v === Number.POSITIVE_INFINITY ? 'Infinity' : v), 2)}\n`;

/**
 * `bench --cascade`: the configurations of {@link cascadeConfigs}, interleaved, on three
 * runtimes (1 lane, 2 lanes, 1 lane with every core), and the ceiling (two 1-lane runtimes at once).
 */
async function runCascadeBenchCommand(options: BenchOptions): Promise<number> {
  const cores = availableParallelism();
  const filter = options.configs === undefined ? null : new RegExp(options.configs);
  const configs = cascadeConfigs(cores).filter((c, i) => i === 0 || !filter || filter.test(c.label));
  const model = options.model ?? defaultModelDir();
  return interruptible(async ({ signal, open }) => {
    const { runtimes, ceilingRuntimes } = await openCascadeRuntimes(open, configs, model, CEILING_RUNTIMES);
    const request = { seed: BENCH_SEED, blocks: options.blocks, prompt: BENCH_PROMPT };
    process.stderr.write(
      `block-cascade bench --cascade: ${configs.length} configurations + the ceiling (${CEILING_RUNTIMES} P0 generations at once) × ` +
        `(${options.warmup} warm-up + ${options.repeats} repeats), ${options.blocks} blocks each, interleaved\n`,
    );
    const { records, ceiling } = await runCascadeBench(runtimes, configs, request, {
      repeats: options.repeats,
      warmup: options.warmup,
      ceilingRuntimes,
      onProgress: (done, total) => {
        signal.throwIfAborted();
        if (process.stderr.isTTY) process.stderr.write(`\r  ${done}/${total} generations`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    process.stdout.write(`${formatCascadeTable(records)}\n${formatCeiling(ceiling)}\n`);
    if (options.json !== undefined) {
      const report = {
        machine: machineInfo(),
        model: { name: records[0]?.modelName, dir: reportedModelDir(model) },
        request,
        repeats: options.repeats,
        warmup: options.warmup,
        ceiling: ceiling?.ceiling ?? null,
        ceilingDetail: ceiling,
        records,
      };
      await writeOutput(options.json, reportJson(report));
    }
    if (options.plot !== undefined) {
      await writeOutput(options.plot, fpsPlot(records, `FPS by parallelism level (${options.blocks} blocks, ${cores} cores)`));
    }
  });
}

/**
 * The model folder of a sweep size: the bundled default model, or a random-weight package built
 * with `tools/model-builder` (in a child process: the runtime never imports a tool) into a cache
 * folder under the OS temp folder named after the size's builder arguments, reused when present.
 */
async function sweepModel(size: PlannedSize, signal: AbortSignal): Promise<string> {
  if (size.builderArgs === null) return defaultModelDir();
  const dir = sweepModelDir(size, tmpdir());
  if (existsSync(join(dir, MANIFEST_FILE))) {
    process.stderr.write(`block-cascade bench --sweep: ${size.name}: reusing the model built in ${dir}\n`);
    return dir;
  }
  const root = packageRoot();
  const builder = join(root, 'tools', 'model-builder', 'cli.ts');
  if (!existsSync(builder) || !existsSync(join(root, 'node_modules', 'tsx'))) {
    throw new Error(
      `bench --sweep builds its ${size.name} model with tools/model-builder, a development tool run through tsx: ` +
        'run it from a clone of the repository after npm ci',
    );
  }
  process.stderr.write(`block-cascade bench --sweep: ${size.name}: building ${size.builderArgs.join(' ')} into ${dir}\n`);
  // Built beside the cache folder and renamed into it when complete, so a half-written build is never reused.
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', builder, '--out', partial, ...size.builderArgs!], { cwd: root, stdio: ['ignore', 2, 2], signal });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) {
    await rm(partial, { recursive: true, force: true });
    throw new Error(`the model builder exited with ${code} building the ${size.name} model`);
  }
  try {
    await rename(partial, dir);
  } catch (err) {
    // Another sweep finished the same build first: use its copy.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(dir, MANIFEST_FILE))) throw err;
  }
  return dir;
}

/**
 * `bench --sweep`: per size, the sweep's configurations and the ceiling, interleaved; a table per
 * size on stdout, progress on stderr, one JSON with the records of every size (written again
 * after each size, so an interrupted sweep keeps what it measured) and an SVG plot.
 */
async function runSweepCommand(options: BenchOptions): Promise<number> {
  const defaulted = new Set(options.defaulted ?? []);
  const given = (k: 'blocks' | 'repeats' | 'warmup') => (defaulted.has(k) ? undefined : options[k]);
  const plan = planSweep({
    ...(options.sizes === undefined ? {} : { sizes: options.sizes.split(',').map((s) => s.trim()).filter((s) => s !== '') }),
    ...(given('blocks') === undefined ? {} : { blocks: given('blocks') }),
    ...(given('repeats') === undefined ? {} : { repeats: given('repeats') }),
    ...(given('warmup') === undefined ? {} : { warmup: given('warmup') }),
  });
  process.stderr.write(
    `block-cascade bench --sweep: ${plan.sizes.map((s) => `${s.name} (${s.blocks} blocks, ${s.warmup} warm-up + ${s.repeats} repeats, ~${Math.round(s.estimatedSeconds / 60)} min)`).join(', ')}; ` +
      `${plan.configs.length} configurations + the ceiling (${plan.ceilingRuntimes} P0 generations at once) per round; ` +
      `estimated ${Math.round(plan.estimatedSeconds / 60)} min at most\n`,
  );
  const started = performance.now();
  return interruptible(async ({ signal, open }) => {
    const results: SweepSizeResult[] = [];
    const sizes: Record<string, unknown>[] = [];
    for (const size of plan.sizes) {
      const model = await sweepModel(size, signal);
      const opened = await openCascadeRuntimes(open, plan.configs, model, plan.ceilingRuntimes);
      const request = { seed: BENCH_SEED, blocks: size.blocks, prompt: BENCH_PROMPT };
      let last = performance.now();
      process.stderr.write(`block-cascade bench --sweep: ${size.name}: ${opened.all[0]?.manifest.name} from ${reportedModelDir(model)} (${minutesSince(started)} so far)\n`);
      const run = await runCascadeBench(opened.runtimes, plan.configs, request, {
        repeats: size.repeats,
        warmup: size.warmup,
        ceilingRuntimes: opened.ceilingRuntimes,
        onProgress: (done, total, config) => {
          signal.throwIfAborted();
          const now = performance.now();
          process.stderr.write(`  [${size.name}] ${done}/${total} ${config === null ? 'ceiling' : config.label}: ${((now - last) / 1000).toFixed(1)} s (${minutesSince(started)})\n`);
          last = now;
        },
      });
      await Promise.all(opened.all.map((r) => r.close()));
      const result: SweepSizeResult = {
        size: size.name,
        modelName: run.records[0]?.modelName ?? '',
        blocks: size.blocks,
        repeats: size.repeats,
        warmup: size.warmup,
        ceiling: run.ceiling,
        records: run.records,
      };
      results.push(result);
      sizes.push({ size: size.name, modelName: result.modelName, modelDir: reportedModelDir(model), builderArgs: size.builderArgs, blocks: size.blocks, repeats: size.repeats, warmup: size.warmup, ceiling: run.ceiling?.ceiling ?? null, ceilingDetail: run.ceiling });
      process.stdout.write(`\n== ${size.name}: ${result.modelName} ==\n${formatCascadeTable(run.records)}\n${formatCeiling(run.ceiling)}\n${formatSweepSummary(result)}\n`);
      if (options.json !== undefined) {
        const report = {
          machine: machineInfo(),
          kind: 'sweep',
          seed: BENCH_SEED,
          prompt: BENCH_PROMPT,
          sizes,
          records: results.flatMap((r) => r.records.map((record) => ({ size: r.size, ...record }))),
        };
        await writeOutput(options.json, reportJson(report));
      }
    }
    if (options.plot !== undefined) {
      const panels = results.map((r) => ({ title: `${r.size} (${r.records[0]?.msPerForward.toFixed(0)} ms/forward)`, records: r.records, ceiling: r.ceiling?.ceiling ?? null }));
      await writeOutput(options.plot, sweepPlot(panels, `Speed-up vs P0 by model size (${availableParallelism()} cores)`));
    }
    process.stderr.write(`block-cascade bench --sweep: done in ${minutesSince(started)}\n`);
  });
}

/** Minutes since a `performance.now()` reading, for progress lines. */
const minutesSince = (since: number) => `${((performance.now() - since) / 60000).toFixed(1)} min`;

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

/** Blocks per session of `bench --sessions` when `--blocks` is not given. */
export const SESSIONS_DEFAULT_BLOCKS = 16;
/** Repeats of `bench --sessions` when `--repeats` is not given. */
export const SESSIONS_DEFAULT_REPEATS = 3;

/**
 * Parses `--sessions`' list: positive integers, comma-separated.
 *
 * @throws {Error} for anything else.
 * @example
 * ```ts
 * parseSessionCounts('1,2,4,8'); // [1, 2, 4, 8]
 * ```
 */
export function parseSessionCounts(list: string): number[] {
  const counts = list.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (counts.length === 0 || counts.some((n) => !Number.isSafeInteger(n) || n < 1 || n > 1024)) {
    throw new Error(`--sessions takes session counts from 1 to 1024, comma-separated (e.g. 1,2,4,8), got ${JSON.stringify(list)}`);
  }
  return [...new Set(counts)].sort((a, b) => a - b);
}

/**
 * `bench --sessions 1,2,4,8`: P0 and P4 generations n at a time on one 2-lane runtime
 * (`maxSessions` = the largest n): aggregate and per-session FPS, block intervals, speed-up vs n = 1.
 */
async function runSessionsBenchCommand(options: BenchOptions): Promise<number> {
  const counts = parseSessionCounts(options.sessions ?? '');
  const defaulted = new Set(options.defaulted ?? []);
  const blocks = defaulted.has('blocks') ? SESSIONS_DEFAULT_BLOCKS : options.blocks;
  const repeats = defaulted.has('repeats') ? SESSIONS_DEFAULT_REPEATS : options.repeats;
  const lanes = defaulted.has('lanes') ? 2 : options.lanes;
  const model = options.model ?? defaultModelDir();
  const maxSessions = Math.max(...counts);
  const { runSessionsBench, formatSessionsTable, SESSIONS_LEVELS } = await import('../bench/sessions-bench.js');
  const { measureJitterFloor, JITTER_FLOOR_CHUNKS } = await import('../bench/jitter-floor.js');
  return interruptible(async ({ signal, open }) => {
    const batchSessions = options.batchSessions === 'on';
    const runtime = await open({ model, lanes, maxSessions, batchSessions });
    process.stderr.write(
      `block-cascade bench --sessions: ${runtime.manifest.name}, ${lanes} lane(s), sessions ${counts.join(',')} × ${SESSIONS_LEVELS.map((l) => `P${l.parallelism}`).join(', ')}, ` +
        `${blocks} blocks each, ${options.warmup} warm-up + ${repeats} repeat(s) per configuration, interleaved\n`,
    );
    const started = performance.now();
    const { records } = await runSessionsBench(runtime, {
      counts,
      blocks,
      repeats,
      warmup: options.warmup,
      prompt: BENCH_PROMPT,
      seed: BENCH_SEED,
      onRound: (done, total) => {
        signal.throwIfAborted();
        if (process.stderr.isTTY) process.stderr.write(`\r  ${done}/${total} rounds`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    // The machine's own jitter for as many busy threads as lanes, with chunks as long as a typical block interval.
    const jitterFloor = await measureJitterFloor({ threads: lanes, chunks: JITTER_FLOOR_CHUNKS, chunkMs: Math.min(1000, Math.max(1, median(records.map((r) => r.p50IntervalMs)))) });
    process.stderr.write(`block-cascade bench --sessions: done in ${minutesSince(started)}\n`);
    process.stdout.write(`${formatSessionsTable(records, jitterFloor)}\n`);
    if (options.json !== undefined) {
      const report = { machine: machineInfo(), kind: 'sessions', model: { name: runtime.manifest.name, dir: reportedModelDir(model) }, lanes, maxSessions, batchSessions, batchedCalls: runtime.stats().batchedCalls, blocks, repeats, warmup: options.warmup, prompt: BENCH_PROMPT, jitterFloor, records };
      await writeOutput(options.json, reportJson(report));
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
    .option('--blocks <n>', 'blocks per generation (--sweep: each size\'s own unless given)', parsePositiveInt, 8)
    .option('--repeats <r>', 'measured generations (--sweep: each size\'s own unless given)', parsePositiveInt, 5)
    .option('--warmup <w>', 'unmeasured generations first (--sweep: each size\'s own unless given)', parseNonNegativeInt, 1)
    .option('--lanes <n>', 'number of CPU lanes', parsePositiveInt, 1)
    .option('--cascade', 'measure P0..P4 × causal/bidirectional × joint/lanes on 1 and 2 lanes, interleaved, with drift vs P0, and the ceiling: 2 independent P0 generations at once (one per 1-lane runtime) ÷ one alone')
    .option('--configs <regex>', 'with --cascade: only configurations whose label matches (the P0 baseline always runs)')
    .option('--plot <file.svg>', 'with --cascade: write an SVG plot of FPS against the P level; with --sweep: speed-up vs P0 per size, with the ceiling')
    .option(
      '--sweep',
      'size sweep: the cascade bench (P0 on 1 lane; P1..P4 joint/lanes on 2 lanes; P4 joint on 1 lane) and the ceiling on the default model and ' +
        'a medium and a large random-weight model built at bench time (cached under the OS temp folder). Needs a clone of the repository: ' +
        'the models are built with tools/model-builder, a development tool. Per-size defaults of --blocks/--repeats/--warmup fit in 25 minutes on 2 cores',
    )
    .option('--sizes <list>', 'with --sweep: the sizes to run, comma-separated (default,medium,large)')
    .option('--interactive', `switch the prompt live halfway through: frame rhythm and switch latency, sequential vs cascades (at least ${INTERACTIVE_MIN_BLOCKS} blocks)`)
    .option('--caching', 'block-wise feature caching on the trained model at 4, 16, 32 and 50 steps (or --steps alone): none vs bwcache δ ∈ {0.03, 0.05, 0.1, 0.15, 0.25}, teacache δ ∈ {0.1, 0.2}, fbcache δ = 0.1, P0 on 1 lane and P4 on 2; speed-up, skipped layers, bound, PSNR/SSIM vs none, probe, then the goals read at 32 and 4 steps (--json, --plot)')
    .option('--trace <file.jsonl>', 'alternate traced and untraced generations, print what tracing costs, write the last trace (see block-cascade inspect)')
    .option('--chrome-trace <file.json>', 'like --trace, written as Chrome trace-event JSON (Perfetto)')
    .option(
      '--soak',
      `one long live session (P4 bidirectional joint, ${SOAK_DEFAULT_LANES} lanes and ${SOAK_DEFAULT_BLOCKS} blocks unless --lanes/--blocks say otherwise) with a prompt switch every --switch-every blocks, ` +
        'sampled every --sample-every blocks: heap after a forced GC, RSS, live actors, shared memory; prints their growth per 1,000 blocks (least squares after the first 10% of samples), --json adds the samples',
    )
    .option('--sample-every <n>', 'with --soak: blocks between samples (default 100)', parsePositiveInt)
    .option('--switch-every <n>', 'with --soak: blocks between prompt switches (default 50)', parsePositiveInt)
    .option(
      '--sessions <list>',
      `serving: for each count n (comma-separated, e.g. 1,2,4,8), n P0 and then n P4 generations at once on one runtime (2 lanes unless --lanes, maxSessions = the largest n; ` +
        `${SESSIONS_DEFAULT_BLOCKS} blocks and ${SESSIONS_DEFAULT_REPEATS} repeats unless given): aggregate and per-session FPS, p50/p99 block interval, speed-up vs n = 1 (docs/serving.md)`,
    )
    .option(
      '--cluster',
      'cluster: starts its own nats-server and --workers worker processes (1 lane each unless --lanes) and, for each worker count and each --sessions count (default 1,4), ' +
        'measures aggregate FPS with and without snapshots, snapshot size and cost, placement latency, and the failover gap when one session\'s worker is killed with SIGKILL, checking every session\'s frames against a local run ' +
        '(16 blocks, 3 repeats unless given; docs/cluster.md)',
    )
    .option('--workers <list>', 'with --cluster: worker counts, comma-separated (default 1,2,3)')
    .option('--snapshot-every <n>', 'with --cluster: blocks between session snapshots, 0 for none (default 4)', parseNonNegativeInt)
    .option('--keyframe-every <m>', 'with --cluster: K/V keyframes every m blocks, the snapshots between holding latents (sessions at parallelism 0; default 16; 0: K/V in every snapshot)', parseNonNegativeInt)
    .option('--model <dir>', 'with --cascade, --sessions or --cluster: the model package to run (default: the bundled one)')
    .addOption(new Option('--batch-sessions <mode>', 'with --sessions: on runs waiting ticks of different sessions with equal shapes as one call; off (default), one call per tick').choices(['on', 'off']));
  return addGenerationFlags(command, '(plain bench and --soak)').action(async (options: BenchOptions) => {
      try {
        const defaulted = (['blocks', 'repeats', 'warmup', 'lanes'] as const).filter((k) => command.getOptionValueSource(k) === 'default');
        process.exitCode = await runBenchCommand({ ...options, defaulted });
      } catch (err) {
        reportError(err);
      }
    });
}
