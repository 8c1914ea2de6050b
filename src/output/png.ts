/**
 * PNG frame output (pngjs): one lossless RGB file per frame, `frame-00000.png`, … named by the
 * frame's index in the video, so files written as frames stream in sort in video order.
 */
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { Frame } from '../core/api-types.js';
import { checkFrame } from './frame-check.js';
import { writeFileAtomic } from './output-file.js';

/**
 * File name of a frame: `frame-` and its video index padded to five digits.
 *
 * @example
 * ```ts
 * pngFrameName(12); // "frame-00012.png"
 * ```
 */
export function pngFrameName(index: number): string {
  return `frame-${String(index).padStart(5, '0')}.png`;
}

/**
 * Encodes one frame as an 8-bit RGB PNG (no alpha channel).
 *
 * @throws {OutputError} `E_OUTPUT_FRAME` for a malformed frame.
 *
 * @example
 * ```ts
 * await writeFile('a.png', encodePng(frame));
 * ```
 */
export function encodePng(frame: Frame, where = 'PNG'): Buffer {
  checkFrame(frame, where);
  const png = new PNG({ width: frame.width, height: frame.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(frame.rgb.buffer, frame.rgb.byteOffset, frame.rgb.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/**
 * Writes one frame into `dir` (created if needed) as {@link pngFrameName}; returns its path.
 *
 * @example
 * ```ts
 * for await (const frame of runtime.generate(request)) await writePngFrame('frames', frame);
 * ```
 */
export async function writePngFrame(dir: string, frame: Frame): Promise<string> {
  const path = join(dir, pngFrameName(frame.index));
  const bytes = encodePng(frame, path);
  await writeFileAtomic(path, bytes);
  return path;
}

/**
 * Writes every frame into `dir` as `frame-00000.png`, … ; returns the paths in order.
 *
 * @example
 * ```ts
 * const files = await writePngFrames('frames', frames);
 * ```
 */
export async function writePngFrames(dir: string, frames: readonly Frame[]): Promise<string[]> {
  const paths: string[] = [];
  for (const frame of frames) paths.push(await writePngFrame(dir, frame));
  return paths;
}
