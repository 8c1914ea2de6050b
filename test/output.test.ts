import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Frame } from '../src/core/api-types.js';
import { asBlockIndex } from '../src/core/domain.js';
import { OutputError } from '../src/output/errors.js';
import { GifWriter, encodeGif, writeGif } from '../src/output/gif.js';
import { medianCut } from '../src/output/median-cut.js';
import { writePngFrames } from '../src/output/png.js';
import { decodeGif } from './support/gif-decode.js';

/** A frame whose every pixel depends on (frame, x, y) through `color`. */
function frame(index: number, width: number, height: number, color: (x: number, y: number) => [number, number, number]): Frame {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set(color(x, y), (y * width + x) * 3);
  return { block: asBlockIndex(Math.floor(index / 3)), index, width, height, rgb };
}

/** Few colours, different on each frame (tests the exact-palette path and local tables). */
const sprite = (i: number) =>
  frame(i, 12, 8, (x, y) => (x === i && y === 2 ? [255, 0, 0] : [10 * i, 20 + (y % 2) * 40, 200 - 30 * i]));
/** Thousands of colours (forces quantisation). */
const gradient = (i: number) => frame(i, 64, 48, (x, y) => [x * 4, y * 5, (x * y + i * 7) & 255]);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'block-cascade-output-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('GIF output', () => {
  it('writes one image per frame at the frames size and delay, with exact colours when ≤ 256', async () => {
    const frames = [0, 1, 2, 3, 4].map(sprite);
    const path = join(dir, 'sub', 'a.gif');
    await writeGif(path, frames, { fps: 10 });
    const gif = decodeGif(new Uint8Array(await readFile(path)));
    expect([gif.width, gif.height]).toEqual([12, 8]);
    expect(gif.frames).toHaveLength(5);
    gif.frames.forEach((f, i) => {
      expect([f.width, f.height, f.delayCs]).toEqual([12, 8, 10]);
      // Each frame keeps its own colours, not the first frame's palette.
      expect(Buffer.from(f.rgb).equals(Buffer.from(frames[i]!.rgb))).toBe(true);
    });
  });

  it('quantises frames with many colours to close colours', () => {
    const frames = [0, 1].map(gradient);
    const gif = decodeGif(encodeGif(frames, { fps: 25 }));
    expect(gif.frames).toHaveLength(2);
    gif.frames.forEach((f, i) => {
      const src = frames[i]!.rgb;
      let err = 0;
      for (let k = 0; k < src.length; k++) err += Math.abs(f.rgb[k]! - src[k]!);
      expect(err / src.length).toBeLessThan(12);
    });
  });

  it('streams frames through GifWriter', async () => {
    const path = join(dir, 'stream.gif');
    const gif = new GifWriter(path, { fps: 16 });
    for (let i = 0; i < 6; i++) await gif.add(sprite(i));
    expect(gif.frames).toBe(6);
    // Encoded on its own thread; a frame of another size is refused on the caller's, named.
    await expect(gif.add(gradient(6))).rejects.toThrow(/frame 6 is 64×48 but the first frame is 12×8/);
    await gif.finish();
    const decoded = decodeGif(new Uint8Array(await readFile(path)));
    expect(decoded.frames).toHaveLength(6);
    expect(decoded.frames[0]!.delayCs).toBe(6);
  });

  it('GifWriter keeps the frames in order when they arrive faster than its thread encodes them', async () => {
    const path = join(dir, 'order.gif');
    const gif = new GifWriter(path, { fps: 16 });
    // 300 frames told apart by their colour; `add` lets up to 8 wait, so the queue is never empty.
    const count = 300;
    for (let i = 0; i < count; i++) await gif.add(frame(i, 4, 4, () => [i >> 8, i & 255, 0]));
    await gif.finish();
    const decoded = decodeGif(new Uint8Array(await readFile(path)));
    expect(decoded.frames.map((f) => f.rgb[0]! * 256 + f.rgb[1]!)).toEqual([...Array(count).keys()]);
  });

  it('rejects mixed sizes, short buffers, bad fps and empty GIFs with messages naming the frame', () => {
    expect(() => encodeGif([sprite(0), gradient(1)], { fps: 8 })).toThrow(/frame 1 is 64×48 but the first frame is 12×8/);
    const short = { ...sprite(3), rgb: new Uint8Array(5) };
    expect(() => encodeGif([short], { fps: 8 })).toThrow(/frame 3: expected 12·8·3 = 288 RGB bytes, got 5/);
    expect(() => encodeGif([sprite(0)], { fps: 0 })).toThrow(OutputError);
    expect(() => encodeGif([], { fps: 8 })).toThrow(/at least one frame/);
  });
});

