/**
 * Geometry on the wrap-around frame. Sprites cross edges, so a plain mean of x over a sprite
 * split between x=0 and x=31 would put it in the middle of the frame; angles do not.
 */

/**
 * A displacement in pixels (x right, y down).
 *
 * @example
 * ```ts
 * const leftStep: Displacement = { dx: -2, dy: 0 };
 * ```
 */
export interface Displacement {
  readonly dx: number;
  readonly dy: number;
}

/**
 * The shortest signed difference `to − from` on a circle of `size`, in (−size/2, size/2].
 *
 * @example
 * ```ts
 * wrapDelta(1, 31, 32); // -2: from x=1 moving left lands at x=31
 * ```
 */
export function wrapDelta(from: number, to: number, size: number): number {
  let delta = (to - from) % size;
  if (delta <= -size / 2) delta += size;
  if (delta > size / 2) delta -= size;
  return delta;
}

/**
 * Running circular mean of coordinates on a circle of `size`: each coordinate is an angle
 * 2π·x/size. `mean` is in [0, size); `resultant` (0..1) says how concentrated the points are
 * (1 = all at one place, near 0 = spread around the whole circle, where the mean means nothing).
 *
 * @example
 * ```ts
 * const axis = new CircularMean(32);
 * axis.add(31); axis.add(1);
 * axis.mean(); // 0 (not 16)
 * ```
 */
export class CircularMean {
  private cos = 0;
  private sin = 0;
  private count = 0;
  constructor(readonly size: number) {}

  /** Adds one coordinate. */
  add(x: number): void {
    const angle = (2 * Math.PI * x) / this.size;
    this.cos += Math.cos(angle);
    this.sin += Math.sin(angle);
    this.count++;
  }

  /** The mean coordinate in [0, size), or null when nothing was added. */
  mean(): number | null {
    if (this.count === 0) return null;
    const x = (Math.atan2(this.sin, this.cos) * this.size) / (2 * Math.PI);
    return ((x % this.size) + this.size) % this.size;
  }

  /** Mean resultant length in [0, 1]; 0 when nothing was added. */
  resultant(): number {
    return this.count === 0 ? 0 : Math.hypot(this.cos, this.sin) / this.count;
  }
}
