/**
 * Animated GIF output (gifenc): a one-shot encoder for a list of frames and a streaming
 * writer that encodes each frame as it arrives, so that a long generation keeps only the
 * compressed GIF in memory, not every RGB frame.
 */
import type { Frame } from '../core/api-types.js';
import { Piscina } from 'piscina';
import { siblingModule } from '../core/source-modules.js';
import { OutputError } from './errors.js';
import { checkFrame } from './frame-check.js';
import { gifenc, type GifEncoderStream } from './gifenc.js';
import { indexFrame } from './palette.js';
import { writeFileAtomic } from './output-file.js';
import { describeValue } from '../core/describe-value.js';

/** Options of the GIF writers. */
export interface GifOptions {
  /** Playback rate in frames per second (GIF delays are whole centiseconds, so it is rounded). */
  readonly fps: number;
}

function delayMs(fps: number, where: string): number {
  if (!Number.isFinite(fps) || fps <= 0 || fps > 100) {
    throw new OutputError('E_OUTPUT_OPTION', `${where}: option "fps": expected a number in (0, 100], got ${describeValue(fps)}`);
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

/** Frames a {@link GifWriter} lets wait for its encoder before `add` waits too. */
const MAX_PENDING_FRAMES = 8;

/**
 * Writes a GIF file from frames that arrive one at a time: each is encoded on a thread of its
 * own (a frame with more than 256 colours takes milliseconds to quantise, which on the caller's
 * thread would hold up the runtime between ticks) and its RGB released; `finish()`
 * writes the file. `add` resolves at once unless 8 frames already wait for the encoder.
 *
 * @example
 * ```ts
 * const gif = new GifWriter('out.gif', { fps: 16 });
 * for await (const frame of runtime.generate(request)) await gif.add(frame);
 * await gif.finish();
 * ```
 */
export class GifWriter {
  readonly path: string;
  readonly #fps: number;
  #pool: Piscina | null = null;
  #first: { width: number; height: number } | undefined;
  #frames = 0;
  #finishing = false;
  readonly #pending = new Set<Promise<unknown>>();
  #failure: OutputError | null = null;

  constructor(path: string, options: GifOptions) {
    this.path = path;
    delayMs(options.fps, path);
    this.#fps = options.fps;
  }

  /** Frames added so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Hands one frame to the encoder. @throws {OutputError} as {@link GifEncoder.add}, or the encoder's failure. */
  async add(frame: Frame): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#finishing) throw new OutputError('E_OUTPUT_STATE', `${this.path}: cannot add frame ${frame.index}: the GIF is finished`);
    checkFrame(frame, this.path, this.#first);
    this.#first ??= { width: frame.width, height: frame.height };
    const rgb = new Uint8Array(frame.rgb);
    const task = this.#encoder().run({ type: 'frame', width: frame.width, height: frame.height, rgb }, { transferList: [rgb.buffer] }).catch((error: unknown) => {
      this.#failure ??= new OutputError('E_OUTPUT_STATE', `${this.path}: the GIF encoder failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    this.#pending.add(task);
    void task.then(() => this.#pending.delete(task));
    this.#frames++;
    while (this.#pending.size > MAX_PENDING_FRAMES) await Promise.race(this.#pending);
    if (this.#failure) throw this.#failure;
  }

  /** Writes the GIF file once every frame is encoded. @throws {OutputError} if no frame was added. */
  async finish(): Promise<void> {
    if (this.#frames === 0) throw new OutputError('E_OUTPUT_STATE', `${this.path}: a GIF needs at least one frame, got none`);
    if (this.#finishing) throw new OutputError('E_OUTPUT_STATE', `${this.path}: the GIF is already finished`);
    this.#finishing = true;
    try {
      await Promise.all(this.#pending);
      if (this.#failure) throw this.#failure;
      const bytes = (await this.#encoder().run({ type: 'finish' })) as Uint8Array;
      await writeBytes(this.path, bytes);
    } finally {
      await this.abort();
    }
  }

  /** Stops the encoder thread without writing anything. */
  async abort(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.destroy();
  }

  #encoder(): Piscina {
    if (this.#pool) return this.#pool;
    const { file, execArgv } = siblingModule(import.meta.url, './gif-encode-worker');
    // One thread, one task at a time: the encoder's state lives in that thread. Frames must reach
    // it in order, and by default Piscina sends a queued task it could not hand over at once to
    // the back of its queue (frames came out swapped): `stricterFIFO` keeps the queue's order.
    this.#pool = new Piscina({ filename: file, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1, stricterFIFO: true, idleTimeout: Number.POSITIVE_INFINITY, execArgv, workerData: { fps: this.#fps, where: this.path } });
    // `abort` destroys the pool under a frame being encoded: Piscina reports that frame's late
    // reply as an 'error' event, which unheard would be an uncaught exception. Nothing is lost.
    this.#pool.on('error', () => undefined);
    return this.#pool;
  }
}
