/**
 * What the probe sees in one frame: the sprite's pixels (foreground), how many separate blobs
 * they form, where their centre is on the torus, and what colour they are.
 */
import type { Colour } from '../data/vocabulary.js';
import { classifyColour, FOREGROUND_THRESHOLD } from './colour.js';
import { CircularMean } from './torus.js';

/**
 * One decoded frame as the probe reads it (the runtime's `Frame` fits): interleaved uint8
 * RGB, row-major `[height][width][3]`.
 *
 * @example
 * ```ts
 * const frame: ProbeFrame = { width: 32, height: 32, rgb: new Uint8Array(32 * 32 * 3) };
 * ```
 */
export interface ProbeFrame {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Measurements of one frame. `centroid` and `colour` are null when the frame has no usable
 * sprite (nothing bright, or bright pixels scattered everywhere).
 *
 * @example
 * ```ts
 * const stats: FrameStats = measureFrame(frame);
 * if (stats.centroid) console.log(stats.centroid.x, stats.colour);
 * ```
 */
export interface FrameStats {
  /** Foreground pixels, specks removed. */
  readonly area: number;
  /** Connected blobs of foreground (8-connected, across edges), specks removed. */
  readonly components: number;
  /** Circular-mean centre on the torus. */
  readonly centroid: { readonly x: number; readonly y: number } | null;
  /** Palette colour of the mean foreground colour, when most foreground pixels agree with it. */
  readonly colour: Colour | null;
}

/**
 * Blobs smaller than this are noise specks, not sprite: dropped before anything is measured,
 * so one stray bright pixel from a noisy model does not break an otherwise fine frame.
 *
 * @example
 * ```ts
 * MIN_BLOB_PIXELS; // 4
 * ```
 */
export const MIN_BLOB_PIXELS = 4;

/**
 * Below this mean resultant length (per axis) the foreground is spread around the whole frame
 * and has no meaningful centre: a sprite on a 32-px axis scores about 0.8, uniform noise near 0.
 *
 * @example
 * ```ts
 * MIN_CONCENTRATION; // 0.3
 * ```
 */
export const MIN_CONCENTRATION = 0.3;

/**
 * At least this share of foreground pixels must name the same colour as the mean: noise
 * averages to grey (which reads as white) without any pixel being white.
 *
 * @example
 * ```ts
 * MIN_COLOUR_AGREEMENT; // 0.5
 * ```
 */
export const MIN_COLOUR_AGREEMENT = 0.5;

/** 8-connected blobs of `mask` on the torus, as lists of pixel indices. */
function blobs(mask: Uint8Array, width: number, height: number): number[][] {
  const seen = new Uint8Array(mask.length);
  const out: number[][] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    const blob = [start];
    seen[start] = 1;
    for (let i = 0; i < blob.length; i++) {
      const at = blob[i] ?? 0;
      const x = at % width;
      const y = (at - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const n = (((y + dy + height) % height) * width) + ((x + dx + width) % width);
          if (mask[n] && !seen[n]) {
            seen[n] = 1;
            blob.push(n);
          }
        }
      }
    }
    out.push(blob);
  }
  return out;
}

/**
 * Measures one frame (see `FrameStats`). Never throws on content: a black or noisy frame just
 * gets an area of 0 or a null centre/colour.
 *
 * @example
 * ```ts
 * const { area, components, centroid, colour } = measureFrame({ width: 32, height: 32, rgb });
 * ```
 */
export function measureFrame(frame: ProbeFrame): FrameStats {
  const { width, height, rgb } = frame;
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) {
    const peak = Math.max(rgb[3 * i] ?? 0, rgb[3 * i + 1] ?? 0, rgb[3 * i + 2] ?? 0);
    if (peak > FOREGROUND_THRESHOLD) mask[i] = 1;
  }
  const kept = blobs(mask, width, height).filter((blob) => blob.length >= MIN_BLOB_PIXELS);
  const pixels = kept.flat();
  if (pixels.length === 0) return { area: 0, components: 0, centroid: null, colour: null };

  const xs = new CircularMean(width);
  const ys = new CircularMean(height);
  let r = 0, g = 0, b = 0;
  for (const at of pixels) {
    xs.add(at % width);
    ys.add(Math.floor(at / width));
    r += rgb[3 * at] ?? 0;
    g += rgb[3 * at + 1] ?? 0;
    b += rgb[3 * at + 2] ?? 0;
  }
  const n = pixels.length;
  const x = xs.mean();
  const y = ys.mean();
  const concentrated = xs.resultant() >= MIN_CONCENTRATION && ys.resultant() >= MIN_CONCENTRATION;
  const centroid = concentrated && x !== null && y !== null ? { x, y } : null;

  const meanColour = classifyColour([r / n, g / n, b / n]);
  let agreeing = 0;
  for (const at of pixels) {
    if (classifyColour([rgb[3 * at] ?? 0, rgb[3 * at + 1] ?? 0, rgb[3 * at + 2] ?? 0]) === meanColour) agreeing++;
  }
  const colour = meanColour !== null && agreeing / n >= MIN_COLOUR_AGREEMENT ? meanColour : null;
  return { area: n, components: kept.length, centroid, colour };
}
