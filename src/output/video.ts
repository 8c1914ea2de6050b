/**
 * MP4 and WebM output through the `ffmpeg` program: the formats people open in a browser or a
 * player, which GIF is not at any reasonable size. Encoding H.264 or VP9 in JavaScript would
 * mean a large native dependency; ffmpeg is one `apt-get install` away and does it well.
 *
 * Frames are piped to ffmpeg as raw RGB as they arrive (nothing is kept in memory), ffmpeg
 * writes a temporary file next to the target, and it is renamed into place when ffmpeg
 * succeeds, the same rule as the GIF and PNG writers (`output-file.ts`).
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { rm } from 'node:fs/promises';
import { delimiter, extname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Frame } from '../core/api-types.js';
import { OutputError } from './errors.js';
import { checkFrame } from './frame-check.js';
import { renameIntoPlace, temporaryName } from './output-file.js';
import { describeValue } from '../core/describe-value.js';

/** A video container written through ffmpeg. */
export type VideoFormat = 'mp4' | 'webm';

/**
 * Encoders tried for each container, best first: Debian's ffmpeg has libx264 and libvpx-vp9;
 * the others are what builds without them usually still have.
 */
const ENCODERS: Record<VideoFormat, readonly string[]> = {
  mp4: ['libx264', 'libopenh264', 'mpeg4'],
  webm: ['libvpx-vp9', 'libvpx'],
};

/** Encoder settings: quality high enough for small pixel-art frames, speed over size. */
const ENCODER_ARGS: Record<string, readonly string[]> = {
  libx264: ['-preset', 'veryfast', '-crf', '18'],
  libopenh264: ['-b:v', '2M'],
  mpeg4: ['-q:v', '2'],
  'libvpx-vp9': ['-b:v', '0', '-crf', '30', '-deadline', 'realtime', '-cpu-used', '8'],
  libvpx: ['-b:v', '2M', '-deadline', 'realtime', '-cpu-used', '8'],
};

/** How to install ffmpeg, for messages. */
export const FFMPEG_INSTALL_HINT = 'install it (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)';

/**
 * The container an output path asks for by its extension (case-insensitive), or undefined for
 * anything else (which the CLI writes as a GIF).
 *
 * @example
 * ```ts
 * videoFormatOf('clip.MP4'); // "mp4"
 * videoFormatOf('clip.gif'); // undefined
 * ```
 */
export function videoFormatOf(path: string): VideoFormat | undefined {
  const ext = extname(path).toLowerCase();
  return ext === '.mp4' ? 'mp4' : ext === '.webm' ? 'webm' : undefined;
}

/**
 * The `ffmpeg` executable found on `PATH`, or undefined.
 *
 * @example
 * ```ts
 * findFfmpeg(); // "/usr/bin/ffmpeg"
 * ```
 */
export function findFfmpeg(path: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next folder
    }
  }
  return undefined;
}

/** What {@link VideoWriter} runs: the ffmpeg program and the encoder it has for the container. */
export interface VideoEncoder {
  readonly ffmpeg: string;
  readonly format: VideoFormat;
  readonly codec: string;
}

/**
 * Finds ffmpeg and an encoder it has for the container of `path`, so that a missing tool is
 * reported before anything is generated.
 *
 * @throws {OutputError} `E_OUTPUT_TOOL` when ffmpeg is not on `PATH` (saying how to install it)
 *   or has none of the container's encoders; `E_OUTPUT_OPTION` when `path` is not .mp4/.webm.
 *
 * @example
 * ```ts
 * const encoder = findVideoEncoder('clip.mp4'); // { ffmpeg: '/usr/bin/ffmpeg', format: 'mp4', codec: 'libx264' }
 * ```
 */
