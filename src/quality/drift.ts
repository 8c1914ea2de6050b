/** Quality drift of a cascade against the sequential pipeline, from decoded frames. */
import type { Frame } from '../core/api-types.js';

export interface Drift {
  /** Peak signal-to-noise ratio over all frames, in dB (Infinity when identical). */
  readonly psnrDb: number;
  /** Largest absolute difference of any channel value, 0..255. */
  readonly maxAbs: number;
}

/**
 * PSNR and max abs difference of two frame sequences of the same shape.
 *
 * @example
 * ```ts
 * frameDrift(cascadeFrames, sequentialFrames); // { psnrDb: 41.3, maxAbs: 37 }
 * ```
 */
export function frameDrift(frames: readonly Frame[], reference: readonly Frame[]): Drift {
  if (frames.length !== reference.length) throw new RangeError(`drift: ${frames.length} frames against ${reference.length}`);
  let squared = 0;
  let count = 0;
  let maxAbs = 0;
  frames.forEach((frame, i) => {
    const ref = (reference[i] as Frame).rgb;
    if (frame.rgb.length !== ref.length) throw new RangeError(`drift: frame ${i} has ${frame.rgb.length} bytes, reference ${ref.length}`);
    for (let j = 0; j < ref.length; j++) {
      const d = (frame.rgb[j] as number) - (ref[j] as number);
      squared += d * d;
      if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
    }
    count += ref.length;
  });
  const mse = squared / count;
  return { psnrDb: mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse), maxAbs };
}
