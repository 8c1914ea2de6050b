/**
 * The cascade benchmark: sequential baselines and every P level × attention × execution mode,
 * on 1 and 2 lanes, measured interleaved (each repeat runs every configuration once, so slow
 * phases of a shared machine hit all of them alike), after a warm-up, reported as medians with
 * ratios against the baselines of the same run. With `ceilingRuntimes`, every round also runs the
 * machine's parallel ceiling (`ceiling.ts`): N independent P0 generations at once.
 */
import { performance } from 'node:perf_hooks';
import type { Frame, GenerateRequest } from '../core/api-types.js';
import type { AttentionMode, CascadeWindow, ExecMode, Parallelism } from '../core/cascade-options.js';
import type { Runtime } from '../api/runtime.js';
import { frameDrift } from '../quality/drift.js';
import { median } from '../core/median.js';
import { roundOrder } from './measure.js';
import { ceilingOf, concurrentSample, type CeilingFigures, type ConcurrentSample } from './ceiling.js';

/** One configuration to measure, on one of the runtimes. */
export interface CascadeConfig {
  readonly label: string;
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
  readonly lanes: number;
  readonly threadsPerLane: number;
  /** Absent: `extended`. */
  readonly cascadeWindow?: CascadeWindow;
}

/** One JSON record per configuration. */
export interface CascadeRecord extends CascadeConfig {
  /** The model package's name (`manifest.name`). */
  readonly modelName: string;
  readonly blocksPerSecond: number;
  readonly fps: number;
  /** Median wall time ÷ forwards. */
  readonly msPerForward: number;
  /** Σ time inside `session.run` ÷ forwards over the measured generations. */
  readonly runMsPerForward: number;
  /** (Σ forwardTaskMs − Σ forwardRunMs) ÷ forwards: the runtime's own cost per forward. */
  readonly overheadMsPerForward: number;
  /** The overhead per forward in % of `session.run` per forward. */
  readonly overheadPercent: number;
  /**
   * Σ time inside every `session.run` of the lanes (denoiser, decoder, text encoder) ÷ (Σ wall
   * time × lanes): how busy the lanes were with the model.
   */
  readonly efficiency: number;
  /** The same with the denoiser's `session.run` alone (what `efficiency` counted before the decoder's time was added). */
  readonly forwardEfficiency: number;
  readonly timeToFirstFrameMs: number;
  /** PSNR of the decoded frames against P0's, same seed (Infinity: identical). */
  readonly driftPsnrDb: number;
  readonly driftMaxAbs: number;
  /** blocks/s ÷ the P0, 1-lane baseline's. */
  readonly speedupVsP0: number;
  /** blocks/s ÷ the best sequential configuration's. */
  readonly speedupVsBestSequential: number;
  /**
   * blocks/s ÷ that of the same P level's `joint` run on 1 lane × 1 thread with the same
   * attention (P0: the baseline): what the lanes add beyond the batching of the cascade. Null
   * when that configuration was not measured.
   */
  readonly laneScaling: number | null;
  /** The run's ceiling (N independent P0 generations at once ÷ one alone); null when not measured. */
  readonly ceiling: number | null;
}

/** What one measured generation of a configuration gives. */
export interface CascadeSample {
  readonly wallMs: number;
  readonly firstFrameMs: number;
  readonly forwards: number;
  /** Milliseconds inside `session.run` (the runtime's `forwardRunMs` delta). */
  readonly forwardRunMs: number;
  /** Milliseconds from handing forwards to lanes to their results (the `forwardTaskMs` delta). */
  readonly forwardTaskMs: number;
  /** Milliseconds inside the decoder's and the text encoder's `session.run` (absent: 0). */
  readonly otherRunMs?: number;
}

/** The result of {@link runCascadeBench}. */
export interface CascadeRun {
  readonly records: CascadeRecord[];
  /** The ceiling and its samples; null without `ceilingRuntimes`. */
  readonly ceiling: CeilingFigures | null;
}

/** Which runtime runs a configuration: keyed by `${lanes}x${threadsPerLane}`. */
export type RuntimesByShape = ReadonlyMap<string, Runtime>;
export const shapeKey = (lanes: number, threadsPerLane: number) => `${lanes}x${threadsPerLane}`;

/**
 * The configurations of `bench --cascade`: P0 on 1 lane (baseline), P0 on 1 lane using every
 * core (the best sequential configuration), then P1..P4 × {causal, bidirectional} × {joint on
 * 1 lane, joint on 2 lanes, lanes on 2 lanes}, and P4 bidirectional joint on 1 lane using every
 * core.
 *
 * @example
 * ```ts
 * cascadeConfigs(2).length; // 32
 * ```
 */
