/**
 * Nearest-neighbour upscaling of frames (`--scale N`): the models make small videos (32×32 for
 * the sprites), which viewers show as a smear or a speck; repeating each pixel N×N keeps the
 * pixels sharp and the colours exact, so every output (GIF, PNG, MP4/WebM) can share it.
 */
import type { Frame } from '../core/api-types.js';
import { OutputError } from './errors.js';
import { checkFrame } from './frame-check.js';
import { describeValue } from '../core/describe-value.js';

/** Largest scale factor: 16× a 32×32 frame is 512×512, and bigger factors only cost memory. */
export const MAX_SCALE = 16;

/**
 * Checks a scale factor: an integer in 1..{@link MAX_SCALE}.
 *
 * @throws {OutputError} `E_OUTPUT_OPTION`.
 *
 * @example
 * ```ts
 * checkScale(2); // ok
 * ```
 */
export function checkScale(scale: number): void {
  if (!Number.isInteger(scale) || scale < 1 || scale > MAX_SCALE) {
    throw new OutputError('E_OUTPUT_OPTION', `option "scale": expected an integer in 1..${MAX_SCALE}, got ${describeValue(scale)}`);
  }
}

/**
 * Returns `frame` enlarged `scale` times by repeating each pixel in a `scale`×`scale` block
 * (the frame itself when `scale` is 1). Index and block are kept.
 *
 * @throws {OutputError} `E_OUTPUT_OPTION` for a bad scale, `E_OUTPUT_FRAME` for a malformed frame.
 *
 * @example
 * ```ts
 * const big = scaleFrame(frame, 4); // 32×32 → 128×128
 * ```
 */
export function scaleFrame(frame: Frame, scale: number): Frame {
  checkScale(scale);
  if (scale === 1) return frame;
  checkFrame(frame, 'scale');
  const { width, height, rgb } = frame;
  const outWidth = width * scale;
  const row = outWidth * 3;
  const out = new Uint8Array(row * height * scale);
  for (let y = 0; y < height; y++) {
    // Build one output row from the source row, then copy it for the other scale − 1 rows.
    const start = y * scale * row;
    let o = start;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const r = rgb[i] as number;
      const g = rgb[i + 1] as number;
      const b = rgb[i + 2] as number;
      for (let k = 0; k < scale; k++) {
        out[o++] = r;
        out[o++] = g;
        out[o++] = b;
      }
    }
    for (let k = 1; k < scale; k++) out.copyWithin(start + k * row, start, start + row);
  }
  return { ...frame, width: outWidth, height: height * scale, rgb: out };
}
