/**
 * The interactive benchmark: what a viewer sees when the prompt changes mid-stream. A live
 * session generates a video; at a fixed block the prompt is switched; block arrival times give
 * the steady-state interval, the largest gap around the switch and the latency from the switch
 * to the first block made under the new prompt.
 */
import type { CascadeOptions } from '../core/cascade-options.js';
import type { Runtime } from '../api/runtime.js';
import { median } from '../core/median.js';

/** One configuration of the interactive benchmark. */
export interface InteractiveConfig {
  readonly label: string;
  readonly lanes: number;
  readonly cascade: Partial<CascadeOptions>;
}

/** Timings of one session. */
export interface InteractiveRun {
  /** `intervalsMs[b]`: from block b − 1's arrival to block b's (index 0 unused: NaN). */
  readonly intervalsMs: readonly number[];
  /** From the switch call to the first decoded block made under the new prompt (ms). */
  readonly switchToNewPromptMs: number;
  /** The first block under the new prompt. */
  readonly fromBlock: number;
  /** Milliseconds of the re-cache the switch caused (0 when none). */
  readonly recacheMs: number;
}

/** One configuration's result over its repeats. */
export interface InteractiveRecord extends InteractiveConfig {
  /** Median, over the blocks before the switch, of each block's median interval (ms). */
  readonly steadyIntervalMs: number;
  /** Largest median interval from the switch to one block after the new prompt's first (ms). */
  readonly switchGapMs: number;
  /** The same statistic over as many blocks just before the switch: the noise floor of `switchGapMs`. */
  readonly controlGapMs: number;
  /** switchGapMs ÷ steadyIntervalMs: 1 means the switch is invisible in the stream's rhythm. */
  readonly gapRatio: number;
  /** controlGapMs ÷ steadyIntervalMs: what `gapRatio` reads with no switch at all. */
  readonly controlRatio: number;
  readonly switchToNewPromptMs: number;
  readonly fromBlock: number;
  readonly recacheMs: number;
  readonly repeats: number;
}

/** The configurations: sequential with and without re-cache, and cascades on 1 and 2 lanes. */
export const INTERACTIVE_CONFIGS: readonly InteractiveConfig[] = [
  { label: 'P0 + re-cache', lanes: 1, cascade: { parallelism: 0, recache: 'on' } },
  { label: 'P0 no re-cache', lanes: 1, cascade: { parallelism: 0, recache: 'off' } },
  { label: 'P4 causal joint 1L', lanes: 1, cascade: { parallelism: 4, attention: 'causal', exec: 'joint' } },
  { label: 'P4 causal joint 2L', lanes: 2, cascade: { parallelism: 4, attention: 'causal', exec: 'joint' } },
  { label: 'P4 bidirectional lanes 2L', lanes: 2, cascade: { parallelism: 4, attention: 'bidirectional', exec: 'lanes' } },
];

/**
 * Runs one session of `blocks` blocks, switching the prompt when block `switchAt − 1` has been
 * decoded.
 *
 * @example
 * ```ts
 * const run = await interactiveRun(runtime, { parallelism: 4 }, { blocks: 24, switchAt: 12, seed: 0 });
 * ```
 */
export async function interactiveRun(
  runtime: Runtime,
  cascade: Partial<CascadeOptions>,
  o: { readonly blocks: number; readonly switchAt: number; readonly seed: number },
): Promise<InteractiveRun> {
  const arrivals: number[] = [];
  let recacheMs = 0;
  const session = runtime.session({ seed: o.seed, blocks: o.blocks, prompt: 'red ball moving left' }, { cascade });
  session.on((e) => {
    if (e.type === 'block') arrivals[e.block] = performance.now();
    if (e.type === 'recache') recacheMs += e.ms;
  });
  let switchedAt = 0;
  let switched: Promise<{ readonly fromBlock: number }> | null = null;
  for await (const frame of session.frames) {
    if (switched === null && frame.block === o.switchAt - 1) {
      switchedAt = performance.now();
      switched = session.switchPrompt('blue square moving up');
    }
  }
  if (switched === null) throw new RangeError(`interactiveRun: the video ended before block ${o.switchAt - 1}`);
  const { fromBlock } = await switched;
  if (fromBlock + 1 >= o.blocks) throw new RangeError(`interactiveRun: the switch lands on block ${fromBlock}, too late for the video's ${o.blocks} blocks: use more blocks`);
  return {
    intervalsMs: arrivals.map((t, b) => (b === 0 ? Number.NaN : t - (arrivals[b - 1] as number))),
    switchToNewPromptMs: (arrivals[fromBlock] as number) - switchedAt,
    fromBlock,
    recacheMs,
  };
}

