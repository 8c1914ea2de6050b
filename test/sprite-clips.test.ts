import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  COLOURS, DIRECTIONS, InvalidClipError, SHAPES, SPRITE_PALETTE, blockPrompts, parsePrompt, promptOf,
  randomClipSpec, renderClip, shapeArea, spriteMask, spritePosition, writeClipDataset,
  type ClipDatasetMeta, type ClipSpec,
} from '../src/data/sprite-clips.js';

const W = 32;
const H = 32;
const FRAME_BYTES = W * H * 3;

function frameOf(video: Uint8Array, f: number): Uint8Array {
  return video.subarray(f * FRAME_BYTES, (f + 1) * FRAME_BYTES);
}

function pixel(frame: Uint8Array, x: number, y: number): number[] {
  const at = (y * W + x) * 3;
  return [frame[at] ?? -1, frame[at + 1] ?? -1, frame[at + 2] ?? -1];
}

/** Distinct non-black colours of a frame, as "r,g,b" strings. */
function colours(frame: Uint8Array): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < frame.length; i += 3) {
    const rgb = [frame[i], frame[i + 1], frame[i + 2]];
    if (rgb.some((v) => v !== 0)) out.add(rgb.join(','));
  }
  return out;
}

function litPixels(frame: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < frame.length; i += 3) if (frame[i] || frame[i + 1] || frame[i + 2]) n++;
  return n;
}

describe('vocabulary and prompts', () => {
  it('has the facts of the brief and distinct, non-black palette colours', () => {
    expect(SHAPES).toEqual(['ball', 'square', 'triangle']);
    expect(COLOURS).toEqual(['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white']);
    expect(DIRECTIONS).toEqual(['left', 'right', 'up', 'down']);
    const keys = COLOURS.map((c) => SPRITE_PALETTE[c].join(','));
    expect(new Set(keys).size).toBe(COLOURS.length);
    expect(keys).not.toContain('0,0,0');
  });

  it('writes and parses prompt text', () => {
    expect(promptOf({ colour: 'red', shape: 'ball', direction: 'left' })).toBe('red ball moving left');
    expect(parsePrompt('blue square moving up')).toEqual({ colour: 'blue', shape: 'square', direction: 'up' });
    expect(() => parsePrompt('teal ball moving up')).toThrow(InvalidClipError);
    expect(() => parsePrompt('red ball going up')).toThrow(/moving/);
  });

  it('gives shapes their intended areas', () => {
    expect([shapeArea('ball'), shapeArea('square'), shapeArea('triangle')]).toEqual([81, 100, 55]);
  });
});

