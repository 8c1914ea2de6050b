/**
 * The soak benchmark: one long live session with a prompt switch every few blocks, sampled
 * every few blocks for what would grow if something leaked (the main heap after a forced GC,
 * the process's RSS, the actors alive in the generation's XState system, the shared memory the
 * runtime holds). Growth is reported as least-squares slopes per 1,000 blocks after a warm-up.
 * Scheduled switches are capped (`MAX_PROMPT_SWITCHES`), so switches are live ones.
 */
import type { Progress } from '../core/api-types.js';
import type { CascadeOptions } from '../core/cascade-options.js';
import type { Runtime } from '../api/runtime.js';
import { forcedGc } from './force-gc.js';
import { leastSquaresSlope } from './least-squares.js';

/** The soak's default configuration: the paper's P4, bidirectional, joint (run on 2 lanes by the CLI). */
export const SOAK_CASCADE: Partial<CascadeOptions> = { parallelism: 4, attention: 'bidirectional', exec: 'joint' };

/** Prompts the switches cycle through (all in the sprite vocabulary). */
export const SOAK_PROMPTS: readonly string[] = ['red ball moving left', 'blue square moving up', 'green triangle moving right', 'yellow ball moving down'];

/** What a soak needs of a runtime. */
export type SoakRuntime = Pick<Runtime, 'session' | 'liveActors' | 'sharedBytes'>;

export interface SoakOptions {
  readonly blocks: number;
  /** Blocks between prompt switches (default 50). */
  readonly switchEvery?: number;
  /** Blocks between samples (default 100). */
  readonly sampleEvery?: number;
  /** Leading share of samples left out of the slopes (default 0.1). */
  readonly warmupFraction?: number;
  readonly seed?: number;
  readonly cascade?: Partial<CascadeOptions>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
}

/** One sample, taken as the first frame of block `block` reaches the consumer. */
export interface SoakSample {
  /** Blocks delivered before this sample. */
  readonly block: number;
  readonly elapsedMs: number;
  /** `process.memoryUsage().heapUsed` right after a forced full GC (main thread's heap). */
  readonly heapUsedBytes: number;
  /** Resident set of the whole process (lane workers and ONNX Runtime included). */
  readonly rssBytes: number;
  /** C++ objects bound to JS, ArrayBuffers (frames' bytes, the shared slabs) included: the part of RSS the main heap's figure misses. */
  readonly externalBytes: number;
  readonly liveActors: number;
  readonly sharedBytes: number;
}

/** A soak's figures: the goals are stated against the heap slope, the live actors and the shared bytes. */
export interface SoakReport {
  readonly heapSlopeKbPer1000Blocks: number;
  readonly rssSlopeKbPer1000Blocks: number;
  readonly externalSlopeKbPer1000Blocks: number;
  /** The most actors alive at any block boundary (checked every block, not only at samples). */
  readonly maxLiveActors: number;
  /** `runtime.sharedBytes()` before the session starts and after it ends. */
  readonly sharedBytesStart: number;
  readonly sharedBytesEnd: number;
  readonly blocks: number;
  readonly switchEvery: number;
  readonly sampleEvery: number;
  /** Switches asked for, and `switch` events the session reported (they should be equal). */
  readonly switchesRequested: number;
  readonly switchEvents: number;
  /** Samples left out of the slopes. */
  readonly warmupSamples: number;
  readonly gc: 'expose-gc' | 'v8-flags';
  readonly elapsedMs: number;
  readonly cascade: Partial<CascadeOptions>;
  readonly samples: readonly SoakSample[];
}

const KB = 1024;

/**
 * Runs one soak session of `blocks` blocks and reports its growth rates.
 *
 * @throws {RangeError} when the samples after the warm-up could not give a slope (too few blocks for `sampleEvery`).
 * @example
 * ```ts
 * const runtime = await createRuntime({ lanes: 2 });
 * const report = await runSoak(runtime, { blocks: 5000 });
 * console.log(report.heapSlopeKbPer1000Blocks, report.maxLiveActors);
 * ```
 */