export function cascadeConfigs(cores: number): CascadeConfig[] {
  const configs: CascadeConfig[] = [
    { label: 'P0 baseline', parallelism: 0, attention: 'bidirectional', exec: 'joint', lanes: 1, threadsPerLane: 1 },
    { label: 'P0 best sequential', parallelism: 0, attention: 'bidirectional', exec: 'joint', lanes: 1, threadsPerLane: cores },
  ];
  for (const parallelism of [1, 2, 3, 4] as const) {
    for (const attention of ['causal', 'bidirectional'] as const) {
      configs.push({ label: '', parallelism, attention, exec: 'joint', lanes: 1, threadsPerLane: 1 });
      configs.push({ label: '', parallelism, attention, exec: 'joint', lanes: 2, threadsPerLane: 1 });
      configs.push({ label: '', parallelism, attention, exec: 'lanes', lanes: 2, threadsPerLane: 1 });
    }
  }
  // The cascade's joint forward on one lane that owns every core: the other way to use them.
  configs.push({ label: '', parallelism: 4, attention: 'bidirectional', exec: 'joint', lanes: 1, threadsPerLane: cores });
  // P4 under the model's own window: a block costs what a sequential one does.
  for (const attention of ['causal', 'bidirectional'] as const) {
    configs.push({ label: '', parallelism: 4, attention, exec: 'joint', lanes: 1, threadsPerLane: 1, cascadeWindow: 'trained' });
    configs.push({ label: '', parallelism: 4, attention, exec: 'lanes', lanes: 2, threadsPerLane: 1, cascadeWindow: 'trained' });
  }
  // One forward per block, consecutive ticks overlapping (causal, trained window only).
  configs.push({ label: '', parallelism: 4, attention: 'causal', exec: 'wavefront', lanes: 2, threadsPerLane: 1, cascadeWindow: 'trained' });
  return configs.map((c) => ({ ...c, label: c.label || configLabel(c) }));
}

/**
 * A configuration's label: level, attention, mode, lanes (× threads), and `trained` under the
 * trained window.
 *
 * @example
 * ```ts
 * configLabel({ parallelism: 4, attention: 'causal', exec: 'lanes', lanes: 2, threadsPerLane: 1, cascadeWindow: 'trained' }); // 'P4 causal lanes 2L trained'
 * ```
 */
export function configLabel(c: Omit<CascadeConfig, 'label'>): string {
  return `P${c.parallelism} ${c.attention} ${c.exec} ${c.lanes}L${c.threadsPerLane > 1 ? `×${c.threadsPerLane}T` : ''}${c.cascadeWindow === 'trained' ? ' trained' : ''}`;
}

async function sample(runtime: Runtime, request: GenerateRequest, config: CascadeConfig, keep: Frame[] | null): Promise<CascadeSample> {
  const before = runtime.stats();
  const start = performance.now();
  let firstFrameMs = Number.NaN;
  const cascade = { parallelism: config.parallelism, attention: config.attention, exec: config.exec, ...(config.cascadeWindow ? { cascadeWindow: config.cascadeWindow } : {}) };
  for await (const frame of runtime.generate(request, { cascade })) {
    if (Number.isNaN(firstFrameMs)) firstFrameMs = performance.now() - start;
    keep?.push(frame);
  }
  const wallMs = performance.now() - start;
  const after = runtime.stats();
  return {
    wallMs,
    firstFrameMs,
    forwards: after.forwards - before.forwards,
    forwardRunMs: after.forwardRunMs - before.forwardRunMs,
    forwardTaskMs: after.forwardTaskMs - before.forwardTaskMs,
    otherRunMs: after.decodeRunMs - before.decodeRunMs + after.encodeRunMs - before.encodeRunMs,
  };
}

/** NaN-free division: 0 when the divisor is not positive. */
const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

/** The model-time figures of a configuration's measured generations (pure). */
export interface ModelTimeFigures {
  readonly runMsPerForward: number;
  readonly overheadMsPerForward: number;
  readonly overheadPercent: number;
  readonly efficiency: number;
  readonly forwardEfficiency: number;
}

/**
 * Efficiency and overhead from a configuration's samples (pure): sums over the samples, so a
 * long generation weighs more than a short one.
 * - efficiency = Σ (forwardRunMs + otherRunMs) ÷ (Σ wallMs × lanes); forwardEfficiency without otherRunMs
 * - overheadMsPerForward = (Σ forwardTaskMs − Σ forwardRunMs) ÷ Σ forwards
 * - overheadPercent = that ÷ (Σ forwardRunMs ÷ Σ forwards) × 100
 *
 * @example
 * ```ts
 * modelTimeFigures([{ wallMs: 100, firstFrameMs: 10, forwards: 10, forwardRunMs: 150, forwardTaskMs: 165 }], 2);
 * // { runMsPerForward: 15, overheadMsPerForward: 1.5, overheadPercent: 10, efficiency: 0.75, forwardEfficiency: 0.75 }
 * ```
 */
