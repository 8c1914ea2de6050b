import { describe, expect, it } from 'vitest';
import {
  blockPrompts, clipUniforms, parsePrompt, randomClipSpec, renderClip, SPRITE_PALETTE,
  type ClipSpec, type Colour, type Direction,
} from '../src/data/sprite-clips.js';
import {
  classifyColour, measureFrame, ProbeInputError, probeVideo, wrapDelta,
  type ExpectedPrompt, type ProbeFrame, type ProbeReport,
} from '../src/quality/index.js';

const W = 32;
const H = 32;
const FRAMES = 12;
const FPB = 3;
const FRAME_BYTES = W * H * 3;

function framesOf(video: Uint8Array): ProbeFrame[] {
  return Array.from({ length: video.length / FRAME_BYTES }, (_, f) => ({ width: W, height: H, rgb: video.slice(f * FRAME_BYTES, (f + 1) * FRAME_BYTES) }));
}

function promptsOf(spec: ClipSpec): ExpectedPrompt[] {
  return blockPrompts(spec, FRAMES, FPB).map(parsePrompt);
}

function probeSpec(spec: ClipSpec, transform: (frames: ProbeFrame[]) => ProbeFrame[] = (f) => f): ProbeReport {
  return probeVideo(transform(framesOf(renderClip(spec, FRAMES))), { framesPerBlock: FPB, prompts: promptsOf(spec) });
}

/** 3×3 box blur on the torus, like a model's soft edges. */
function boxBlur(frame: ProbeFrame): ProbeFrame {
  const out = new Uint8Array(frame.rgb.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) sum += frame.rgb[((((y + dy + H) % H) * W) + ((x + dx + W) % W)) * 3 + c] ?? 0;
        }
        out[(y * W + x) * 3 + c] = Math.round(sum / 9);
      }
    }
  }
  return { ...frame, rgb: out };
}

/** Adds Gaussian noise of standard deviation `sigma` (deterministic per key), clamped to 0..255. */
function addNoise(frame: ProbeFrame, sigma: number, key: number): ProbeFrame {
  const u = clipUniforms(key, 1, frame.rgb.length * 2);
  const out = new Uint8Array(frame.rgb.length);
  for (let i = 0; i < out.length; i++) {
    const gauss = Math.sqrt(-2 * Math.log(1 - (u[2 * i] ?? 0))) * Math.cos(2 * Math.PI * (u[2 * i + 1] ?? 0));
    out[i] = Math.max(0, Math.min(255, Math.round((frame.rgb[i] ?? 0) + sigma * gauss)));
  }
  return { ...frame, rgb: out };
}

function mean(reports: readonly ProbeReport[], metric: (r: ProbeReport) => number | null): number {
  return reports.reduce((sum, r) => sum + (metric(r) ?? Number.NaN), 0) / reports.length;
}

const specs = Array.from({ length: 50 }, (_, i) => randomClipSpec(11, i, { switchProbability: 0.5 }));

describe('probe helpers', () => {
  it('wraps displacements into (-size/2, size/2]', () => {
    expect(wrapDelta(1, 31, 32)).toBe(-2);
    expect(wrapDelta(31, 1, 32)).toBe(2);
    expect(wrapDelta(0, 16, 32)).toBe(16);
    expect(wrapDelta(16, 0, 32)).toBe(16);
  });

  it('names dim and slightly-off palette colours, and nothing for black', () => {
    expect(classifyColour([115, 15, 15])).toBe('red');
    expect(classifyColour([120, 115, 20])).toBe('yellow');
    expect(classifyColour([255, 150, 40])).toBe('orange');
    expect(classifyColour([200, 210, 205])).toBe('white');
    expect(classifyColour([20, 20, 20])).toBeNull();
  });

  it('puts the centre of a sprite split across the corner at the corner', () => {
    const spec: ClipSpec = { shape: 'square', x0: 0, y0: 0, segments: [{ fromFrame: 0, colour: 'blue', direction: 'up' }] };
    const stats = measureFrame(framesOf(renderClip(spec, 1))[0] ?? { width: W, height: H, rgb: new Uint8Array(FRAME_BYTES) });
    expect(stats.area).toBe(100);
    expect(stats.components).toBe(1);
    expect(stats.colour).toBe('blue');
    // The square spans -5..4, so its centre is half a pixel before 0, i.e. at 31.5.
    expect(stats.centroid?.x).toBeCloseTo(31.5, 6);
    expect(stats.centroid?.y).toBeCloseTo(31.5, 6);
  });
});

