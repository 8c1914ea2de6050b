/**
 * The facts a sprite prompt can state: a shape, a colour and a direction of motion. Training
 * data, prompts and the quality probe all read them from here, so that a colour the model is
 * trained on is the colour the probe looks for.
 */

/**
 * Shapes a sprite can have.
 *
 * @example
 * ```ts
 * for (const shape of SHAPES) console.log(shape); // ball, square, triangle
 * ```
 */
export const SHAPES = ['ball', 'square', 'triangle'] as const;

/**
 * A sprite's shape.
 *
 * @example
 * ```ts
 * const shape: Shape = 'ball';
 * ```
 */
export type Shape = (typeof SHAPES)[number];

/**
 * Colours a sprite can have.
 *
 * @example
 * ```ts
 * COLOURS.includes('red'); // true
 * ```
 */
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white'] as const;

/**
 * A sprite's colour.
 *
 * @example
 * ```ts
 * const colour: Colour = 'orange';
 * ```
 */
export type Colour = (typeof COLOURS)[number];

/**
 * Directions a sprite can move in (screen directions: `up` is decreasing y).
 *
 * @example
 * ```ts
 * DIRECTIONS.indexOf('up'); // 2
 * ```
 */
export const DIRECTIONS = ['left', 'right', 'up', 'down'] as const;

/**
 * A sprite's direction of motion.
 *
 * @example
 * ```ts
 * const direction: Direction = 'left';
 * ```
 */
export type Direction = (typeof DIRECTIONS)[number];

/**
 * An RGB triple, each channel 0..255.
 *
 * @example
 * ```ts
 * const black: Rgb = [0, 0, 0];
 * ```
 */
export type Rgb = readonly [r: number, g: number, b: number];

/**
 * The RGB of each colour. Chosen so that every colour keeps a bright channel (>= 220: a blurred
 * edge stays above the probe's foreground threshold) and so that colours stay apart after
 * dividing by their brightest channel, which is how the probe compares colours (a dim,
 * blurred red must still read as red, not as orange).
 *
 * @example
 * ```ts
 * const [r, g, b] = SPRITE_PALETTE.red; // [230, 30, 30]
 * ```
 */
export const SPRITE_PALETTE: Readonly<Record<Colour, Rgb>> = {
  red: [230, 30, 30],
  green: [40, 220, 60],
  blue: [50, 90, 240],
  yellow: [240, 230, 30],
  purple: [170, 50, 230],
  orange: [250, 130, 20],
  white: [240, 240, 240],
};

/**
 * The background colour of every frame.
 *
 * @example
 * ```ts
 * BACKGROUND; // [0, 0, 0]
 * ```
 */
export const BACKGROUND: Rgb = [0, 0, 0];

/**
 * Pixels a sprite moves per frame.
 *
 * @example
 * ```ts
 * const dx = SPRITE_SPEED * DIRECTION_VECTORS.left[0]; // -2
 * ```
 */
export const SPRITE_SPEED = 2;

/**
 * Unit step of each direction in pixel coordinates (x right, y down).
 *
 * @example
 * ```ts
 * DIRECTION_VECTORS.up; // [0, -1]
 * ```
 */
export const DIRECTION_VECTORS: Readonly<Record<Direction, readonly [dx: number, dy: number]>> = {
  left: [-1, 0],
  right: [1, 0],
  up: [0, -1],
  down: [0, 1],
};

/**
 * True when `value` is one of the shapes.
 *
 * @example
 * ```ts
 * isShape('ball'); // true
 * ```
 */
export function isShape(value: string): value is Shape {
  return (SHAPES as readonly string[]).includes(value);
}

/**
 * True when `value` is one of the colours.
 *
 * @example
 * ```ts
 * isColour('teal'); // false
 * ```
 */
export function isColour(value: string): value is Colour {
  return (COLOURS as readonly string[]).includes(value);
}

/**
 * True when `value` is one of the directions.
 *
 * @example
 * ```ts
 * isDirection('up'); // true
 * ```
 */
export function isDirection(value: string): value is Direction {
  return (DIRECTIONS as readonly string[]).includes(value);
}
