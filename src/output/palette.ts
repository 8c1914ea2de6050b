/**
 * Turning one RGB frame into a GIF's indexed pixels and colour table.
 *
 * Each frame gets its own palette, so a colour that appears only late in the video is not
 * forced onto an early frame's palette. Frames with at most 256 distinct colours (typical of
 * the small default model) keep their exact colours; others get a median-cut palette.
 */
import type { Frame } from '../core/api-types.js';
import type { PaletteColor } from './gifenc.js';
import { medianCut } from './median-cut.js';

/** The most colours a GIF colour table holds. */
const MAX_COLORS = 256;

/** A frame as palette indices (one byte per pixel) and the palette they index. */
export interface IndexedFrame {
  readonly index: Uint8Array;
  readonly palette: readonly PaletteColor[];
}

/** Exact palette of `rgb` if it has at most 256 colours, else undefined. */
function exactIndex(rgb: Uint8Array, pixels: number): IndexedFrame | undefined {
  const slots = new Map<number, number>();
  const palette: PaletteColor[] = [];
  const index = new Uint8Array(pixels);
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    const r = rgb[o] as number;
    const g = rgb[o + 1] as number;
    const b = rgb[o + 2] as number;
    const key = (r << 16) | (g << 8) | b;
    let slot = slots.get(key);
    if (slot === undefined) {
      if (palette.length === MAX_COLORS) return undefined;
      slot = palette.length;
      slots.set(key, slot);
      palette.push([r, g, b]);
    }
    index[p] = slot;
  }
  return { index, palette };
}

/**
 * Indexes a frame for GIF encoding: exact colours when it has ≤ 256 of them, otherwise a
 * 256-colour quantised palette of its own.
 *
 * @example
 * ```ts
 * const { index, palette } = indexFrame(frame);
 * encoder.writeFrame(index, frame.width, frame.height, { palette });
 * ```
 */
export function indexFrame(frame: Frame): IndexedFrame {
  const pixels = frame.width * frame.height;
  return exactIndex(frame.rgb, pixels) ?? medianCut(frame.rgb, pixels, MAX_COLORS);
}
