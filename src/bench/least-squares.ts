/** The least-squares slope of a series, for growth rates (bytes per block) in the soak benchmark. */

/**
 * The slope of the least-squares line through `(x, y)` points; NaN with fewer than two distinct x.
 *
 * @example
 * ```ts
 * leastSquaresSlope([0, 100, 200], [10, 20, 30]); // 0.1
 * ```
 */
export function leastSquaresSlope(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`leastSquaresSlope: ${x.length} x values but ${y.length} y values`);
  const n = x.length;
  if (n < 2) return Number.NaN;
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / n;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    sxy += dx * ((y[i] as number) - my);
    sxx += dx * dx;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}
