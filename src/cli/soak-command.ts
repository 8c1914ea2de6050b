/**
 * `block-cascade bench --soak`: one long P4 live session on the default model with a prompt
 * switch every 50 blocks, sampled for growth (`src/bench/soak-bench.ts`): a table on stdout, a
 * progress bar on stderr when it is a terminal, the figures and samples as JSON.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatSoakTable, runSoak, SOAK_CASCADE } from '../bench/soak-bench.js';
import { machineInfo, reportedModelDir } from '../bench/report.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { onInterrupt } from './interrupt.js';
import { runtimeSettings, type GenerationFlags } from './generation-flags.js';
import { progressReporter } from './progress.js';

/** Blocks of a soak when `--blocks` is not given (bench's own default, 8, is far too short). */
export const SOAK_DEFAULT_BLOCKS = 5000;
/** Lanes of a soak when `--lanes` is not given: the 2-lane P4 configuration. */
export const SOAK_DEFAULT_LANES = 2;

/** What `bench --soak` takes of the bench command's options. */
export interface SoakFlags extends GenerationFlags {
  readonly blocks: number;
  readonly lanes: number;
  readonly json?: string;
  readonly sampleEvery?: number;
  readonly switchEvery?: number;
  /** Which of `blocks` and `lanes` hold commander's defaults: the soak's own apply instead. */
  readonly defaulted?: readonly string[];
}

/**
 * Runs the soak and returns the exit status (0, or 130/143 when interrupted).
 *
 * @example
 * ```ts
 * process.exitCode = await runSoakCommand({ blocks: 5000, lanes: 2, json: 'docs/bench/soak.json' });
 * ```
 */
export async function runSoakCommand(options: SoakFlags): Promise<number> {
  const defaulted = new Set(options.defaulted ?? []);
  const blocks = defaulted.has('blocks') ? SOAK_DEFAULT_BLOCKS : options.blocks;
  const lanes = defaulted.has('lanes') ? SOAK_DEFAULT_LANES : options.lanes;
  const settings = runtimeSettings(options);
  const cascade = { ...SOAK_CASCADE, ...settings.cascade };
  const { createRuntime } = await import('../api/runtime.js');
  const model = defaultModelDir();
  const runtime = await createRuntime({ model, lanes, ...settings, cascade });
  const interrupt = onInterrupt();
  const progress = progressReporter(blocks);
  try {
    process.stderr.write(
      `block-cascade bench --soak: ${runtime.manifest.name}, ${lanes} lane(s), P${cascade.parallelism} ${cascade.attention} ${cascade.exec}, ${blocks} blocks, ` +
        `a prompt switch every ${options.switchEvery ?? 50} blocks, a sample every ${options.sampleEvery ?? 100}\n`,
    );
    const report = await runSoak(runtime, {
      blocks,
      cascade,
      signal: interrupt.signal,
      onProgress: (p) => progress.update(p),
      ...(options.sampleEvery === undefined ? {} : { sampleEvery: options.sampleEvery }),
      ...(options.switchEvery === undefined ? {} : { switchEvery: options.switchEvery }),
    });
    progress.stop();
    process.stdout.write(`${formatSoakTable(report)}\n`);
    if (options.json !== undefined) {
      const { samples, ...figures } = report;
      const json = { machine: machineInfo(), model: { name: runtime.manifest.name, dir: reportedModelDir(model) }, lanes, ...figures, samples };
      await mkdir(dirname(options.json), { recursive: true });
      await writeFile(options.json, `${JSON.stringify(json, null, 2)}\n`);
      process.stderr.write(`block-cascade bench --soak: wrote ${options.json}\n`);
    }
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) return interrupt.exitCode;
    throw err;
  } finally {
    progress.stop();
    await runtime.close();
    interrupt.dispose();
  }
}
