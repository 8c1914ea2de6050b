/**
 * The cascade benchmark: sequential baselines and every P level × attention × execution mode,
 * on 1 and 2 lanes, measured interleaved (each repeat runs every configuration once, so slow
 * phases of a shared machine hit all of them alike), after a warm-up, reported as medians with
 * ratios against the baselines of the same run.
 */
import { performance } from 'node:perf_hooks';
import type { Frame, GenerateRequest } from '../core/api-types.js';
import type { AttentionMode, ExecMode, Parallelism } from '../core/cascade-options.js';
import type { Runtime } from '../api/runtime.js';
import { frameDrift } from '../quality/drift.js';
import { median } from '../core/median.js';

/** One configuration to measure, on one of the runtimes. */
export interface CascadeConfig {
  readonly label: string;
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
  readonly lanes: number;
  readonly threadsPerLane: number;
}

/** One JSON record per configuration. */
export interface CascadeRecord extends CascadeConfig {
  readonly blocksPerSecond: number;
  readonly fps: number;
  readonly msPerForward: number;
  readonly timeToFirstFrameMs: number;
  /** PSNR of the decoded frames against P0's, same seed (Infinity: identical). */
  readonly driftPsnrDb: number;
  readonly driftMaxAbs: number;
  /** blocks/s ÷ the P0, 1-lane baseline's. */
  readonly speedupVsP0: number;
  /** blocks/s ÷ the best sequential configuration's. */
  readonly speedupVsBestSequential: number;
}

interface Sample {
  readonly wallMs: number;
  readonly firstFrameMs: number;
  readonly forwards: number;
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
 * cascadeConfigs(2).length; // 27
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
  return configs.map((c) => ({
    ...c,
    label: c.label || `P${c.parallelism} ${c.attention} ${c.exec} ${c.lanes}L${c.threadsPerLane > 1 ? `×${c.threadsPerLane}T` : ''}`,
  }));
}

async function sample(runtime: Runtime, request: GenerateRequest, config: CascadeConfig, keep: Frame[] | null): Promise<Sample> {
  const before = runtime.stats().forwards;
  const start = performance.now();
  let firstFrameMs = Number.NaN;
  const cascade = { parallelism: config.parallelism, attention: config.attention, exec: config.exec };
  for await (const frame of runtime.generate(request, { cascade })) {
    if (Number.isNaN(firstFrameMs)) firstFrameMs = performance.now() - start;
    keep?.push(frame);
  }
  return { wallMs: performance.now() - start, firstFrameMs, forwards: runtime.stats().forwards - before };
}

/**
 * Runs the benchmark. `onProgress` is told each finished measurement.
 *
 * @example
 * ```ts
 * const records = await runCascadeBench(runtimes, cascadeConfigs(2), { seed: 0, blocks: 16, prompt: 'red ball' }, { repeats: 3, warmup: 1 });
 * ```
 */
export async function runCascadeBench(
  runtimes: RuntimesByShape,
  configs: readonly CascadeConfig[],
  request: GenerateRequest,
  options: { readonly repeats: number; readonly warmup: number; readonly onProgress?: (done: number, total: number, config: CascadeConfig) => void },
): Promise<CascadeRecord[]> {
  const runtimeOf = (c: CascadeConfig) => {
    const runtime = runtimes.get(shapeKey(c.lanes, c.threadsPerLane));
    if (!runtime) throw new Error(`no runtime with ${c.lanes} lane(s) × ${c.threadsPerLane} thread(s) for "${c.label}"`);
    return runtime;
  };
  const frames = configs.map(() => [] as Frame[]);
  const samples = configs.map(() => [] as Sample[]);
  const total = (options.warmup + options.repeats) * configs.length;
  let done = 0;
  for (let round = 0; round < options.warmup + options.repeats; round++) {
    for (const [i, config] of configs.entries()) {
      // The first round's frames (warm-up or not) serve the drift figure; timings count after warm-up.
      const s = await sample(runtimeOf(config), request, config, round === 0 ? (frames[i] as Frame[]) : null);
      if (round >= options.warmup) (samples[i] as Sample[]).push(s);
      options.onProgress?.(++done, total, config);
    }
  }
  const blocksPerSecond = (s: Sample[]) => median(s.map((x) => (request.blocks * 1000) / x.wallMs));
  const baseline = blocksPerSecond(samples[0] as Sample[]);
  const bestSequential = Math.max(
    ...configs.flatMap((c, i) => (c.parallelism === 0 ? [blocksPerSecond(samples[i] as Sample[])] : [])),
  );
  return configs.map((config, i) => {
    const s = samples[i] as Sample[];
    const bps = blocksPerSecond(s);
    const drift = frameDrift(frames[i] as Frame[], frames[0] as Frame[]);
    const framesPerBlock = (frames[0] as Frame[]).length / request.blocks;
    return {
      ...config,
      blocksPerSecond: bps,
      fps: bps * framesPerBlock,
      msPerForward: median(s.map((x) => x.wallMs / x.forwards)),
      timeToFirstFrameMs: median(s.map((x) => x.firstFrameMs)),
      driftPsnrDb: drift.psnrDb,
      driftMaxAbs: drift.maxAbs,
      speedupVsP0: bps / baseline,
      speedupVsBestSequential: bps / bestSequential,
    };
  });
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
    ['configuration', 'threads', 'blocks/s', 'FPS', 'ms/fwd', 'TTFF ms', 'vs P0', 'vs best seq', 'PSNR dB', 'max|Δ|'],
    ...records.map((r) => [
      r.label,
      `${r.lanes}×${r.threadsPerLane}`,
      r.blocksPerSecond.toFixed(1),
      r.fps.toFixed(0),
      r.msPerForward.toFixed(2),
      r.timeToFirstFrameMs.toFixed(1),
      `${r.speedupVsP0.toFixed(2)}×`,
      `${r.speedupVsBestSequential.toFixed(2)}×`,
      Number.isFinite(r.driftPsnrDb) ? r.driftPsnrDb.toFixed(1) : '∞',
      String(r.driftMaxAbs),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}
