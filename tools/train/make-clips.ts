/**
 * Writes a synthetic sprite-clip dataset for the Python trainer (see src/data/clip-dataset.ts
 * for the file format):
 *
 *   npx tsx tools/train/make-clips.ts --out tools/train/data/clips --count 20000 --seed 1 \
 *     [--frames 12] [--frames-per-block 3] [--switch-probability 0.3] [--width 32] [--height 32]
 *
 * @example
 * ```sh
 * npx tsx tools/train/make-clips.ts --out tools/train/data/clips --count 20000 --seed 1
 * ```
 */
import { parseArgs } from 'node:util';
import { InvalidClipError, writeClipDataset } from '../../src/data/sprite-clips.js';

function numberFlag(values: Record<string, string | boolean | undefined>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new InvalidClipError(`--${name}`, `expected a number, got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      count: { type: 'string' },
      seed: { type: 'string' },
      frames: { type: 'string' },
      'frames-per-block': { type: 'string' },
      'switch-probability': { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
    },
    strict: true,
  });
  const out = values.out;
  const count = numberFlag(values, 'count');
  const seed = numberFlag(values, 'seed');
  if (out === undefined || count === undefined || seed === undefined) {
    throw new InvalidClipError('arguments', '--out, --count and --seed are required');
  }
  const started = performance.now();
  const summary = await writeClipDataset({
    out,
    count,
    seed,
    frames: numberFlag(values, 'frames'),
    framesPerBlock: numberFlag(values, 'frames-per-block'),
    switchProbability: numberFlag(values, 'switch-probability'),
    width: numberFlag(values, 'width'),
    height: numberFlag(values, 'height'),
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `wrote ${summary.count} clips (${summary.clipsWithSwitch} with a prompt switch, ` +
      `${(summary.rawBytes / 2 ** 20).toFixed(1)} MiB raw) to ${summary.framesPath} + ${summary.metaPath} in ${seconds.toFixed(1)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(`make-clips: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
