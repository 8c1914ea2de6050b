/**
 * Quality probe for prompted sprite videos: does a (model-made) video show what its per-block
 * prompts say? It reads only pixels, so it scores ground truth, a model's output and garbage
 * on the same scale: ground truth scores ~1 everywhere, noise near 0.
 */
import { shapeArea } from '../data/sprite-mask.js';
import { DIRECTION_VECTORS, SHAPES, SPRITE_SPEED, type Colour, type Direction, type Shape } from '../data/vocabulary.js';
import { ProbeInputError } from './errors.js';
import { measureFrame, type FrameStats, type ProbeFrame } from './frame-stats.js';
import { wrapDelta, type Displacement } from './torus.js';
import { colourVerdict, directionVerdict, type ColourVerdict, type DirectionVerdict } from './verdicts.js';
import { describeValue } from '../core/describe-value.js';

/**
 * What one block's prompt says. Without `shape` any shape's area is accepted as plausible.
 *
 * @example
 * ```ts
 * const expected: ExpectedPrompt = { colour: 'red', direction: 'left', shape: 'ball' };
 * ```
 */
export interface ExpectedPrompt {
  readonly colour: Colour;
  readonly direction: Direction;
  readonly shape?: Shape;
}

/**
 * How to read the video: its block size and one expected prompt per block.
 *
 * @example
 * ```ts
 * const options: ProbeOptions = { framesPerBlock: 3, prompts: blockPrompts(spec, 12, 3).map(parsePrompt) };
 * ```
 */
export interface ProbeOptions {
  readonly framesPerBlock: number;
  /** One per block: `ceil(frames / framesPerBlock)` entries. */
  readonly prompts: readonly ExpectedPrompt[];
}

/**
 * The probe's reading of one block.
 *
 * @example
 * ```ts
 * const bad = report.blocks.filter((b: BlockReport) => b.colour !== b.expected.colour);
 * ```
 */
export interface BlockReport {
  readonly block: number;
  readonly expected: ExpectedPrompt;
  readonly colour: ColourVerdict;
  readonly direction: DirectionVerdict;
  /** Mean displacement of the pairs the direction verdict used, null when none was measurable. */
  readonly meanDisplacement: Displacement | null;
}

/**
 * The response to one prompt switch: blocks after the switch block until both verdicts match
 * the new prompt (0 = at once), null when they never do before the video or the prompt ends.
 *
 * @example
 * ```ts
 * const late: SwitchReport = { block: 2, response: 1 };
 * ```
 */
export interface SwitchReport {
  readonly block: number;
  readonly response: number | null;
}

/**
 * Scores of one video. Adherence and integrity are fractions in [0, 1]; jumps are in pixels.
 *
 * @example
 * ```ts
 * const report: ProbeReport = probeVideo(frames, options);
 * if (report.boundaryJumpRatio !== null && report.boundaryJumpRatio > 2) console.warn('frame jumps at block boundaries');
 * ```
 */
export interface ProbeReport {
  /** Share of blocks whose colour verdict is the prompt's colour. */
  readonly colourAdherence: number;
  /** Share of blocks whose direction verdict is the prompt's direction. */
  readonly directionAdherence: number;
  /** Share of frames showing one sprite of plausible area. */
  readonly integrity: number;
  /** Mean |displacement − expected velocity| over frame pairs inside a block; null without such pairs. */
  readonly withinBlockJump: number | null;
  /** The same over frame pairs that cross a block boundary; null without such pairs. */
  readonly boundaryJump: number | null;
  /**
   * max(boundaryJump, 0.25) / max(withinBlockJump, 0.25): 1 when boundaries are as smooth as
   * the inside of blocks, >> 1 when blocks jump (the frame-jump artifact at block boundaries).
   */
  readonly boundaryJumpRatio: number | null;
  /** Response of the first prompt switch (see `SwitchReport`); null when there is none or it never took. */
  readonly switchResponse: number | null;
  readonly switches: readonly SwitchReport[];
  readonly blocks: readonly BlockReport[];
  readonly frames: readonly FrameStats[];
}

/**
 * Plausible sprite areas are within these factors of the shape's rendered area: a model blurs
 * edges (larger) or fades the sprite (smaller) and is still drawing one sprite.
 *
 * @example
 * ```ts
 * const [lo, hi] = PLAUSIBLE_AREA_FACTORS; // [0.5, 2]
 * ```
 */
export const PLAUSIBLE_AREA_FACTORS = [0.5, 2] as const;

/**
 * Jumps below this many pixels are all "smooth" for the ratio: ground truth jumps 0 px, which
 * must neither divide by 0 nor turn a 0.01 px wobble at boundaries into a large ratio.
 */
const MIN_JUMP_SCALE = 0.25;

function validate(frames: readonly ProbeFrame[], options: ProbeOptions): void {
  const { framesPerBlock, prompts } = options;
  if (!Number.isSafeInteger(framesPerBlock) || framesPerBlock < 1) {
    throw new ProbeInputError('options.framesPerBlock', `expected an integer >= 1, got ${describeValue(framesPerBlock)}`);
  }
  const first = frames[0];
  if (first === undefined) throw new ProbeInputError('frames', 'no frames to probe');
  frames.forEach((frame, i) => {
    if (!Number.isSafeInteger(frame.width) || !Number.isSafeInteger(frame.height) || frame.width < 1 || frame.height < 1) {
      throw new ProbeInputError(`frames[${i}]`, `bad size ${frame.width}x${frame.height}`);
    }
    if (frame.width !== first.width || frame.height !== first.height) {
      throw new ProbeInputError(`frames[${i}]`, `size ${frame.width}x${frame.height} differs from frames[0] ${first.width}x${first.height}`);
    }
    if (frame.rgb.length !== frame.width * frame.height * 3) {
      throw new ProbeInputError(`frames[${i}].rgb`, `expected ${frame.width * frame.height * 3} bytes (RGB), got ${frame.rgb.length}`);
    }
  });
  const blocks = Math.ceil(frames.length / framesPerBlock);
  if (prompts.length !== blocks) {
    throw new ProbeInputError('options.prompts', `expected one prompt per block (${blocks} for ${frames.length} frames), got ${prompts.length}`);
  }
}