export function findVideoEncoder(path: string, searchPath?: string): VideoEncoder {
  const format = videoFormatOf(path);
  if (format === undefined) throw new OutputError('E_OUTPUT_OPTION', `${path}: not a video file name (expected .mp4 or .webm)`);
  const ffmpeg = findFfmpeg(searchPath);
  const container = format.toUpperCase().replace('WEBM', 'WebM');
  if (ffmpeg === undefined) {
    throw new OutputError('E_OUTPUT_TOOL', `${path}: writing ${container} needs the ffmpeg program, which is not on PATH: ${FFMPEG_INSTALL_HINT}, or write a GIF (--out video.gif)`);
  }
  const listed = spawnSync(ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8', timeout: 15_000 });
  const names = new Set((listed.stdout ?? '').split('\n').map((line) => line.trim().split(/\s+/)[1]).filter((n) => n !== undefined));
  const codec = ENCODERS[format].find((name) => names.has(name));
  if (codec === undefined) {
    throw new OutputError('E_OUTPUT_TOOL', `${path}: ${ffmpeg} has no ${container} encoder (none of ${ENCODERS[format].join(', ')}): install a full ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg)`);
  }
  return { ffmpeg, format, codec };
}

/** Options of {@link VideoWriter}. */
export interface VideoOptions {
  /** Frames per second of the video. */
  readonly fps: number;
  /** From {@link findVideoEncoder}; found from `path` when absent. */
  readonly encoder?: VideoEncoder;
}

/** Last bytes of ffmpeg's stderr kept for an error message. */
const STDERR_TAIL = 2000;

/**
 * Writes an MP4 or WebM file from frames that arrive one at a time, through ffmpeg. The first
 * frame fixes the size; odd sizes are padded to even ones (yuv420p needs them).
 *
 * @example
 * ```ts
 * const video = new VideoWriter('out.mp4', { fps: 16 });
 * for await (const frame of runtime.generate(request)) await video.add(frame);
 * await video.finish();
 * ```
 */
export class VideoWriter {
  readonly path: string;
  readonly encoder: VideoEncoder;
  readonly #fps: number;
  readonly #temporary: string;
  #child: ChildProcessByStdio<Writable, null, Readable> | undefined;
  #exit: Promise<number | null> | undefined;
  #stderr = '';
  #first: { width: number; height: number } | undefined;
  #frames = 0;
  #done = false;

  /** @throws {OutputError} `E_OUTPUT_OPTION` for a bad `fps`, `E_OUTPUT_TOOL` as {@link findVideoEncoder}. */
  constructor(path: string, options: VideoOptions) {
    if (!Number.isFinite(options.fps) || options.fps <= 0 || options.fps > 1000) {
      throw new OutputError('E_OUTPUT_OPTION', `${path}: option "fps": expected a number in (0, 1000], got ${describeValue(options.fps)}`);
    }
    this.path = path;
    this.encoder = options.encoder ?? findVideoEncoder(path);
    this.#fps = options.fps;
    this.#temporary = temporaryName(path);
  }

  /** Frames added so far. */
  get frames(): number {
    return this.#frames;
  }

  #start(width: number, height: number): ChildProcessByStdio<Writable, null, Readable> {
    const { ffmpeg, format, codec } = this.encoder;
    const args = [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(this.#fps), '-i', '-',
      // yuv420p (what players expect) halves the chroma planes, so both sides must be even.
      '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-pix_fmt', 'yuv420p',
      '-c:v', codec, ...(ENCODER_ARGS[codec] ?? []),
      ...(format === 'mp4' ? ['-movflags', '+faststart'] : []),
      // The temporary name ends in .tmp, so the container is named.
      '-f', format, this.#temporary,
    ];
    // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and
    // ffmpeg must go on to finish the shorter video that the CLI writes on interruption.
    const child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-STDERR_TAIL);
    });
    // A write after ffmpeg died fails with EPIPE; the exit status and stderr explain it.
    child.stdin.on('error', () => undefined);
    this.#exit = new Promise((resolve) => {
      child.on('error', (err) => {
        this.#stderr += `\n${err.message}`;
        resolve(null);
      });
      child.on('close', (code) => resolve(code));
    });
    return child;
  }

  #failure(code: number | null): OutputError {
    const said = this.#stderr.trim().split('\n').slice(-3).join(' / ');
    return new OutputError('E_OUTPUT_TOOL', `${this.path}: ffmpeg failed (exit ${code ?? 'by signal'})${said === '' ? '' : `: ${said}`}`);
  }

  /**
   * Sends one frame to ffmpeg; resolves when ffmpeg has taken it (so a slow encoder slows the
   * caller rather than filling memory).
   *
   * @throws {OutputError} `E_OUTPUT_FRAME` for a malformed frame or a size other than the first
   *   frame's, `E_OUTPUT_STATE` after `finish()`/`abort()`, `E_OUTPUT_TOOL` if ffmpeg failed.
   */
  async add(frame: Frame): Promise<void> {
    if (this.#done) throw new OutputError('E_OUTPUT_STATE', `${this.path}: cannot add frame ${frame.index}: the video is finished`);
    checkFrame(frame, this.path, this.#first);
    this.#first ??= { width: frame.width, height: frame.height };
    this.#child ??= this.#start(frame.width, frame.height);
    const stdin = this.#child.stdin;
    const taken = await new Promise<boolean>((resolve) => {
      if (stdin.destroyed || !stdin.writable) return resolve(false);
      stdin.write(frame.rgb, (err) => resolve(err == null));
    });
    if (!taken) {
      const code = await this.#exit;
      await rm(this.#temporary, { force: true }).catch(() => undefined);
      this.#done = true;
      throw this.#failure(code ?? null);
    }
    this.#frames++;
  }

  /**
   * Ends the video: ffmpeg finishes the file, which is then renamed into place.
   *
   * @throws {OutputError} `E_OUTPUT_STATE` with no frame or when already finished,
   *   `E_OUTPUT_TOOL` if ffmpeg failed (its last words quoted), `E_OUTPUT_WRITE` if the rename fails.
   */
  async finish(): Promise<void> {
    if (this.#done) throw new OutputError('E_OUTPUT_STATE', `${this.path}: the video is already finished`);
    if (this.#child === undefined) throw new OutputError('E_OUTPUT_STATE', `${this.path}: a video needs at least one frame, got none`);
    this.#done = true;
    this.#child.stdin.end();
    const code = await this.#exit;
    if (code !== 0) {
      await rm(this.#temporary, { force: true }).catch(() => undefined);
      throw this.#failure(code ?? null);
    }
    await renameIntoPlace(this.#temporary, this.path);
  }

  /** Stops ffmpeg and removes its temporary file; the target is left as it was. Never throws. */
  async abort(): Promise<void> {
    this.#done = true;
    if (this.#child !== undefined) {
      this.#child.kill('SIGKILL');
      await this.#exit;
    }
    await rm(this.#temporary, { force: true }).catch(() => undefined);
  }
}
