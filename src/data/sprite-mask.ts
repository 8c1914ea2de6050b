/**
 * Pixel masks of the sprite shapes, as offsets from the sprite's centre. The renderer draws
 * them and the quality probe takes its expected sprite areas from them, so the two cannot
 * drift apart.
 */
import { SHAPES, type Shape } from './vocabulary.js';

/**
 * A pixel offset `[dx, dy]` from the sprite's centre.
 *
 * @example
 * ```ts
 * const right: PixelOffset = [1, 0];
 * ```
 */
export type PixelOffset = readonly [dx: number, dy: number];

const BALL_RADIUS = 5;
const SQUARE_SIDE = 10;
const TRIANGLE_SIZE = 10;

function ballMask(): PixelOffset[] {
  const out: PixelOffset[] = [];
  for (let dy = -BALL_RADIUS; dy <= BALL_RADIUS; dy++) {
    for (let dx = -BALL_RADIUS; dx <= BALL_RADIUS; dx++) {
      if (dx * dx + dy * dy <= BALL_RADIUS * BALL_RADIUS) out.push([dx, dy]);
    }
  }
  return out;
}

function squareMask(): PixelOffset[] {
  const out: PixelOffset[] = [];
  const lo = -SQUARE_SIDE / 2;
  for (let dy = lo; dy < lo + SQUARE_SIDE; dy++) {
    for (let dx = lo; dx < lo + SQUARE_SIDE; dx++) out.push([dx, dy]);
  }
  return out;
}

/** Row i (from the apex) is i + 1 pixels wide, so the base is TRIANGLE_SIZE wide. */
function triangleMask(): PixelOffset[] {
  const out: PixelOffset[] = [];
  const top = -TRIANGLE_SIZE / 2;
  for (let row = 0; row < TRIANGLE_SIZE; row++) {
    const width = Math.round(((row + 1) * TRIANGLE_SIZE) / TRIANGLE_SIZE);
    const left = -Math.floor(width / 2);
    for (let dx = left; dx < left + width; dx++) out.push([dx, top + row]);
  }
  return out;
}

const MASKS: Readonly<Record<Shape, readonly PixelOffset[]>> = {
  ball: ballMask(),
  square: squareMask(),
  triangle: triangleMask(),
};

/**
 * The pixels of a shape, relative to its centre (ball: disc of radius 5; square: 10×10;
 * triangle: 10 wide and 10 tall, apex up).
 *
 * @example
 * ```ts
 * spriteMask('square').length; // 100
 * ```
 */
export function spriteMask(shape: Shape): readonly PixelOffset[] {
  return MASKS[shape];
}

/**
 * Number of pixels a shape covers (ball 81, square 100, triangle 55).
 *
 * @example
 * ```ts
 * shapeArea('ball'); // 81
 * ```
 */
export function shapeArea(shape: Shape): number {
  return MASKS[shape].length;
}

/**
 * The widest extent of any shape in pixels along either axis: frames narrower than this
 * would make a sprite overlap itself on the torus.
 *
 * @example
 * ```ts
 * SPRITE_EXTENT; // 11 (the ball's diameter)
 * ```
 */
export const SPRITE_EXTENT: number = Math.max(
  ...SHAPES.flatMap((shape) => {
    const xs = MASKS[shape].map(([dx]) => dx);
    const ys = MASKS[shape].map(([, dy]) => dy);
    return [Math.max(...xs) - Math.min(...xs) + 1, Math.max(...ys) - Math.min(...ys) + 1];
  }),
);
