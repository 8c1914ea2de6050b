/**
 * SSIM (structural similarity) of decoded frames, on luma (BT.601), with uniform 8 × 8 windows
 * at a stride of 4 (the frames here are small: 32 × 32), constants for 8-bit data, averaged over
 * windows and frames. 1 for identical videos.
 */
import type { Frame } from '../core/api-types.js';

const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;
const WINDOW = 8;
const STRIDE = 4;

function luma(frame: Frame): Float64Array {
  const out = new Float64Array(frame.width * frame.height);
  for (let p = 0; p < out.length; p++) {
    out[p] = 0.299 * (frame.rgb[p * 3] as number) + 0.587 * (frame.rgb[p * 3 + 1] as number) + 0.114 * (frame.rgb[p * 3 + 2] as number);
  }
  return out;
}

/**
 * Mean SSIM of `frames` against `reference` (same count and size).
 *
 * @example
 * ```ts
 * videoSsim(cachedFrames, uncachedFrames); // 0.97
 * ```
 */
export function videoSsim(frames: readonly Frame[], reference: readonly Frame[]): number {
  if (frames.length !== reference.length) throw new RangeError(`ssim: ${frames.length} frames against ${reference.length}`);
  let sum = 0;
  let windows = 0;
  frames.forEach((frame, i) => {
    const ref = reference[i] as Frame;
    if (frame.width !== ref.width || frame.height !== ref.height) throw new RangeError(`ssim: frame ${i} is ${frame.width}×${frame.height}, reference ${ref.width}×${ref.height}`);
    const a = luma(frame);
    const b = luma(ref);
    const w = frame.width;
    const size = Math.min(WINDOW, frame.width, frame.height);
    for (let y0 = 0; y0 + size <= frame.height; y0 += STRIDE) {
      for (let x0 = 0; x0 + size <= w; x0 += STRIDE) {
        let ma = 0, mb = 0;
        for (let y = y0; y < y0 + size; y++) for (let x = x0; x < x0 + size; x++) { ma += a[y * w + x] as number; mb += b[y * w + x] as number; }
        const n = size * size;
        ma /= n;
        mb /= n;
        let va = 0, vb = 0, cov = 0;
        for (let y = y0; y < y0 + size; y++) {
          for (let x = x0; x < x0 + size; x++) {
            const da = (a[y * w + x] as number) - ma;
            const db = (b[y * w + x] as number) - mb;
            va += da * da;
            vb += db * db;
            cov += da * db;
          }
        }
        va /= n - 1;
        vb /= n - 1;
        cov /= n - 1;
        sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
        windows++;
      }
    }
  });
  return windows === 0 ? 1 : sum / windows;
}