export async function runSoak(runtime: SoakRuntime, o: SoakOptions): Promise<SoakReport> {
  const switchEvery = o.switchEvery ?? 50;
  const sampleEvery = o.sampleEvery ?? 100;
  const warmupFraction = o.warmupFraction ?? 0.1;
  const cascade = o.cascade ?? SOAK_CASCADE;
  const sampleCount = Math.ceil(o.blocks / sampleEvery);
  const warmupSamples = Math.floor(sampleCount * warmupFraction);
  if (sampleCount - warmupSamples < 2) throw new RangeError(`runSoak: ${o.blocks} blocks sampled every ${sampleEvery} leave ${sampleCount - warmupSamples} sample(s) after the warm-up; a slope needs 2`);
  const gc = forcedGc();
  const sharedBytesStart = runtime.sharedBytes();
  const session = runtime.session(
    { seed: o.seed ?? 0, blocks: o.blocks, prompt: SOAK_PROMPTS[0] as string },
    { cascade, ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) },
  );
  let switchEvents = 0;
  session.on((e) => {
    if (e.type === 'switch') switchEvents++;
  });
  const samples: SoakSample[] = [];
  const started = performance.now();
  let switchesRequested = 0;
  let maxLiveActors = 0;
  let current = -1;
  for await (const frame of session.frames) {
    if (frame.block === current) continue;
    current = frame.block;
    maxLiveActors = Math.max(maxLiveActors, runtime.liveActors());
    if (current % sampleEvery === 0) {
      gc.collect();
      const memory = process.memoryUsage();
      samples.push({ block: current, elapsedMs: performance.now() - started, heapUsedBytes: memory.heapUsed, rssBytes: memory.rss, externalBytes: memory.external, liveActors: runtime.liveActors(), sharedBytes: runtime.sharedBytes() });
    }
    if (current > 0 && current % switchEvery === 0) {
      // Awaited: switches are serialised anyway, and this one's encode is a few milliseconds.
      await session.switchPrompt(SOAK_PROMPTS[++switchesRequested % SOAK_PROMPTS.length] as string);
    }
  }
  const elapsedMs = performance.now() - started;
  const kept = samples.slice(warmupSamples);
  const slope = (bytes: (s: SoakSample) => number) => (leastSquaresSlope(kept.map((s) => s.block), kept.map((s) => bytes(s) / KB)) * 1000);
  return {
    heapSlopeKbPer1000Blocks: slope((s) => s.heapUsedBytes),
    rssSlopeKbPer1000Blocks: slope((s) => s.rssBytes),
    externalSlopeKbPer1000Blocks: slope((s) => s.externalBytes),
    maxLiveActors,
    sharedBytesStart,
    sharedBytesEnd: runtime.sharedBytes(),
    blocks: o.blocks,
    switchEvery,
    sampleEvery,
    switchesRequested,
    switchEvents,
    warmupSamples,
    gc: gc.source,
    elapsedMs,
    cascade,
    samples,
  };
}

/**
 * The soak's summary as a short table (the samples stay in the JSON).
 *
 * @example
 * ```ts
 * console.log(formatSoakTable(report));
 * ```
 */
export function formatSoakTable(r: SoakReport): string {
  const mib = (bytes: number) => `${(bytes / (KB * KB)).toFixed(1)} MiB`;
  const first = r.samples[r.warmupSamples];
  const last = r.samples[r.samples.length - 1];
  const rows: [string, string][] = [
    ['blocks', `${r.blocks} (${(r.elapsedMs / 60000).toFixed(1)} min)`],
    ['prompt switches', `${r.switchEvents} reported / ${r.switchesRequested} asked (every ${r.switchEvery} blocks)`],
    ['samples', `${r.samples.length}, every ${r.sampleEvery} blocks; first ${r.warmupSamples} left out of the slopes; GC: ${r.gc}`],
    ['heap after GC', `${first && last ? `${mib(first.heapUsedBytes)} → ${mib(last.heapUsedBytes)}` : '-'}, slope ${r.heapSlopeKbPer1000Blocks.toFixed(1)} KB / 1,000 blocks`],
    ['RSS', `${first && last ? `${mib(first.rssBytes)} → ${mib(last.rssBytes)}` : '-'}, slope ${r.rssSlopeKbPer1000Blocks.toFixed(1)} KB / 1,000 blocks`],
    ['external', `${first && last ? `${mib(first.externalBytes)} → ${mib(last.externalBytes)}` : '-'}, slope ${r.externalSlopeKbPer1000Blocks.toFixed(1)} KB / 1,000 blocks`],
    ['live actors (max)', String(r.maxLiveActors)],
    ['shared bytes', `${r.sharedBytesStart} → ${r.sharedBytesEnd}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
