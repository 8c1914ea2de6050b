/**
 * A 256-colour palette for a frame with more colours than a GIF table holds: median cut over a
 * 5-bit-per-channel histogram, then each histogram cell mapped to its nearest palette colour.
 *
 * Why not gifenc's own quantiser: it merges colour bins pairwise, which on a 64 × 64 frame of
 * noise (4,096 distinct colours, what random-weight models make) costs about 40 ms a frame,
 * more than a forward of the model that made it; a GIF of a two-lane run then finishes long
 * after the video. Median cut costs a pass over the pixels and a few thousand cells, with a
 * largest error no worse (measured in docs/performance.md).
 */
import type { PaletteColor } from './gifenc.js';

/** Histogram cells per channel: 5 bits. */
const SIDE = 32;
const SHIFT = 3;

/** A box of histogram cells: the cells at `order[start]` … `order[end - 1]`. */
interface Box {
  readonly start: number;
  readonly end: number;
  /** Pixels in the box. */
  readonly count: number;
  /** Spread of the box (pixels × widest channel range), the one split next is the largest. */
  readonly score: number;
  /** The channel (0 r, 1 g, 2 b) with the widest range. */
  readonly axis: number;
}

/** The frame's occupied cells (numbered in the order the pixels first meet them): pixels, summed channels and mean colour of each. */
interface Cells {
  readonly count: Uint32Array;
  readonly sum: Float64Array;
  readonly mean: Float64Array;
}

function boxOf(cells: Cells, order: Uint32Array, start: number, end: number): Box {
  let count = 0;
  const lo = [255, 255, 255];
  const hi = [0, 0, 0];
  for (let i = start; i < end; i++) {
    const c = order[i] as number;
    count += cells.count[c] as number;
    for (let k = 0; k < 3; k++) {
      const v = cells.mean[3 * c + k] as number;
      if (v < (lo[k] as number)) lo[k] = v;
      if (v > (hi[k] as number)) hi[k] = v;
    }
  }
  const ranges = [0, 1, 2].map((k) => (hi[k] as number) - (lo[k] as number));
  const axis = ranges.indexOf(Math.max(...ranges));
  // A single cell cannot be split further.
  return { start, end, count, axis, score: end - start > 1 ? count * (ranges[axis] as number) : -1 };
}

/**
 * Splits `box` at the pixel-weighted median of its widest channel (cells sorted along it).
 * Returns the two halves, or null when the box holds one cell.
 */
function split(cells: Cells, order: Uint32Array, box: Box): [Box, Box] | null {
  if (box.end - box.start < 2) return null;
  const axis = box.axis;
  // A stable counting sort of the cells by their mean on the axis (256 buckets): a box of
  // thousands of cells sorts in one pass, with ties kept in the cells' order.
  const starts = new Uint32Array(257);
  const slice = order.slice(box.start, box.end);
  for (const c of slice) {
    const bucket = ((cells.mean[3 * c + axis] as number) | 0) + 1;
    starts[bucket] = (starts[bucket] as number) + 1;
  }
  for (let v = 1; v <= 256; v++) starts[v] = (starts[v] as number) + (starts[v - 1] as number);
  for (const c of slice) {
    const v = (cells.mean[3 * c + axis] as number) | 0;
    order[box.start + (starts[v] as number)] = c;
    starts[v] = (starts[v] as number) + 1;
  }
  let seen = 0;
  let at = box.start + 1;
  for (let i = box.start; i < box.end - 1; i++) {
    seen += cells.count[order[i] as number] as number;
    at = i + 1;
    if (seen * 2 >= box.count) break;
  }
  return [boxOf(cells, order, box.start, at), boxOf(cells, order, at, box.end)];
}

/**
 * A palette of at most `maxColors` (1 to 256: indices are bytes) colours for `rgb` (packed RGB,
 * 3 bytes a pixel) and each pixel's index into it. Deterministic: the same pixels give the same
 * bytes.
 *
 * @throws {RangeError} for `maxColors` outside 1..256.
 * @example
 * ```ts
 * const { palette, index } = medianCut(frame.rgb, frame.width * frame.height, 256);
 * encoder.writeFrame(index, frame.width, frame.height, { palette });
 * ```
 */
export function medianCut(rgb: Uint8Array, pixels: number, maxColors: number): { palette: PaletteColor[]; index: Uint8Array } {
  if (!Number.isInteger(maxColors) || maxColors < 1 || maxColors > 256) throw new RangeError(`medianCut: maxColors must be an integer in 1..256, got ${maxColors}`);
  // Occupied cells numbered 0..n-1 in the order the pixels first meet them.
  const local = new Int32Array(SIDE * SIDE * SIDE).fill(-1);
  const cellOf = new Uint32Array(pixels);
  const count: number[] = [];
  const sum: number[] = [];
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    const r = rgb[o] as number;
    const g = rgb[o + 1] as number;
    const b = rgb[o + 2] as number;
    const cell = ((r >> SHIFT) << 10) | ((g >> SHIFT) << 5) | (b >> SHIFT);
    let c = local[cell] as number;
    if (c < 0) {
      c = count.length;
      local[cell] = c;
      count.push(0);
      sum.push(0, 0, 0);
    }
    cellOf[p] = c;
    count[c] = (count[c] as number) + 1;
    sum[3 * c] = (sum[3 * c] as number) + r;
    sum[3 * c + 1] = (sum[3 * c + 1] as number) + g;
    sum[3 * c + 2] = (sum[3 * c + 2] as number) + b;
  }
  const n = count.length;
  const cells: Cells = { count: Uint32Array.from(count), sum: Float64Array.from(sum), mean: new Float64Array(3 * n) };
  for (let c = 0; c < n; c++) for (let k = 0; k < 3; k++) cells.mean[3 * c + k] = (cells.sum[3 * c + k] as number) / (cells.count[c] as number);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const boxes: Box[] = [boxOf(cells, order, 0, n)];
  while (boxes.length < maxColors) {
    let widest = 0;
    for (let i = 1; i < boxes.length; i++) if ((boxes[i] as Box).score > (boxes[widest] as Box).score) widest = i;
    const halves = (boxes[widest] as Box).score < 0 ? null : split(cells, order, boxes[widest] as Box);
    if (halves === null) break;
    boxes.splice(widest, 1, ...halves);
  }
  const palette: PaletteColor[] = boxes.map((box) => {
    const s = [0, 0, 0];
    for (let i = box.start; i < box.end; i++) for (let k = 0; k < 3; k++) s[k] = (s[k] as number) + (cells.sum[3 * (order[i] as number) + k] as number);
    return [0, 1, 2].map((k) => Math.round((s[k] as number) / box.count)) as PaletteColor;
  });
  // Each occupied cell takes the palette colour nearest its mean (a box's own colour is not
  // always the nearest for cells at its edge).
  const nearest = new Uint8Array(n);
  const flat = Float64Array.from(palette.flat());
  for (let c = 0; c < n; c++) {
    const r = cells.mean[3 * c] as number;
    const g = cells.mean[3 * c + 1] as number;
    const b = cells.mean[3 * c + 2] as number;
    let best = 0;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let i = 0, j = 0; i < palette.length; i++, j += 3) {
      const dr = (flat[j] as number) - r;
      const dg = (flat[j + 1] as number) - g;
      const db = (flat[j + 2] as number) - b;
      const d = dr * dr + dg * dg + db * db;
      if (d < bestDistance) {
        bestDistance = d;
        best = i;
      }
    }
    nearest[c] = best;
  }
  const index = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) index[p] = nearest[cellOf[p] as number] as number;
  return { palette, index };
}
