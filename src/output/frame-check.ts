/** Checks shared by the output writers: a frame's bytes must match its declared size. */
import type { Frame } from '../core/api-types.js';
import { OutputError } from './errors.js';

/**
 * Throws unless `frame` is a well-formed RGB frame (and, given `like`, the same size as it).
 *
 * @param where - What is being written, for the message (e.g. `out.gif`).
 * @throws {OutputError} `E_OUTPUT_FRAME`.
 *
 * @example
 * ```ts
 * checkFrame(frame, 'out.gif', firstFrame);
 * ```
 */
export function checkFrame(frame: Frame, where: string, like?: { readonly width: number; readonly height: number }): void {
  const { width, height, index } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0xffff || height > 0xffff) {
    throw new OutputError('E_OUTPUT_FRAME', `${where}: frame ${index}: size ${width}×${height} is not a valid image size (1..65535)`);
  }
  if (frame.rgb.length !== width * height * 3) {
    throw new OutputError(
      'E_OUTPUT_FRAME',
      `${where}: frame ${index}: expected ${width}·${height}·3 = ${width * height * 3} RGB bytes, got ${frame.rgb.length}`,
    );
  }
  if (like && (like.width !== width || like.height !== height)) {
    throw new OutputError('E_OUTPUT_FRAME', `${where}: frame ${index} is ${width}×${height} but the first frame is ${like.width}×${like.height}`);
  }
}