/**
 * Summarises repeats of one configuration. Each block's interval is first reduced to its median
 * over the repeats: a stall that happens at the switch every time survives, a scheduler hiccup
 * in one repeat does not, so the largest interval around the switch is not just the largest of
 * several noisy numbers. The control window gives the same statistic where nothing happens.
 *
 * @example
 * ```ts
 * const record = summarizeInteractive(config, runs, 12);
 * ```
 */
export function summarizeInteractive(config: InteractiveConfig, runs: readonly InteractiveRun[], switchAt: number): InteractiveRecord {
  if (runs.length === 0) throw new RangeError(`summarizeInteractive: no runs of "${config.label}"`);
  const blocks = Math.min(...runs.map((r) => r.intervalsMs.length));
  const perBlock = Array.from({ length: blocks }, (_, b) => median(runs.map((r) => r.intervalsMs[b] as number)));
  // Around the switch, intervals are aligned on each run's first new block (at P0 it is block
  // switchAt or the next, by a race): k = −lead … +1 relative to it.
  const lead = Math.max(...runs.map((r) => r.fromBlock - switchAt));
  const around = Array.from({ length: lead + 2 }, (_, i) => median(runs.map((r) => r.intervalsMs[r.fromBlock - lead + i] as number)));
  // Block 1 is left out of the steady state: it still pays for warming the first forwards.
  const before = perBlock.slice(2, switchAt);
  const control = before.slice(-around.length);
  const steadyIntervalMs = median(before);
  const switchGapMs = Math.max(...around);
  const controlGapMs = Math.max(...control);
  const m = (f: (run: InteractiveRun) => number) => median(runs.map(f));
  return {
    ...config,
    steadyIntervalMs,
    switchGapMs,
    controlGapMs,
    gapRatio: switchGapMs / steadyIntervalMs,
    controlRatio: controlGapMs / steadyIntervalMs,
    switchToNewPromptMs: m((r) => r.switchToNewPromptMs),
    fromBlock: m((r) => r.fromBlock),
    recacheMs: m((r) => r.recacheMs),
    repeats: runs.length,
  };
}

/**
 * Runs every configuration `repeats` times after `warmup` unmeasured runs, interleaved, and
 * summarises each (see {@link summarizeInteractive}).
 *
 * @example
 * ```ts
 * const records = await runInteractiveBench(runtimes, INTERACTIVE_CONFIGS, { blocks: 24, switchAt: 12, repeats: 5, warmup: 1 });
 * ```
 */
export async function runInteractiveBench(
  runtimes: ReadonlyMap<number, Runtime>,
  configs: readonly InteractiveConfig[],
  o: { readonly blocks: number; readonly switchAt: number; readonly repeats: number; readonly warmup: number },
  onProgress?: (done: number, total: number) => void,
): Promise<InteractiveRecord[]> {
  if (o.switchAt < 4) throw new RangeError(`runInteractiveBench: switch at block ${o.switchAt} leaves no steady state before it (use 4 or more)`);
  const runs = configs.map((): InteractiveRun[] => []);
  const total = (o.warmup + o.repeats) * configs.length;
  let done = 0;
  for (let r = 0; r < o.warmup + o.repeats; r++) {
    for (const [i, c] of configs.entries()) {
      const runtime = runtimes.get(c.lanes);
      if (!runtime) throw new RangeError(`runInteractiveBench: no runtime with ${c.lanes} lanes`);
      const run = await interactiveRun(runtime, c.cascade, { blocks: o.blocks, switchAt: o.switchAt, seed: r });
      if (r >= o.warmup) runs[i]?.push(run);
      onProgress?.(++done, total);
    }
  }
  return configs.map((c, i) => summarizeInteractive(c, runs[i] as InteractiveRun[], o.switchAt));
}

/**
 * A fixed-width table of the records.
 *
 * @example
 * ```ts
 * console.log(formatInteractiveTable(records));
 * ```
 */
export function formatInteractiveTable(records: readonly InteractiveRecord[]): string {
  const rows = [
    ['configuration', 'steady ms/block', 'gap at switch ms', 'gap ÷ steady', 'no-switch gap ÷ steady', 're-cache ms', 'switch → new prompt ms', 'first new block'],
    ...records.map((r) => [
      r.label,
      r.steadyIntervalMs.toFixed(1),
      r.switchGapMs.toFixed(1),
      `${r.gapRatio.toFixed(2)}×`,
      `${r.controlRatio.toFixed(2)}×`,
      r.recacheMs.toFixed(1),
      r.switchToNewPromptMs.toFixed(1),
      String(r.fromBlock),
    ]),
  ];
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((row) => (row[c] as string).length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  ')).join('\n');
}
