/**
 * Naming the colour of a pixel or a sprite. Colours are compared after dividing by their
 * brightest channel: a model's blurred, darker edge of a red ball is still red, and a plain
 * RGB distance would call dim yellow "orange".
 */
import { COLOURS, SPRITE_PALETTE, type Colour, type Rgb } from '../data/vocabulary.js';

/**
 * Max-channel value above which a pixel is foreground (sprite), not the black background.
 * 60 of 255: clearly above a model's dark noise floor, yet below the dimmest blurred sprite
 * edge that still covers about a quarter of a pixel (palette colours peak at >= 220).
 *
 * @example
 * ```ts
 * const isForeground = Math.max(r, g, b) > FOREGROUND_THRESHOLD;
 * ```
 */
export const FOREGROUND_THRESHOLD = 60;

function chroma(rgb: Rgb): Rgb {
  const peak = Math.max(rgb[0], rgb[1], rgb[2]);
  return [rgb[0] / peak, rgb[1] / peak, rgb[2] / peak];
}

const PALETTE_CHROMA: readonly (readonly [Colour, Rgb])[] = COLOURS.map((colour) => [colour, chroma(SPRITE_PALETTE[colour])]);

/**
 * The palette colour nearest to an RGB colour, compared brightness-free (see the module
 * comment); null for a colour too dark to be foreground.
 *
 * @example
 * ```ts
 * classifyColour([115, 15, 15]); // 'red' (a dim red)
 * classifyColour([10, 10, 10]); // null
 * ```
 */
export function classifyColour(rgb: Rgb): Colour | null {
  if (Math.max(rgb[0], rgb[1], rgb[2]) <= FOREGROUND_THRESHOLD) return null;
  const [r, g, b] = chroma(rgb);
  let best: Colour | null = null;
  let bestDistance = Infinity;
  for (const [colour, [pr, pg, pb]] of PALETTE_CHROMA) {
    const distance = (r - pr) ** 2 + (g - pg) ** 2 + (b - pb) ** 2;
    if (distance < bestDistance) {
      best = colour;
      bestDistance = distance;
    }
  }
  return best;
}