describe('probeVideo on ground truth', () => {
  const reports = specs.map((spec) => probeSpec(spec));

  it('scores generator clips ~1 on colour, direction and integrity with no boundary jumps', () => {
    expect(specs.filter((s) => s.segments.length > 1).length).toBeGreaterThan(10);
    for (const report of reports) {
      expect(report.colourAdherence).toBeGreaterThanOrEqual(0.95);
      expect(report.directionAdherence).toBeGreaterThanOrEqual(0.95);
      expect(report.integrity).toBeGreaterThanOrEqual(0.95);
      expect(report.boundaryJump).toBeCloseTo(0, 6);
      expect(report.withinBlockJump).toBeCloseTo(0, 6);
      expect(report.boundaryJumpRatio).toBeCloseTo(1, 6);
    }
  });

  it('reports an immediate response (0) to every prompt switch, and null without one', () => {
    specs.forEach((spec, i) => {
      const report = reports[i];
      if (spec.segments.length > 1) {
        expect(report?.switches).toEqual([{ block: (spec.segments[1]?.fromFrame ?? 0) / FPB, response: 0 }]);
        expect(report?.switchResponse).toBe(0);
      } else {
        expect(report?.switches).toEqual([]);
        expect(report?.switchResponse).toBeNull();
      }
    });
  });
});

describe('probeVideo on bad video', () => {
  it('scores random noise frames low on everything, without throwing', () => {
    const reports = specs.slice(0, 10).map((spec, i) =>
      probeVideo(
        Array.from({ length: FRAMES }, (_, f) => ({ width: W, height: H, rgb: Uint8Array.from(clipUniforms(i, f, FRAME_BYTES), (u) => Math.floor(u * 256)) })),
        { framesPerBlock: FPB, prompts: promptsOf(spec) },
      ));
    expect(mean(reports, (r) => r.colourAdherence)).toBeLessThan(0.2);
    expect(mean(reports, (r) => r.directionAdherence)).toBeLessThan(0.2);
    expect(mean(reports, (r) => r.integrity)).toBeLessThan(0.2);
    // Noise averages to grey, the chroma of white: it must still not read as a white sprite.
    const noise = Array.from({ length: FRAMES }, (_, f) => ({ width: W, height: H, rgb: Uint8Array.from(clipUniforms(99, f, FRAME_BYTES), (u) => Math.floor(u * 256)) }));
    const white = probeVideo(noise, { framesPerBlock: FPB, prompts: Array.from({ length: 4 }, () => ({ colour: 'white', direction: 'up' })) });
    expect(white.colourAdherence).toBe(0);
  });

  it('counts black frames as failures', () => {
    const black = Array.from({ length: FRAMES }, () => ({ width: W, height: H, rgb: new Uint8Array(FRAME_BYTES) }));
    const spec = specs[0];
    if (spec === undefined) throw new Error('no spec');
    const report = probeVideo(black, { framesPerBlock: FPB, prompts: promptsOf(spec) });
    expect([report.colourAdherence, report.directionAdherence, report.integrity]).toEqual([0, 0, 0]);
    expect(report.withinBlockJump).toBeGreaterThan(10);
  });

  it('scores shuffled frames low on direction, with large jumps', () => {
    const reports = specs.map((spec, i) => probeSpec(spec, (frames) => {
      const key = clipUniforms(5, i, frames.length);
      return frames.map((frame, f) => ({ frame, key: key[f] ?? 0 })).sort((a, b) => a.key - b.key).map((x) => x.frame);
    }));
    expect(mean(reports, (r) => r.directionAdherence)).toBeLessThan(0.35);
    expect(mean(reports, (r) => r.withinBlockJump)).toBeGreaterThan(3);
    expect(mean(reports, (r) => r.boundaryJump)).toBeGreaterThan(3);
  });

  it('scores 0 on colour for a clip of the wrong colour, and 0 on direction for the wrong direction', () => {
    const wrong = (colour: Colour, direction: Direction): ClipSpec => ({ shape: 'triangle', x0: 7, y0: 20, segments: [{ fromFrame: 0, colour, direction }] });
    const expected = (colour: Colour, direction: Direction): ExpectedPrompt[] => Array.from({ length: 4 }, () => ({ colour, direction, shape: 'triangle' }));
    const probe = (spec: ClipSpec, prompts: ExpectedPrompt[]): ProbeReport => probeVideo(framesOf(renderClip(spec, FRAMES)), { framesPerBlock: FPB, prompts });

    const colourWrong = probe(wrong('orange', 'up'), expected('red', 'up'));
    expect(colourWrong.colourAdherence).toBe(0);
    expect(colourWrong.directionAdherence).toBe(1);
    const reversed = probe(wrong('red', 'left'), expected('red', 'right'));
    expect(reversed.directionAdherence).toBe(0);
    expect(reversed.colourAdherence).toBe(1);
    expect(probe(wrong('red', 'down'), expected('red', 'right')).directionAdherence).toBe(0);
    // The sprite moves against the prompt: every step is off by 4 px, inside blocks and across.
    expect(reversed.withinBlockJump).toBeCloseTo(4, 6);
  });

  it('reports a late switch response when the video only follows the new prompt one block later', () => {
    const video: ClipSpec = {
      shape: 'ball', x0: 3, y0: 3,
      segments: [{ fromFrame: 0, colour: 'green', direction: 'down' }, { fromFrame: 9, colour: 'purple', direction: 'left' }],
    };
    const asked: ExpectedPrompt[] = [
      { colour: 'green', direction: 'down' }, { colour: 'green', direction: 'down' },
      { colour: 'purple', direction: 'left' }, { colour: 'purple', direction: 'left' },
    ];
    const report = probeVideo(framesOf(renderClip(video, FRAMES)), { framesPerBlock: FPB, prompts: asked });
    expect(report.switches).toEqual([{ block: 2, response: 1 }]);
    const never = probeVideo(framesOf(renderClip({ ...video, segments: video.segments.slice(0, 1) }, FRAMES)), { framesPerBlock: FPB, prompts: asked });
    expect(never.switchResponse).toBeNull();
  });

  it('flags a frame jump at block boundaries with a high boundaryJumpRatio', () => {
    const spec: ClipSpec = { shape: 'square', x0: 16, y0: 16, segments: [{ fromFrame: 0, colour: 'white', direction: 'right' }] };
    // Each block restarts 6 px further on than it should: the paper's boundary artifact.
    const jumpy = [0, 1, 2, 3].map((b) => framesOf(renderClip({ ...spec, x0: 16 + 6 * b }, FRAMES)).slice(b * FPB, (b + 1) * FPB)).flat();
    const report = probeVideo(jumpy, { framesPerBlock: FPB, prompts: promptsOf(spec) });
    expect(report.withinBlockJump).toBeCloseTo(0, 6);
    expect(report.boundaryJump).toBeCloseTo(6, 6);
    expect(report.boundaryJumpRatio).toBeGreaterThan(10);
  });
});