function areaRange(shape: Shape | undefined): readonly [number, number] {
  const areas = shape === undefined ? SHAPES.map(shapeArea) : [shapeArea(shape)];
  return [PLAUSIBLE_AREA_FACTORS[0] * Math.min(...areas), PLAUSIBLE_AREA_FACTORS[1] * Math.max(...areas)];
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

function samePrompt(a: ExpectedPrompt, b: ExpectedPrompt): boolean {
  return a.colour === b.colour && a.direction === b.direction;
}

/**
 * Scores decoded frames against per-block prompts (see `ProbeReport`). Frames without a usable
 * sprite count as failures in every metric; they never throw.
 *
 * @throws ProbeInputError when frames differ in size, bytes do not match the size, or the
 *   prompts are not one per block
 * @example
 * ```ts
 * const spec = randomClipSpec(1, 0);
 * const video = renderClip(spec, 12);
 * const frames = Array.from({ length: 12 }, (_, f) => ({ width: 32, height: 32, rgb: video.subarray(f * 3072, (f + 1) * 3072) }));
 * const report = probeVideo(frames, { framesPerBlock: 3, prompts: blockPrompts(spec, 12, 3).map(parsePrompt) });
 * report.colourAdherence; // 1
 * ```
 */
export function probeVideo(frames: readonly ProbeFrame[], options: ProbeOptions): ProbeReport {
  validate(frames, options);
  const { framesPerBlock, prompts } = options;
  const width = frames[0]?.width ?? 0;
  const height = frames[0]?.height ?? 0;
  const stats = frames.map(measureFrame);
  const promptOfFrame = (f: number): ExpectedPrompt => {
    const prompt = prompts[Math.floor(f / framesPerBlock)];
    if (prompt === undefined) throw new ProbeInputError('options.prompts', `no prompt for frame ${f}`);
    return prompt;
  };

  // Displacement into frame f (from f − 1); null when either frame has no centre.
  const steps: (Displacement | null)[] = stats.map((now, f) => {
    const before = stats[f - 1];
    if (f === 0 || before?.centroid == null || now.centroid === null) return null;
    return { dx: wrapDelta(before.centroid.x, now.centroid.x, width), dy: wrapDelta(before.centroid.y, now.centroid.y, height) };
  });

  // An unmeasurable step is as bad a jump as the torus allows, so missing sprites cannot look smooth.
  const worstJump = Math.hypot(width / 2, height / 2);
  const within: number[] = [];
  const boundary: number[] = [];
  steps.forEach((step, f) => {
    if (f === 0) return;
    const [ux, uy] = DIRECTION_VECTORS[promptOfFrame(f).direction];
    const jump = step === null ? worstJump : Math.hypot(step.dx - ux * SPRITE_SPEED, step.dy - uy * SPRITE_SPEED);
    (f % framesPerBlock === 0 ? boundary : within).push(jump);
  });

  const blocks: BlockReport[] = prompts.map((expected, block) => {
    const start = block * framesPerBlock;
    const end = Math.min(frames.length, start + framesPerBlock);
    const used = steps.slice(Math.max(1, start), end).filter((step): step is Displacement => step !== null);
    const meanDisplacement = used.length === 0
      ? null
      : { dx: mean(used.map((d) => d.dx)) ?? 0, dy: mean(used.map((d) => d.dy)) ?? 0 };
    return {
      block,
      expected,
      colour: colourVerdict(stats.slice(start, end)),
      direction: directionVerdict(used),
      meanDisplacement,
    };
  });

  const integrityOk = stats.filter((frame, f) => {
    const [lo, hi] = areaRange(promptOfFrame(f).shape);
    return frame.components === 1 && frame.area >= lo && frame.area <= hi;
  }).length;

  const matches = (b: BlockReport): boolean => b.colour === b.expected.colour && b.direction === b.expected.direction;
  const switches: SwitchReport[] = [];
  for (let k = 1; k < prompts.length; k++) {
    const now = prompts[k];
    const before = prompts[k - 1];
    if (now === undefined || before === undefined || samePrompt(now, before)) continue;
    let response: number | null = null;
    for (let j = k; j < blocks.length; j++) {
      const block = blocks[j];
      if (block === undefined || !samePrompt(block.expected, now)) break;
      if (matches(block)) {
        response = j - k;
        break;
      }
    }
    switches.push({ block: k, response });
  }

  const withinBlockJump = mean(within);
  const boundaryJump = mean(boundary);
  return {
    colourAdherence: blocks.filter((b) => b.colour === b.expected.colour).length / blocks.length,
    directionAdherence: blocks.filter((b) => b.direction === b.expected.direction).length / blocks.length,
    integrity: integrityOk / frames.length,
    withinBlockJump,
    boundaryJump,
    boundaryJumpRatio: boundaryJump === null ? null : Math.max(boundaryJump, MIN_JUMP_SCALE) / Math.max(withinBlockJump ?? 0, MIN_JUMP_SCALE),
    switchResponse: switches[0]?.response ?? null,
    switches,
    blocks,
    frames: stats,
  };
}
