/**
 * Writes a dataset of random sprite clips for the Python trainer: one gzip of raw frames
 * (`[count, frames, H, W, 3]` uint8) and one JSON of per-clip prompts. Clips are rendered and
 * compressed one at a time, so memory stays flat however many clips are asked for.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { blockPrompts } from './clip-spec.js';
import { InvalidClipError } from './errors.js';
import { randomClipSpec, resolveClipOptions, type RandomClipOptions } from './random-spec.js';
import { renderClip } from './render.js';
import type { Shape } from './vocabulary.js';

/**
 * What to write: `<out>.u8.gz` and `<out>.json`, clips 0..count-1 of dataset `seed`.
 *
 * @example
 * ```ts
 * const request: ClipDatasetRequest = { out: 'tools/train/data/clips', count: 20000, seed: 1 };
 * ```
 */
export interface ClipDatasetRequest extends RandomClipOptions {
  readonly out: string;
  readonly count: number;
  readonly seed: number;
}

/**
 * The JSON side of a dataset; `clips[i]` describes clip i of the frames file.
 *
 * @example
 * ```ts
 * const meta: ClipDatasetMeta = JSON.parse(await readFile('clips.json', 'utf8'));
 * meta.clips[0]?.blockPrompts; // ['red ball moving left', ...] one per block
 * ```
 */
export interface ClipDatasetMeta {
  readonly count: number;
  readonly frames: number;
  readonly framesPerBlock: number;
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  readonly switchProbability: number;
  readonly clips: readonly { readonly shape: Shape; readonly blockPrompts: readonly string[] }[];
}

/**
 * What was written.
 *
 * @example
 * ```ts
 * const { framesPath, clipsWithSwitch } = await writeClipDataset({ out: 'data/clips', count: 10, seed: 1 });
 * ```
 */
export interface ClipDatasetSummary {
  readonly framesPath: string;
  readonly metaPath: string;
  readonly count: number;
  readonly clipsWithSwitch: number;
  readonly rawBytes: number;
}

/**
 * Renders clips 0..count-1 of dataset `seed` and writes them out (see the module comment).
 * Frames per clip must be a whole number of blocks: the trainer reshapes them into blocks.
 *
 * @throws InvalidClipError for bad options
 * @example
 * ```ts
 * await writeClipDataset({ out: 'tools/train/data/clips', count: 20000, seed: 1, frames: 12, framesPerBlock: 3 });
 * ```
 */
export async function writeClipDataset(request: ClipDatasetRequest): Promise<ClipDatasetSummary> {
  const options = resolveClipOptions(request);
  const { count, seed, out } = request;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new InvalidClipError('count', `expected an integer >= 1, got ${JSON.stringify(count)}`);
  }
  if (options.frames % options.framesPerBlock !== 0) {
    throw new InvalidClipError('options.frames', `must be a multiple of framesPerBlock (${options.framesPerBlock}), got ${options.frames}`);
  }
  const framesPath = `${out}.u8.gz`;
  const metaPath = `${out}.json`;
  await mkdir(dirname(framesPath), { recursive: true });

  const clips: { shape: Shape; blockPrompts: string[] }[] = [];
  let clipsWithSwitch = 0;
  let rawBytes = 0;
  function* renderAll(): Generator<Uint8Array> {
    for (let index = 0; index < count; index++) {
      const spec = randomClipSpec(seed, index, options);
      if (spec.segments.length > 1) clipsWithSwitch++;
      clips.push({ shape: spec.shape, blockPrompts: blockPrompts(spec, options.frames, options.framesPerBlock) });
      const video = renderClip(spec, options.frames, options);
      rawBytes += video.length;
      yield video;
    }
  }
  await pipeline(Readable.from(renderAll()), createGzip(), createWriteStream(framesPath));

  const meta: ClipDatasetMeta = {
    count,
    frames: options.frames,
    framesPerBlock: options.framesPerBlock,
    height: options.height,
    width: options.width,
    seed,
    switchProbability: options.switchProbability,
    clips,
  };
  await writeFile(metaPath, JSON.stringify(meta));
  return { framesPath, metaPath, count, clipsWithSwitch, rawBytes };
}
