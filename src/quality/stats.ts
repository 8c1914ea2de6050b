/**
 * Means with a 95% confidence interval, for evaluation summaries.
 */

/** A sample mean and the half-width of its 95% interval (Student's t). */
export interface MeanInterval {
  readonly mean: number;
  /** Half-width: the interval is `mean ± ci95`; 0 for fewer than two values. */
  readonly ci95: number;
  readonly n: number;
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * Mean and 95% interval of `values` (t interval; 1.96 beyond 30 degrees of freedom). An empty
 * list gives a NaN mean and n = 0.
 *
 * @example
 * ```ts
 * meanInterval([1, 2, 3]); // { mean: 2, ci95: 2.484…, n: 3 }
 * ```
 */
export function meanInterval(values: readonly number[]): MeanInterval {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: 0, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: 0, n };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const t = T975[n - 2] ?? 1.96;
  return { mean, ci95: (t * Math.sqrt(variance)) / Math.sqrt(n), n };
}