export function modelTimeFigures(samples: readonly CascadeSample[], lanes: number): ModelTimeFigures {
  const sum = (f: (s: CascadeSample) => number) => samples.reduce((acc, s) => acc + f(s), 0);
  const forwards = sum((s) => s.forwards);
  const run = sum((s) => s.forwardRunMs);
  const task = sum((s) => s.forwardTaskMs);
  const runMsPerForward = ratio(run, forwards);
  const overheadMsPerForward = ratio(task - run, forwards);
  return {
    runMsPerForward,
    overheadMsPerForward,
    overheadPercent: 100 * ratio(overheadMsPerForward, runMsPerForward),
    efficiency: ratio(run + sum((s) => s.otherRunMs ?? 0), sum((s) => s.wallMs) * lanes),
    forwardEfficiency: ratio(run, sum((s) => s.wallMs) * lanes),
  };
}

/**
 * For each configuration, the index of the one its `laneScaling` divides by (pure): the same P
 * level's `joint` run on 1 lane × 1 thread with the same attention; P0 configurations divide by
 * the first P0 one on 1 lane × 1 thread (the baseline). -1 when there is none among `configs`.
 *
 * @example
 * ```ts
 * const configs = cascadeConfigs(2);
 * configs[laneScalingReferences(configs)[4]!]!.label; // 'P1 causal joint 1L'
 * ```
 */
export function laneScalingReferences(configs: readonly CascadeConfig[]): number[] {
  const single = (c: CascadeConfig) => c.exec === 'joint' && c.lanes === 1 && c.threadsPerLane === 1;
  return configs.map((c) =>
    configs.findIndex((r) => single(r) && r.parallelism === c.parallelism && (c.parallelism === 0 || (r.attention === c.attention && (r.cascadeWindow ?? 'extended') === (c.cascadeWindow ?? 'extended')))),
  );
}

/**
 * The laneScaling of every configuration from its blocks/s (pure; null where the reference
 * configuration was not measured).
 *
 * @example
 * ```ts
 * laneScalings(configs, blocksPerSecond)[i]; // blocksPerSecond[i] ÷ blocksPerSecond of P_i joint 1L
 * ```
 */
export function laneScalings(configs: readonly CascadeConfig[], blocksPerSecond: readonly number[]): (number | null)[] {
  return laneScalingReferences(configs).map((ref, i) => (ref < 0 ? null : ratio(blocksPerSecond[i] as number, blocksPerSecond[ref] as number)));
}

/**
 * Runs the benchmark. `configs[0]` must be the P0 baseline on 1 lane × 1 thread: the ratios
 * divide by it, and so does the ceiling (it is "one generation alone"). With `ceilingRuntimes`
 * (N ≥ 2 runtimes of 1 lane × 1 thread each; the baseline's runtime may be one of them) every
 * round ends with the N generations at once. `onProgress` is told each finished measurement.
 *
 * @example
 * ```ts
 * const { records, ceiling } = await runCascadeBench(runtimes, cascadeConfigs(2), { seed: 0, blocks: 16, prompt: 'red ball' }, { repeats: 3, warmup: 1, ceilingRuntimes: [a, b] });
 * ```
 */
