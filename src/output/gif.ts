/**
 * Animated GIF output (gifenc): a one-shot encoder for a list of frames and a streaming
 * writer that encodes each frame as it arrives, so that a long generation keeps only the
 * compressed GIF in memory, not every RGB frame.
 */
import type { Frame } from '../core/api-types.js';
import { OutputError } from './errors.js';
import { checkFrame } from './frame-check.js';
import { gifenc, type GifEncoderStream } from './gifenc.js';
import { indexFrame } from './palette.js';
import { writeFileAtomic } from './output-file.js';

/** Options of the GIF writers. */
export interface GifOptions {
  /** Playback rate in frames per second (GIF delays are whole centiseconds, so it is rounded). */
  readonly fps: number;
}

function delayMs(fps: number, where: string): number {
  if (!Number.isFinite(fps) || fps <= 0 || fps > 100) {
    throw new OutputError('E_OUTPUT_OPTION', `${where}: option "fps": expected a number in (0, 100], got ${JSON.stringify(fps)}`);
  }
  return 1000 / fps;
}

/**
 * Encodes frames one by one into an in-memory GIF. {@link GifWriter} adds the file; use this
 * class directly to stream a GIF somewhere else.
 *
 * @example
 * ```ts
 * const gif = new GifEncoder({ fps: 16 });
 * for (const frame of frames) gif.add(frame);
 * const bytes = gif.finish();
 * ```
 */
export class GifEncoder {
  readonly #encoder: GifEncoderStream = gifenc.GIFEncoder();
  readonly #delay: number;
  readonly #where: string;
  #first: { width: number; height: number } | undefined;
  #frames = 0;
  #finished = false;

  /** @param where - Names the output in error messages (a path, or `GIF`). */
  constructor(options: GifOptions, where = 'GIF') {
    this.#where = where;
    this.#delay = delayMs(options.fps, where);
  }

  /** Frames added so far. */
  get frames(): number {
    return this.#frames;
  }

  /**
   * Appends one frame. Every frame must have the size of the first one.
   * @throws {OutputError} `E_OUTPUT_FRAME` for a malformed frame, `E_OUTPUT_STATE` after `finish()`.
   */
  add(frame: Frame): void {
    if (this.#finished) throw new OutputError('E_OUTPUT_STATE', `${this.#where}: cannot add frame ${frame.index}: the GIF is finished`);
    checkFrame(frame, this.#where, this.#first);
    this.#first ??= { width: frame.width, height: frame.height };
    const { index, palette } = indexFrame(frame);
    // The first frame's palette becomes the global table, later ones are local tables.
    this.#encoder.writeFrame(index, frame.width, frame.height, { palette, delay: this.#delay, repeat: 0 });
    this.#frames++;
  }

  /**
   * Ends the stream and returns the GIF bytes.
   * @throws {OutputError} `E_OUTPUT_STATE` if no frame was added or it was already finished.
   */
  finish(): Uint8Array {
    if (this.#finished) throw new OutputError('E_OUTPUT_STATE', `${this.#where}: the GIF is already finished`);
    if (this.#frames === 0) throw new OutputError('E_OUTPUT_STATE', `${this.#where}: a GIF needs at least one frame, got none`);
    this.#finished = true;
    this.#encoder.finish();
    return this.#encoder.bytes();
  }
}

/**
 * Encodes frames into an animated GIF that loops forever.
 *
 * @throws {OutputError} for an empty list, mixed frame sizes, malformed frames or a bad `fps`.
 *
 * @example
 * ```ts
 * const bytes = encodeGif(frames, { fps: 16 });
 * ```
 */
export function encodeGif(frames: readonly Frame[], options: GifOptions): Uint8Array {
  const gif = new GifEncoder(options);
  for (const frame of frames) gif.add(frame);
  return gif.finish();
}

/**
 * Encodes frames into an animated GIF file (its folder is created if needed).
 *
 * @example
 * ```ts
 * await writeGif('out/video.gif', frames, { fps: 16 });
 * ```
 */
export async function writeGif(path: string, frames: readonly Frame[], options: GifOptions): Promise<void> {
  const gif = new GifEncoder(options, path);
  for (const frame of frames) gif.add(frame);
  await writeBytes(path, gif.finish());
}

/** Writes the file atomically (temporary name, then rename), naming it on failure. */
async function writeBytes(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes);
}

/**
 * Writes a GIF file from frames that arrive one at a time: each is encoded (and its RGB
 * released) on `add`, and `finish()` writes the file.
 *
 * @example
 * ```ts
 * const gif = new GifWriter('out.gif', { fps: 16 });
 * for await (const frame of runtime.generate(request)) gif.add(frame);
 * await gif.finish();
 * ```
 */
export class GifWriter {
  readonly path: string;
  readonly #gif: GifEncoder;

  constructor(path: string, options: GifOptions) {
    this.path = path;
    this.#gif = new GifEncoder(options, path);
  }

  /** Frames added so far. */
  get frames(): number {
    return this.#gif.frames;
  }

  /** Encodes one frame. @throws {OutputError} as {@link GifEncoder.add}. */
  add(frame: Frame): void {
    this.#gif.add(frame);
  }

  /** Writes the GIF file. @throws {OutputError} if no frame was added. */
  async finish(): Promise<void> {
    await writeBytes(this.path, this.#gif.finish());
  }
}
