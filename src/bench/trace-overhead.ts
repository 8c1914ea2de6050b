/**
 * What tracing costs: the same generation with and without a trace sink, alternated so that
 * both see the same machine, reported as the ratio of medians.
 */
import type { TraceRecord } from '../core/trace-records.js';
import type { GenerateOptions, GenerateRequest } from '../core/api-types.js';
import { measureGeneration, type MeasurableRuntime, type Measurement } from './measure.js';
import { median } from '../core/median.js';

/** Untraced and traced repeats, and the last traced generation's records. */
export interface TraceOverhead {
  readonly untraced: readonly Measurement[];
  readonly traced: readonly Measurement[];
  /** Median wall time per block traced ÷ untraced: 1.05 means tracing costs 5%. */
  readonly slowdown: number;
  readonly records: readonly TraceRecord[];
}

/**
 * Runs `warmup` unmeasured pairs, then `repeats` pairs (untraced, traced), keeping the records
 * of the last traced run. Records are kept in memory, as a sink writing to a file would.
 *
 * @example
 * ```ts
 * const { slowdown, records } = await measureTraceOverhead(runtime, request, { repeats: 7, warmup: 1 });
 * ```
 */
export async function measureTraceOverhead(
  runtime: MeasurableRuntime,
  request: GenerateRequest,
  o: { readonly repeats: number; readonly warmup: number; readonly options?: GenerateOptions; readonly onPair?: (done: number, total: number) => void },
): Promise<TraceOverhead> {
  const untraced: Measurement[] = [];
  const traced: Measurement[] = [];
  let records: TraceRecord[] = [];
  const total = o.warmup + o.repeats;
  for (let i = 0; i < total; i++) {
    const kept: TraceRecord[] = [];
    // Alternate which goes first, so neither always runs on a warmer machine.
    const plainFirst = i % 2 === 0;
    const runPlain = () => measureGeneration(runtime, request, o.options);
    const runTraced = () => measureGeneration(runtime, request, { ...o.options, trace: (r) => kept.push(r) });
    const [a, b] = plainFirst ? [await runPlain(), await runTraced()] : [await runTraced(), await runPlain()];
    const [plain, withTrace] = plainFirst ? [a, b] : [b, a];
    if (i >= o.warmup) {
      untraced.push(plain);
      traced.push(withTrace);
    }
    records = kept;
    o.onPair?.(i + 1, total);
  }
  const msPerBlock = (runs: readonly Measurement[]) => median(runs.map((r) => 1000 / r.blocksPerSecond));
  return { untraced, traced, slowdown: msPerBlock(traced) / msPerBlock(untraced), records };
}