describe('renderClip', () => {
  const still: ClipSpec = { shape: 'square', x0: 16, y0: 16, segments: [{ fromFrame: 0, colour: 'green', direction: 'right' }] };

  it('renders frames·H·W·3 bytes whose sprite pixels are exactly the palette colour on black', () => {
    const video = renderClip(still, 4);
    expect(video.length).toBe(4 * FRAME_BYTES);
    for (let f = 0; f < 4; f++) {
      expect([...colours(frameOf(video, f))]).toEqual([SPRITE_PALETTE.green.join(',')]);
      expect(litPixels(frameOf(video, f))).toBe(100);
    }
    // Square spans centre-5..centre+4, moving right 2 px per frame.
    expect(pixel(frameOf(video, 0), 11, 16)).toEqual([...SPRITE_PALETTE.green]);
    expect(pixel(frameOf(video, 0), 10, 16)).toEqual([0, 0, 0]);
    expect(pixel(frameOf(video, 1), 13, 16)).toEqual([...SPRITE_PALETTE.green]);
    expect(pixel(frameOf(video, 1), 12, 16)).toEqual([0, 0, 0]);
  });

  it('draws each shape with its mask area, also when split across the corner', () => {
    for (const shape of SHAPES) {
      const video = renderClip({ shape, x0: 0, y0: 0, segments: [{ fromFrame: 0, colour: 'white', direction: 'up' }] }, 1);
      expect(litPixels(video)).toBe(spriteMask(shape).length);
    }
  });

  it('wraps around the edges: a sprite moving left from x=1 appears at the right edge', () => {
    const spec: ClipSpec = { shape: 'ball', x0: 1, y0: 10, segments: [{ fromFrame: 0, colour: 'red', direction: 'left' }] };
    expect(spritePosition(spec, 1)).toEqual({ x: 31, y: 10 });
    expect(spritePosition(spec, 2)).toEqual({ x: 29, y: 10 });
    const frame1 = frameOf(renderClip(spec, 2), 1);
    // Centre at x=31: the disc covers x = 26..31 and 0..4 on row 10.
    expect(pixel(frame1, 31, 10)).toEqual([...SPRITE_PALETTE.red]);
    expect(pixel(frame1, 26, 10)).toEqual([...SPRITE_PALETTE.red]);
    expect(pixel(frame1, 4, 10)).toEqual([...SPRITE_PALETTE.red]);
    expect(pixel(frame1, 5, 10)).toEqual([0, 0, 0]);
    expect(litPixels(frame1)).toBe(81);
    const up: ClipSpec = { shape: 'ball', x0: 5, y0: 0, segments: [{ fromFrame: 0, colour: 'red', direction: 'up' }] };
    expect(spritePosition(up, 1)).toEqual({ x: 5, y: 30 });
  });

  it('keeps the sprite in place across a prompt switch and changes colour at the switch frame', () => {
    const spec: ClipSpec = {
      shape: 'ball', x0: 10, y0: 10,
      segments: [{ fromFrame: 0, colour: 'red', direction: 'right' }, { fromFrame: 6, colour: 'blue', direction: 'down' }],
    };
    const positions = Array.from({ length: 12 }, (_, f) => spritePosition(spec, f));
    expect(positions[5]).toEqual({ x: 20, y: 10 });
    expect(positions[6]).toEqual({ x: 20, y: 12 });
    expect(positions[11]).toEqual({ x: 20, y: 22 });
    // No step ever exceeds the sprite speed: the sprite never jumps.
    for (let f = 1; f < 12; f++) {
      const [a, b] = [positions[f - 1], positions[f]];
      expect(Math.abs((b?.x ?? 0) - (a?.x ?? 0)) + Math.abs((b?.y ?? 0) - (a?.y ?? 0))).toBe(2);
    }
    const video = renderClip(spec, 12);
    expect([...colours(frameOf(video, 5))]).toEqual([SPRITE_PALETTE.red.join(',')]);
    expect([...colours(frameOf(video, 6))]).toEqual([SPRITE_PALETTE.blue.join(',')]);
    expect(pixel(frameOf(video, 6), 20, 12)).toEqual([...SPRITE_PALETTE.blue]);
    expect(blockPrompts(spec, 12, 3)).toEqual(['red ball moving right', 'red ball moving right', 'blue ball moving down', 'blue ball moving down']);
  });

  it('refuses bad specs with the field named', () => {
    const bad = (spec: ClipSpec): (() => Uint8Array) => () => renderClip(spec, 3);
    expect(bad({ ...still, segments: [] })).toThrow(/spec\.segments/);
    expect(bad({ ...still, segments: [{ fromFrame: 1, colour: 'red', direction: 'up' }] })).toThrow(/segments\[0\]\.fromFrame/);
    expect(bad({ ...still, x0: 1.5 })).toThrow(InvalidClipError);
    expect(() => renderClip(still, 3, { width: 8, height: 32 })).toThrow(/options\.width/);
  });
});

