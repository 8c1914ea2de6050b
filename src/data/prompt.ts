/**
 * Prompt text of a sprite clip. The text is what the model is conditioned on, so it has one
 * fixed form; `parsePrompt` inverts it so that evaluation can start from the text alone.
 */
import { InvalidClipError } from './errors.js';
import { isColour, isDirection, isShape, type Colour, type Direction, type Shape } from './vocabulary.js';

/**
 * What one prompt says about the sprite.
 *
 * @example
 * ```ts
 * const facts: PromptFacts = { colour: 'red', shape: 'ball', direction: 'left' };
 * ```
 */
export interface PromptFacts {
  readonly colour: Colour;
  readonly shape: Shape;
  readonly direction: Direction;
}

/**
 * The prompt text for a sprite: `${colour} ${shape} moving ${direction}`.
 *
 * @example
 * ```ts
 * promptOf({ colour: 'red', shape: 'ball', direction: 'left' }); // 'red ball moving left'
 * ```
 */
export function promptOf(facts: PromptFacts): string {
  return `${facts.colour} ${facts.shape} moving ${facts.direction}`;
}

/**
 * The facts of a prompt written by `promptOf`.
 *
 * @throws InvalidClipError when the text is not of that form or names an unknown word
 * @example
 * ```ts
 * parsePrompt('blue square moving up'); // { colour: 'blue', shape: 'square', direction: 'up' }
 * ```
 */
export function parsePrompt(text: string): PromptFacts {
  const words = text.trim().split(/\s+/);
  const [colour, shape, moving, direction] = words;
  if (words.length !== 4 || moving !== 'moving' || colour === undefined || shape === undefined || direction === undefined) {
    throw new InvalidClipError('prompt', `expected "<colour> <shape> moving <direction>", got ${JSON.stringify(text)}`);
  }
  if (!isColour(colour)) throw new InvalidClipError('prompt', `unknown colour ${JSON.stringify(colour)}`);
  if (!isShape(shape)) throw new InvalidClipError('prompt', `unknown shape ${JSON.stringify(shape)}`);
  if (!isDirection(direction)) throw new InvalidClipError('prompt', `unknown direction ${JSON.stringify(direction)}`);
  return { colour, shape, direction };
}
