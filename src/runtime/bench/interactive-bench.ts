/**
 * The interactive benchmark: what a viewer sees when the prompt changes mid-stream. A live
 * session generates a video; at a fixed block the prompt is switched; block arrival times give
 * the steady-state interval, the largest gap around the switch and the latency from the switch
 * to the first block made under the new prompt.
 */
import type { CascadeOptions } from '../cascade/cascade-options.js';
import type { Runtime } from '../runtime.js';
import { median } from './median.js';

/** One configuration of the interactive benchmark. */
export interface InteractiveConfig {
  readonly label: string;
  readonly lanes: number;
  readonly cascade: Partial<CascadeOptions>;
}

/** Timings of one session. */
export interface InteractiveRun {
  /** Median interval between consecutive decoded blocks before the switch (ms). */
  readonly steadyIntervalMs: number;
  /** Largest interval between consecutive decoded blocks from the switch to two blocks after the new prompt's first (ms). */
  readonly switchGapMs: number;
  /** From the switch call to the first decoded block made under the new prompt (ms). */
  readonly switchToNewPromptMs: number;
  /** The first block under the new prompt. */
  readonly fromBlock: number;
}

/** Medians over repeats of one configuration. */
export interface InteractiveRecord extends InteractiveConfig, InteractiveRun {
  /** switchGapMs ÷ steadyIntervalMs: 1 means the switch is invisible in the stream's rhythm. */
  readonly gapRatio: number;
  readonly repeats: number;
}

/** The configurations: sequential, and cascades on 1 and 2 lanes. */
export const INTERACTIVE_CONFIGS: readonly InteractiveConfig[] = [
  { label: 'P0 sequential', lanes: 1, cascade: { parallelism: 0 } },
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
  const session = runtime.session({ seed: o.seed, blocks: o.blocks, prompt: 'red ball moving left' }, { cascade });
  session.on((e) => {
    if (e.type === 'block') arrivals[e.block] = performance.now();
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
  if (fromBlock >= o.blocks) throw new RangeError(`interactiveRun: the switch lands on block ${fromBlock}, after the video's ${o.blocks} blocks: use more blocks`);
  const intervals = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
  // intervals[i] is the wait for block i + 1.
  const steady = intervals.slice(1, o.switchAt - 1);
  const around = intervals.slice(o.switchAt - 1, Math.min(intervals.length, fromBlock + 2));
  return {
    steadyIntervalMs: median(steady),
    switchGapMs: Math.max(...around),
    switchToNewPromptMs: (arrivals[fromBlock] as number) - switchedAt,
    fromBlock,
  };
}

/**
 * Runs every configuration `repeats` times after `warmup` unmeasured runs, interleaved, and
 * returns the medians.
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
  return configs.map((c, i) => {
    const list = runs[i] as InteractiveRun[];
    const m = (f: (run: InteractiveRun) => number) => median(list.map(f));
    const steadyIntervalMs = m((x) => x.steadyIntervalMs);
    const switchGapMs = m((x) => x.switchGapMs);
    return {
      ...c,
      steadyIntervalMs,
      switchGapMs,
      switchToNewPromptMs: m((x) => x.switchToNewPromptMs),
      fromBlock: m((x) => x.fromBlock),
      gapRatio: m((x) => x.switchGapMs / x.steadyIntervalMs),
      repeats: list.length,
    };
  });
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
    ['configuration', 'steady ms/block', 'gap at switch ms', 'gap ÷ steady', 'switch → new prompt ms', 'first new block'],
    ...records.map((r) => [r.label, r.steadyIntervalMs.toFixed(1), r.switchGapMs.toFixed(1), `${r.gapRatio.toFixed(2)}×`, r.switchToNewPromptMs.toFixed(1), String(r.fromBlock)]),
  ];
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((row) => (row[c] as string).length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  ')).join('\n');
}
