/** The JSON document `block-cascade bench --json` writes: where, what and the results. */
import { availableParallelism, cpus } from 'node:os';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import type { CascadeOptions } from '../core/cascade-options.js';
import type { BenchConfig, BenchRow } from './run-bench.js';
import type { Measurement } from './measure.js';
import { packageRoot } from '../engine/model/paths.js';

/** The machine a benchmark ran on. */
export interface MachineInfo {
  /** Logical CPUs available to Node. */
  readonly cpus: number;
  readonly cpuModel: string;
  /** Node version, e.g. `v20.20.2`. */
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
}

/** A benchmark report. */
export interface BenchReport {
  readonly machine: MachineInfo;
  readonly model: { readonly name: string; readonly dir: string };
  readonly config: BenchConfig & { readonly lanes: number; readonly cascade?: Partial<CascadeOptions> };
  /** Median, min and max of every figure. */
  readonly results: readonly BenchRow[];
  /** Every measured repeat (untraced, when tracing was measured). */
  readonly runs: readonly Measurement[];
  /** With `--trace`: the traced repeats, alternated with `runs`, and the slowdown (ratio of medians of ms/block). */
  readonly traceOverhead?: {
    readonly slowdown: number;
    readonly traced: readonly Measurement[];
    /** Records of one traced generation. */
    readonly records: number;
    /** The JSONL trace written, if any. */
    readonly file?: string;
  };
}

/**
 * A model folder as a report records it: relative to the package root when it lies inside it
 * (`models/sprites`), else only its own name, so that no report holds a machine's absolute path.
 *
 * @example
 * ```ts
 * reportedModelDir(defaultModelDir()); // 'models/sprites'
 * reportedModelDir('/data/models/my-model'); // 'my-model'
 * ```
 */
export function reportedModelDir(dir: string): string {
  const abs = resolve(dir);
  const rel = relative(packageRoot(), abs);
  if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  return basename(abs);
}

/**
 * Describes this machine.
 *
 * @example
 * ```ts
 * machineInfo(); // { cpus: 2, cpuModel: '…', node: 'v20.20.2', platform: 'linux', arch: 'x64' }
 * ```
 */
export function machineInfo(): MachineInfo {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: process.platform,
    arch: process.arch,
  };
}

/**
 * Formats summary rows as an aligned text table.
 *
 * @example
 * ```ts
 * console.log(formatBenchTable(summarize(runs)));
 * ```
 */
export function formatBenchTable(rows: readonly BenchRow[]): string {
  const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
  const table = [
    ['metric', 'median', 'min', 'max', 'unit'],
    ...rows.map((r) => [r.metric, fmt(r.median), fmt(r.min), fmt(r.max), r.unit]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  return table
    .map((row) => row.map((cell, c) => (c === 0 || c === 4 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}
