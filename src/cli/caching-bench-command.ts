/**
 * `block-cascade bench --caching`: block-wise feature caching against no caching on the bundled
 * trained model (`src/bench/caching-bench.ts`, docs/caching.md): P0 on one lane and P4 on two,
 * bwcache at several δ, teacache at two thresholds and fbcache at one, speed and quality, a table on stdout, optional JSON and SVG plot.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cachingPlot, cachingTable, defaultCachingSettings, PEER_POLICIES, runCachingBench } from '../bench/caching-bench.js';
import { cachingVerdicts } from '../bench/caching-goals.js';
import { machineInfo } from '../bench/report.js';

/** The thresholds `bench --caching` measures: the default δ, and lower ones for models whose indicator is small. */
export const CACHING_THRESHOLDS = [0.03, 0.05, 0.1, 0.15, 0.25] as const;

/** The step counts `bench --caching` runs when `--steps` does not pick one: the goals' 32, the bundled default 4, and two more. */
export const CACHING_STEPS = [4, 16, 32, 50] as const;

/** What `bench --caching` takes of the bench command's options. */
export interface CachingBenchFlags {
  readonly blocks: number;
  readonly repeats: number;
  /** One step count (`--steps`), instead of {@link CACHING_STEPS}. */
  readonly steps?: unknown;
  readonly json?: string;
  readonly plot?: string;
}

async function writeOut(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}

/**
 * Runs the caching bench at each of {@link CACHING_STEPS} (or at `--steps` alone) with the bench
 * command's `--blocks` and `--repeats`, 4 seeds × 4 prompts × 4 blocks for quality; every speed-up
 * is against `none` at the same step count in the same run. Returns the exit status.
 *
 * @example
 * ```ts
 * process.exitCode = await runCachingBenchCommand({ blocks: 8, repeats: 5, json: 'caching.json', plot: 'caching.svg' });
 * ```
 */
export async function runCachingBenchCommand(options: CachingBenchFlags): Promise<number> {
  const stepCounts: readonly number[] = typeof options.steps === 'number' ? [options.steps] : CACHING_STEPS;
  process.stderr.write(`block-cascade bench --caching: models/sprites, ${stepCounts.join(', ')} steps, bwcache δ ∈ {${CACHING_THRESHOLDS.join(', ')}}, ${PEER_POLICIES.map((p) => `${p.policy} δ = ${p.threshold}`).join(', ')}, ${options.blocks} blocks × ${options.repeats} repeats\n`);
  const records = [];
  for (const steps of stepCounts) {
    records.push(
      ...(await runCachingBench({
        steps,
        settings: defaultCachingSettings(CACHING_THRESHOLDS),
        blocks: options.blocks,
        repeats: options.repeats,
        seeds: [0, 1, 2, 3],
        prompts: ['red ball moving left', 'blue square moving up', 'green triangle moving right', 'yellow ball moving down'],
        qualityBlocks: 4,
        onProgress: (line) => process.stderr.write(`  ${steps} steps: ${line}\n`),
      })),
    );
  }
  process.stdout.write(`${cachingTable(records)}\n`);
  const verdicts = cachingVerdicts(records);
  if (verdicts.length > 0) process.stdout.write(`\n${verdicts.join('\n')}\n`);
  if (options.json !== undefined) await writeOut(options.json, `${JSON.stringify({ machine: machineInfo(), steps: stepCounts, records }, null, 2)}\n`);
  if (options.plot !== undefined) await writeOut(options.plot, `${cachingPlot(records, `feature caching on the bundled model, ${stepCounts.join('/')} steps`)}\n`);
  return 0;
}