describe('probeVideo robustness', () => {
  it('still scores >= 0.9 on blurred frames with mild noise', () => {
    const reports = specs.map((spec, i) => probeSpec(spec, (frames) => frames.map((frame, f) => addNoise(boxBlur(frame), 10, i * 100 + f))));
    for (const metric of [(r: ProbeReport) => r.colourAdherence, (r: ProbeReport) => r.directionAdherence, (r: ProbeReport) => r.integrity]) {
      expect(mean(reports, metric)).toBeGreaterThanOrEqual(0.9);
    }
    expect(mean(reports, (r) => r.boundaryJumpRatio)).toBeLessThan(1.5);
    expect(reports.filter((r) => r.switches.length > 0).every((r) => r.switchResponse === 0)).toBe(true);
  });

  it('accepts the palette colours dimmed by half as the same colours', () => {
    const spec = specs[1];
    if (spec === undefined) throw new Error('no spec');
    const report = probeSpec(spec, (frames) => frames.map((frame) => ({ ...frame, rgb: frame.rgb.map((v) => Math.round(v * 0.5)) })));
    expect(report.colourAdherence).toBe(1);
    expect(SPRITE_PALETTE.red[0] * 0.5).toBeGreaterThan(60);
  });
});

describe('probeVideo input checks', () => {
  const spec = randomClipSpec(1, 0);
  const frames = framesOf(renderClip(spec, FRAMES));
  it('refuses frames of the wrong byte length, mixed sizes and a wrong number of prompts', () => {
    const options = { framesPerBlock: FPB, prompts: promptsOf(spec) };
    expect(() => probeVideo([], options)).toThrow(ProbeInputError);
    expect(() => probeVideo([...frames.slice(0, 11), { width: W, height: H, rgb: new Uint8Array(5) }], options)).toThrow(/frames\[11\]\.rgb/);
    expect(() => probeVideo([...frames.slice(0, 11), { width: 16, height: 16, rgb: new Uint8Array(16 * 16 * 3) }], options)).toThrow(/differs/);
    expect(() => probeVideo(frames, { framesPerBlock: FPB, prompts: options.prompts.slice(1) })).toThrow(/one prompt per block/);
  });
});
