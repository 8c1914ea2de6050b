/**
 * Random clip specs for training and evaluation data: one shape, colour, direction and start
 * position, and sometimes one prompt switch at a block boundary.
 */
import { clipUniforms, pick } from './clip-random.js';
import { DEFAULT_FRAME_SIZE, validateFrameSize, type ClipSegment, type ClipSpec } from './clip-spec.js';
import { InvalidClipError } from './errors.js';
import { COLOURS, DIRECTIONS, SHAPES } from './vocabulary.js';

/**
 * Options of `randomClipSpec`; every field has a default.
 *
 * @example
 * ```ts
 * const options: RandomClipOptions = { frames: 12, framesPerBlock: 3, switchProbability: 0.3 };
 * ```
 */
export interface RandomClipOptions {
  /** Frame width in pixels (default 32). */
  readonly width?: number;
  /** Frame height in pixels (default 32). */
  readonly height?: number;
  /** Clip length in frames (default 12). */
  readonly frames?: number;
  /** Frames per block; switches happen only at block boundaries (default 3). */
  readonly framesPerBlock?: number;
  /** Probability that a clip has one prompt switch (default 0.3). */
  readonly switchProbability?: number;
}

/**
 * The defaults of `RandomClipOptions`.
 *
 * @example
 * ```ts
 * DEFAULT_CLIP_OPTIONS.frames; // 12
 * ```
 */
export const DEFAULT_CLIP_OPTIONS: Required<RandomClipOptions> = {
  width: DEFAULT_FRAME_SIZE.width,
  height: DEFAULT_FRAME_SIZE.height,
  frames: 12,
  framesPerBlock: 3,
  switchProbability: 0.3,
};

/**
 * Fills in defaults and checks the options.
 *
 * @throws InvalidClipError naming the bad option
 * @example
 * ```ts
 * resolveClipOptions({ frames: 6 }).framesPerBlock; // 3
 * ```
 */
export function resolveClipOptions(options: RandomClipOptions = {}): Required<RandomClipOptions> {
  const resolved = { ...DEFAULT_CLIP_OPTIONS, ...stripUndefined(options) };
  validateFrameSize(resolved);
  for (const key of ['frames', 'framesPerBlock'] as const) {
    if (!Number.isSafeInteger(resolved[key]) || resolved[key] < 1) {
      throw new InvalidClipError(`options.${key}`, `expected an integer >= 1, got ${JSON.stringify(resolved[key])}`);
    }
  }
  const p = resolved.switchProbability;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new InvalidClipError('options.switchProbability', `expected a number in [0, 1], got ${JSON.stringify(p)}`);
  }
  return resolved;
}

function stripUndefined(options: RandomClipOptions): RandomClipOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

function pickOther<T>(items: readonly T[], not: T, uniform: number): T {
  return pick(items.filter((item) => item !== not), uniform);
}

/** Slots of the counter-based draws. Append new ones at the end: a draw keeps its slot, so existing datasets do not change. */
const SLOTS = ['shape', 'colour', 'direction', 'x0', 'y0', 'hasSwitch', 'switchBlock', 'switchKind', 'newColour', 'newDirection'] as const;
type Slot = (typeof SLOTS)[number];

/**
 * Clip `index` of the dataset `seed`: a pure function of (seed, index, options). With
 * probability `switchProbability` (and when the clip has more than one block) the prompt
 * switches once, at a block boundary other than frame 0, to a different colour, a different
 * direction, or both; the sprite keeps its place.
 *
 * @throws InvalidClipError for a bad seed, index or option
 * @example
 * ```ts
 * const spec = randomClipSpec(1, 0);
 * const video = renderClip(spec, 12);
 * ```
 */
export function randomClipSpec(seed: number, index: number, options: RandomClipOptions = {}): ClipSpec {
  const { width, height, frames, framesPerBlock, switchProbability } = resolveClipOptions(options);
  const u = clipUniforms(seed, index, SLOTS.length);
  const at = (slot: Slot): number => u[SLOTS.indexOf(slot)] ?? 0;
  const colour = pick(COLOURS, at('colour'));
  const direction = pick(DIRECTIONS, at('direction'));
  const segments: ClipSegment[] = [{ fromFrame: 0, colour, direction }];
  const blocks = Math.ceil(frames / framesPerBlock);
  if (blocks > 1 && at('hasSwitch') < switchProbability) {
    const block = 1 + Math.floor(at('switchBlock') * (blocks - 1));
    const kind = pick(['colour', 'direction', 'both'] as const, at('switchKind'));
    segments.push({
      fromFrame: block * framesPerBlock,
      colour: kind === 'direction' ? colour : pickOther(COLOURS, colour, at('newColour')),
      direction: kind === 'colour' ? direction : pickOther(DIRECTIONS, direction, at('newDirection')),
    });
  }
  return {
    shape: pick(SHAPES, at('shape')),
    x0: Math.floor(at('x0') * width),
    y0: Math.floor(at('y0') * height),
    segments,
  };
}
