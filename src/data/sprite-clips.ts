/**
 * Synthetic prompted sprite videos: the one generator that training data and evaluation both
 * use. A clip is a single sprite (ball, square or triangle) of one palette colour moving at a
 * constant 2 px/frame on a black, wrap-around 32×32 frame; a prompt switch mid-clip changes
 * its colour and/or direction while it keeps its place.
 *
 * @example
 * ```ts
 * import { randomClipSpec, renderClip, blockPrompts } from './data/sprite-clips.js';
 * const spec = randomClipSpec(1, 0);
 * const video = renderClip(spec, 12); // 12·32·32·3 bytes
 * blockPrompts(spec, 12, 3); // ['red ball moving left', ...]
 * ```
 */
export {
  BACKGROUND, COLOURS, DIRECTIONS, DIRECTION_VECTORS, SHAPES, SPRITE_PALETTE, SPRITE_SPEED,
  isColour, isDirection, isShape,
  type Colour, type Direction, type Rgb, type Shape,
} from './vocabulary.js';
export { InvalidClipError } from './errors.js';
export { parsePrompt, promptOf, type PromptFacts } from './prompt.js';
export { SPRITE_EXTENT, shapeArea, spriteMask, type PixelOffset } from './sprite-mask.js';
export {
  DEFAULT_FRAME_SIZE, blockPrompts, segmentAt, spritePosition, validateClipSpec, validateFrameSize,
  type ClipSegment, type ClipSpec, type FrameSize, type SpritePoint,
} from './clip-spec.js';
export { renderClip, renderFrameInto } from './render.js';
export { clipUniforms } from './clip-random.js';
export { DEFAULT_CLIP_OPTIONS, randomClipSpec, resolveClipOptions, type RandomClipOptions } from './random-spec.js';
export { writeClipDataset, type ClipDatasetMeta, type ClipDatasetRequest, type ClipDatasetSummary } from './clip-dataset.js';
