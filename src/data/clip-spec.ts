/**
 * A sprite clip as data: where the sprite starts and which prompt holds from which frame on.
 * Motion is derived from the spec, never stored, so a spec is small enough to keep next to
 * every training clip and to re-render exactly.
 */
import { InvalidClipError } from './errors.js';
import { SPRITE_EXTENT } from './sprite-mask.js';
import { promptOf } from './prompt.js';
import {
  DIRECTION_VECTORS, SPRITE_SPEED, isColour, isDirection, isShape,
  type Colour, type Direction, type Shape,
} from './vocabulary.js';

/**
 * From `fromFrame` on (until the next segment) the sprite has this colour and moves this way.
 *
 * @example
 * ```ts
 * const segment: ClipSegment = { fromFrame: 6, colour: 'blue', direction: 'up' };
 * ```
 */
export interface ClipSegment {
  readonly fromFrame: number;
  readonly colour: Colour;
  readonly direction: Direction;
}

/**
 * A whole clip: one sprite, its centre at frame 0, and its prompt segments (sorted by
 * `fromFrame`, the first starting at frame 0). A new segment is a prompt switch.
 *
 * @example
 * ```ts
 * const spec: ClipSpec = {
 *   shape: 'ball', x0: 16, y0: 16,
 *   segments: [{ fromFrame: 0, colour: 'red', direction: 'left' }, { fromFrame: 6, colour: 'red', direction: 'up' }],
 * };
 * ```
 */
export interface ClipSpec {
  readonly shape: Shape;
  readonly x0: number;
  readonly y0: number;
  readonly segments: readonly ClipSegment[];
}

/**
 * Size of the frames, in pixels (default 32×32).
 *
 * @example
 * ```ts
 * const size: FrameSize = { width: 32, height: 32 };
 * ```
 */
export interface FrameSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The default frame size.
 *
 * @example
 * ```ts
 * renderClip(spec, 12, DEFAULT_FRAME_SIZE);
 * ```
 */
export const DEFAULT_FRAME_SIZE: FrameSize = { width: 32, height: 32 };

/**
 * A sprite's centre in pixel coordinates (x right, y down), wrapped into the frame.
 *
 * @example
 * ```ts
 * const centre: SpritePoint = { x: 3, y: 30 };
 * ```
 */
export interface SpritePoint {
  readonly x: number;
  readonly y: number;
}

function requireInteger(where: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidClipError(where, `expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
}

/**
 * Checks a frame size; frames must hold a whole sprite (at least 11×11).
 *
 * @throws InvalidClipError naming the bad dimension
 * @example
 * ```ts
 * validateFrameSize({ width: 32, height: 32 }); // ok
 * ```
 */
export function validateFrameSize(size: FrameSize): void {
  requireInteger('options.width', size.width, SPRITE_EXTENT);
  requireInteger('options.height', size.height, SPRITE_EXTENT);
}

/**
 * Checks a spec: known words, integer start, segments sorted and starting at frame 0.
 *
 * @throws InvalidClipError naming the first bad field
 * @example
 * ```ts
 * validateClipSpec({ shape: 'ball', x0: 1, y0: 2, segments: [{ fromFrame: 0, colour: 'red', direction: 'up' }] });
 * ```
 */
export function validateClipSpec(spec: ClipSpec): void {
  if (!isShape(spec.shape)) throw new InvalidClipError('spec.shape', `unknown shape ${JSON.stringify(spec.shape)}`);
  requireInteger('spec.x0', spec.x0, 0);
  requireInteger('spec.y0', spec.y0, 0);
  if (spec.segments.length === 0) throw new InvalidClipError('spec.segments', 'needs at least one segment');
  spec.segments.forEach((segment, i) => {
    const where = `spec.segments[${i}]`;
    requireInteger(`${where}.fromFrame`, segment.fromFrame, 0);
    if (i === 0 && segment.fromFrame !== 0) {
      throw new InvalidClipError(`${where}.fromFrame`, `the first segment must start at frame 0, got ${segment.fromFrame}`);
    }
    const previous = spec.segments[i - 1];
    if (previous !== undefined && segment.fromFrame <= previous.fromFrame) {
      throw new InvalidClipError(`${where}.fromFrame`, `segments must be sorted by fromFrame, ${segment.fromFrame} <= ${previous.fromFrame}`);
    }
    if (!isColour(segment.colour)) throw new InvalidClipError(`${where}.colour`, `unknown colour ${JSON.stringify(segment.colour)}`);
    if (!isDirection(segment.direction)) {
      throw new InvalidClipError(`${where}.direction`, `unknown direction ${JSON.stringify(segment.direction)}`);
    }
  });
}

/**
 * The segment in force at a frame.
 *
 * @example
 * ```ts
 * segmentAt(spec, 7).direction; // 'up' for the ClipSpec example
 * ```
 */
export function segmentAt(spec: ClipSpec, frame: number): ClipSegment {
  let current = spec.segments[0];
  if (current === undefined) throw new InvalidClipError('spec.segments', 'needs at least one segment');
  for (const segment of spec.segments) {
    if (segment.fromFrame > frame) break;
    current = segment;
  }
  return current;
}

function wrap(value: number, size: number): number {
  return ((value % size) + size) % size;
}

/**
 * The sprite's true centre at a frame, wrapped onto the frame (a torus). The step *into* frame
 * f uses the segment in force at f, so at a switch the new direction shows from the switch
 * frame on and the sprite never jumps: it moves on from where it was.
 *
 * @example
 * ```ts
 * spritePosition({ shape: 'ball', x0: 1, y0: 5, segments: [{ fromFrame: 0, colour: 'red', direction: 'left' }] }, 1);
 * // { x: 31, y: 5 } in a 32-wide frame
 * ```
 */
export function spritePosition(spec: ClipSpec, frame: number, size: FrameSize = DEFAULT_FRAME_SIZE): SpritePoint {
  requireInteger('frame', frame, 0);
  let x = spec.x0;
  let y = spec.y0;
  spec.segments.forEach((segment, i) => {
    const next = spec.segments[i + 1];
    // Steps into frames fromFrame..end of segment, except the step into frame 0 (there is none).
    const first = Math.max(segment.fromFrame, 1);
    const last = Math.min(next === undefined ? frame : next.fromFrame - 1, frame);
    const steps = Math.max(0, last - first + 1);
    const [dx, dy] = DIRECTION_VECTORS[segment.direction];
    x += dx * SPRITE_SPEED * steps;
    y += dy * SPRITE_SPEED * steps;
  });
  return { x: wrap(x, size.width), y: wrap(y, size.height) };
}

/**
 * The prompt text of each block: the segment in force at the block's first frame (the runtime
 * conditions whole blocks on one prompt).
 *
 * @example
 * ```ts
 * blockPrompts(spec, 12, 3); // ['red ball moving left', 'red ball moving left', 'red ball moving up', 'red ball moving up']
 * ```
 */
export function blockPrompts(spec: ClipSpec, frames: number, framesPerBlock: number): string[] {
  requireInteger('frames', frames, 1);
  requireInteger('framesPerBlock', framesPerBlock, 1);
  const out: string[] = [];
  for (let start = 0; start < frames; start += framesPerBlock) {
    const segment = segmentAt(spec, start);
    out.push(promptOf({ colour: segment.colour, shape: spec.shape, direction: segment.direction }));
  }
  return out;
}