export async function runCascadeBench(
  runtimes: RuntimesByShape,
  configs: readonly CascadeConfig[],
  request: GenerateRequest,
  options: {
    readonly repeats: number;
    readonly warmup: number;
    /** Runtimes of 1 lane × 1 thread each that run the ceiling's concurrent generations. */
    readonly ceilingRuntimes?: readonly Runtime[];
    /** Told each finished measurement; `config` is null for the ceiling's concurrent generations. */
    readonly onProgress?: (done: number, total: number, config: CascadeConfig | null) => void;
  },
): Promise<CascadeRun> {
  const first = configs[0];
  if (!first || first.parallelism !== 0 || first.lanes !== 1 || first.threadsPerLane !== 1) {
    throw new RangeError('the first configuration must be the P0 baseline on 1 lane × 1 thread');
  }
  if (options.repeats < 1) throw new RangeError(`"repeats" must be at least 1, got ${options.repeats}`);
  const ceilingRuntimes = options.ceilingRuntimes ?? [];
  if (ceilingRuntimes.length === 1) throw new RangeError('the ceiling needs at least 2 runtimes');
  const runtimeOf = (c: CascadeConfig) => {
    const runtime = runtimes.get(shapeKey(c.lanes, c.threadsPerLane));
    if (!runtime) throw new Error(`no runtime with ${c.lanes} lane(s) × ${c.threadsPerLane} thread(s) for "${c.label}"`);
    return runtime;
  };
  const frames = configs.map(() => [] as Frame[]);
  const samples = configs.map(() => [] as CascadeSample[]);
  const ceilingSamples: ConcurrentSample[] = [];
  const perRound = configs.length + (ceilingRuntimes.length > 0 ? 1 : 0);
  const total = (options.warmup + options.repeats) * perRound;
  let done = 0;
  for (let round = 0; round < options.warmup + options.repeats; round++) {
    // The configurations and the ceiling's concurrent run (index `configs.length`): the baseline
    // would otherwise always run right after the ceiling's two runtimes.
    for (const i of roundOrder(perRound, round)) {
      const config = configs[i];
      if (config === undefined) {
        const s = await concurrentSample(ceilingRuntimes, request);
        if (round >= options.warmup) ceilingSamples.push(s);
        options.onProgress?.(++done, total, null);
        continue;
      }
      // The first round's frames (warm-up or not) serve the drift figure; timings count after warm-up.
      const s = await sample(runtimeOf(config), request, config, round === 0 ? (frames[i] as Frame[]) : null);
      if (round >= options.warmup) (samples[i] as CascadeSample[]).push(s);
      options.onProgress?.(++done, total, config);
    }
  }
  const rateOf = (x: CascadeSample) => (request.blocks * 1000) / x.wallMs;
  const rates = samples.map((s) => median(s.map(rateOf)));
  const baseline = rates[0] as number;
  const bestSequential = Math.max(...configs.flatMap((c, i) => (c.parallelism === 0 ? [rates[i] as number] : [])));
  const ceiling: CeilingFigures | null =
    ceilingRuntimes.length > 0
      ? { ...ceilingOf((samples[0] as CascadeSample[]).map(rateOf), ceilingSamples), concurrent: ceilingRuntimes.length, samples: ceilingSamples }
      : null;
  const scalings = laneScalings(configs, rates);
  const modelName = runtimeOf(first).manifest.name;
  const records = configs.map((config, i): CascadeRecord => {
    const s = samples[i] as CascadeSample[];
    const bps = rates[i] as number;
    const drift = frameDrift(frames[i] as Frame[], frames[0] as Frame[]);
    const framesPerBlock = (frames[0] as Frame[]).length / request.blocks;
    return {
      ...config,
      modelName,
      blocksPerSecond: bps,
      fps: bps * framesPerBlock,
      msPerForward: median(s.map((x) => x.wallMs / x.forwards)),
      ...modelTimeFigures(s, config.lanes),
      timeToFirstFrameMs: median(s.map((x) => x.firstFrameMs)),
      driftPsnrDb: drift.psnrDb,
      driftMaxAbs: drift.maxAbs,
      speedupVsP0: bps / baseline,
      speedupVsBestSequential: bps / bestSequential,
      laneScaling: scalings[i] ?? null,
      ceiling: ceiling?.ceiling ?? null,
    };
  });
  return { records, ceiling };
}

/**
 * A text table of the records.
 *
 * @example
 * ```ts
 * console.log(formatCascadeTable(records));
 * ```
 */
export function formatCascadeTable(records: readonly CascadeRecord[]): string {
  const rows = [
    ['configuration', 'threads', 'blocks/s', 'FPS', 'ms/fwd', 'run ms', 'ovh %', 'eff', 'TTFF ms', 'vs P0', 'lanes×', 'vs best seq', 'PSNR dB', 'max|Δ|'],
    ...records.map((r) => [
      r.label,
      `${r.lanes}×${r.threadsPerLane}`,
      r.blocksPerSecond.toFixed(1),
      r.fps.toFixed(0),
      r.msPerForward.toFixed(2),
      r.runMsPerForward.toFixed(2),
      r.overheadPercent.toFixed(1),
      `${(r.efficiency * 100).toFixed(0)}%`,
      r.timeToFirstFrameMs.toFixed(1),
      `${r.speedupVsP0.toFixed(2)}×`,
      r.laneScaling === null ? '–' : `${r.laneScaling.toFixed(2)}×`,
      `${r.speedupVsBestSequential.toFixed(2)}×`,
      Number.isFinite(r.driftPsnrDb) ? r.driftPsnrDb.toFixed(1) : '∞',
      String(r.driftMaxAbs),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

/**
 * The line under a table that states the run's ceiling.
 *
 * @example
 * ```ts
 * formatCeiling(ceiling); // 'ceiling: 2 independent P0 generations at once give 1.76× one alone (17.6 vs 10.0 blocks/s)'
 * ```
 */
export function formatCeiling(ceiling: CeilingFigures | null): string {
  if (ceiling === null) return 'ceiling: not measured';
  return (
    `ceiling: ${ceiling.concurrent} independent P0 generations at once give ${ceiling.ceiling.toFixed(2)}× one alone ` +
    `(${ceiling.togetherBlocksPerSecond.toFixed(1)} vs ${ceiling.aloneBlocksPerSecond.toFixed(1)} blocks/s)`
  );
}
