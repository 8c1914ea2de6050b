/**
 * Per-block verdicts: which colour and which direction of motion a block of frames shows.
 * A verdict may be 'none' — the block shows no clear colour or no clear motion — which never
 * matches a prompt.
 */
import { COLOURS, type Colour, type Direction } from '../data/vocabulary.js';
import type { FrameStats } from './frame-stats.js';
import type { Displacement } from './torus.js';

/**
 * The colour a block shows, or 'none'.
 *
 * @example
 * ```ts
 * const verdict: ColourVerdict = 'none';
 * ```
 */
export type ColourVerdict = Colour | 'none';

/**
 * The direction a block moves in, or 'none'.
 *
 * @example
 * ```ts
 * const verdict: DirectionVerdict = 'left';
 * ```
 */
export type DirectionVerdict = Direction | 'none';

/**
 * Mean speeds below this (px/frame, along the dominant axis) are standing still: the sprite
 * moves 2 px/frame, a model's centroid jitter is well under 0.5.
 *
 * @example
 * ```ts
 * MIN_SPEED; // 0.5
 * ```
 */
export const MIN_SPEED = 0.5;

/**
 * The colour named by a strict majority of the block's frames; frames without a colour count
 * against every colour.
 *
 * @example
 * ```ts
 * colourVerdict([{ colour: 'red' }, { colour: 'red' }, { colour: null }]); // 'red'
 * ```
 */
export function colourVerdict(frames: readonly Pick<FrameStats, 'colour'>[]): ColourVerdict {
  for (const colour of COLOURS) {
    if (frames.filter((frame) => frame.colour === colour).length * 2 > frames.length) return colour;
  }
  return 'none';
}

/**
 * The direction of the mean of some frame-to-frame displacements: the dominant axis and its
 * sign. 'none' when there are none, when the mean is slower than `MIN_SPEED`, or when the
 * displacements spread around their mean by more than the mean itself: a sprite that jumps
 * back and forth is not moving anywhere, even if the jumps happen to net out one way.
 *
 * @example
 * ```ts
 * directionVerdict([{ dx: -2, dy: 0 }, { dx: -1.8, dy: 0.2 }]); // 'left'
 * directionVerdict([{ dx: 10, dy: 0 }, { dx: -6, dy: 0 }]); // 'none'
 * ```
 */
export function directionVerdict(displacements: readonly Displacement[]): DirectionVerdict {
  const n = displacements.length;
  if (n === 0) return 'none';
  const mx = displacements.reduce((sum, d) => sum + d.dx, 0) / n;
  const my = displacements.reduce((sum, d) => sum + d.dy, 0) / n;
  const along = Math.abs(mx) >= Math.abs(my) ? mx : my;
  if (Math.abs(along) < MIN_SPEED) return 'none';
  const spread = Math.sqrt(displacements.reduce((sum, d) => sum + (d.dx - mx) ** 2 + (d.dy - my) ** 2, 0) / n);
  if (spread > Math.abs(along)) return 'none';
  if (Math.abs(mx) >= Math.abs(my)) return mx < 0 ? 'left' : 'right';
  return my < 0 ? 'up' : 'down';
}