describe('randomClipSpec', () => {
  it('is a pure function of (seed, index): same bytes for the same pair, different for another', () => {
    const a = renderClip(randomClipSpec(1, 5), 12);
    const b = renderClip(randomClipSpec(1, 5), 12);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    // Not call order: drawing other clips in between changes nothing.
    randomClipSpec(1, 6);
    expect(randomClipSpec(1, 5)).toEqual(randomClipSpec(1, 5));
    expect(Buffer.from(renderClip(randomClipSpec(1, 6), 12)).equals(Buffer.from(a))).toBe(false);
    expect(randomClipSpec(2, 5)).not.toEqual(randomClipSpec(1, 5));
  });

  it('covers the vocabulary and switches at block boundaries to a real change, about as often as asked', () => {
    const specs = Array.from({ length: 2000 }, (_, i) => randomClipSpec(3, i));
    expect(new Set(specs.map((s) => s.shape)).size).toBe(SHAPES.length);
    expect(new Set(specs.map((s) => s.segments[0]?.colour)).size).toBe(COLOURS.length);
    expect(new Set(specs.map((s) => s.segments[0]?.direction)).size).toBe(DIRECTIONS.length);
    const switched = specs.filter((s) => s.segments.length === 2);
    expect(switched.length / specs.length).toBeGreaterThan(0.25);
    expect(switched.length / specs.length).toBeLessThan(0.35);
    expect(specs.every((s) => s.segments.length <= 2 && s.x0 >= 0 && s.x0 < W && s.y0 >= 0 && s.y0 < H)).toBe(true);
    for (const spec of switched) {
      const [first, second] = spec.segments;
      expect(second?.fromFrame).toBeOneOf([3, 6, 9]);
      expect(first?.colour !== second?.colour || first?.direction !== second?.direction).toBe(true);
    }
    expect(new Set(switched.map((s) => s.segments[1]?.fromFrame)).size).toBe(3);
  });

  it('honours switchProbability 0 and 1 and refuses a bad one', () => {
    expect(Array.from({ length: 100 }, (_, i) => randomClipSpec(1, i, { switchProbability: 0 })).every((s) => s.segments.length === 1)).toBe(true);
    expect(Array.from({ length: 100 }, (_, i) => randomClipSpec(1, i, { switchProbability: 1 })).every((s) => s.segments.length === 2)).toBe(true);
    expect(() => randomClipSpec(1, 0, { switchProbability: 2 })).toThrow(/switchProbability/);
    expect(() => randomClipSpec(-1, 0)).toThrow(/seed/);
  });
});

describe('writeClipDataset', () => {
  it('writes gzip frames [count, frames, H, W, 3] and per-block prompts that re-render to the same bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clips-'));
    try {
      const out = join(dir, 'sub', 'clips');
      const summary = await writeClipDataset({ out, count: 5, seed: 9, frames: 6, framesPerBlock: 3, switchProbability: 1 });
      const meta = JSON.parse(await readFile(`${out}.json`, 'utf8')) as ClipDatasetMeta;
      const bytes = gunzipSync(await readFile(`${out}.u8.gz`));
      expect(summary.clipsWithSwitch).toBe(5);
      expect([meta.count, meta.frames, meta.framesPerBlock, meta.height, meta.width, meta.seed]).toEqual([5, 6, 3, 32, 32, 9]);
      expect(bytes.length).toBe(5 * 6 * FRAME_BYTES);
      for (let i = 0; i < 5; i++) {
        const spec = randomClipSpec(9, i, { frames: 6, framesPerBlock: 3, switchProbability: 1 });
        const clipBytes = bytes.subarray(i * 6 * FRAME_BYTES, (i + 1) * 6 * FRAME_BYTES);
        expect(Buffer.from(renderClip(spec, 6)).equals(clipBytes)).toBe(true);
        expect(meta.clips[i]).toEqual({ shape: spec.shape, blockPrompts: blockPrompts(spec, 6, 3) });
        expect(meta.clips[i]?.blockPrompts[0]).not.toBe(meta.clips[i]?.blockPrompts[1]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses clips that are not whole blocks', async () => {
    await expect(writeClipDataset({ out: join(tmpdir(), 'never'), count: 1, seed: 1, frames: 7 })).rejects.toThrow(/multiple of framesPerBlock/);
  });
});