describe('median-cut palette', () => {
  /** Uniform noise from a fixed linear congruential sequence: 4,096 pixels, nearly as many colours. */
  const noise = (pixels: number) => {
    const rgb = new Uint8Array(pixels * 3);
    let x = 12345;
    for (let i = 0; i < rgb.length; i++) rgb[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    return rgb;
  };
  const largestError = (rgb: Uint8Array, palette: readonly number[][], index: Uint8Array) => {
    let max = 0;
    for (let p = 0; p < index.length; p++) for (let k = 0; k < 3; k++) max = Math.max(max, Math.abs(palette[index[p]!]![k]! - rgb[3 * p + k]!));
    return max;
  };

  it('gives at most the colours asked for, every pixel within a bounded error, the same bytes every time', () => {
    const rgb = noise(64 * 64);
    const a = medianCut(rgb, 64 * 64, 256);
    expect(a.palette.length).toBe(256);
    expect(Math.max(...a.index)).toBeLessThan(256);
    // 256 boxes over a cube of side 256: a box's side is about 40, its colour near the middle.
    expect(largestError(rgb, a.palette, a.index)).toBeLessThanOrEqual(48);
    const b = medianCut(rgb, 64 * 64, 256);
    expect(Buffer.from(b.index).equals(Buffer.from(a.index))).toBe(true);
    expect(b.palette).toEqual(a.palette);
    const few = medianCut(rgb, 64 * 64, 16);
    expect(few.palette.length).toBe(16);
    expect(largestError(rgb, few.palette, few.index)).toBeGreaterThan(largestError(rgb, a.palette, a.index));
  });

  it('keeps a single colour exact and stops splitting when every box is one cell', () => {
    const rgb = new Uint8Array(30).fill(77);
    const one = medianCut(rgb, 10, 256);
    expect(one.palette).toEqual([[77, 77, 77]]);
    expect([...one.index]).toEqual(new Array(10).fill(0));
    const two = medianCut(Uint8Array.from([0, 0, 0, 255, 255, 255, 0, 0, 0]), 3, 256);
    expect(two.palette).toHaveLength(2);
    expect(two.index[0]).toBe(two.index[2]);
    expect(two.palette[two.index[1]!]).toEqual([255, 255, 255]);
    expect(() => medianCut(rgb, 10, 257)).toThrow(RangeError);
  });
});

describe('PNG output', () => {
  it('writes frame-NNNNN.png files that read back to the exact pixels', async () => {
    const frames = [0, 1, 2].map(gradient);
    const out = join(dir, 'frames');
    const paths = await writePngFrames(out, frames);
    expect((await readdir(out)).sort()).toEqual(['frame-00000.png', 'frame-00001.png', 'frame-00002.png']);
    for (const [i, path] of paths.entries()) {
      const png = PNG.sync.read(await readFile(path));
      expect([png.width, png.height]).toEqual([64, 48]);
      // pngjs decodes to RGBA: compare the RGB channels and check alpha is opaque.
      const src = frames[i]!.rgb;
      for (let p = 0; p < 64 * 48; p++) {
        expect([png.data[p * 4], png.data[p * 4 + 1], png.data[p * 4 + 2], png.data[p * 4 + 3]]).toEqual([
          src[p * 3],
          src[p * 3 + 1],
          src[p * 3 + 2],
          255,
        ]);
      }
    }
  });
});
