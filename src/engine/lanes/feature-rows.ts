/**
 * Row arithmetic of the feature cache inside a lane (worker side), shared by the layered share
 * (`share-tick.ts`) and the fused one (`fused-share.ts`) so that both measure and store the
 * same floats in the same order.
 */

/** |a − b| and |b| summed (float64), then `a` stored into `out` (the staged step; `b` stays). */
export function compareAndStore(a: Float32Array, b: Float32Array, out: Float32Array, measure: boolean): { change: number; base: number } {
  let change = 0;
  let base = 0;
  if (measure) {
    for (let i = 0; i < a.length; i++) {
      const prev = b[i] as number;
      change += Math.abs((a[i] as number) - prev);
      base += Math.abs(prev);
    }
  }
  out.set(a);
  return { change, base };
}

/**
 * The stack's residual `output − input` of `n` floats (from `from` in both) into `out`; with
 * `measure`, also |r − last| and |last| summed against the block's last computed residual.
 */
export function storeResidual(output: Float32Array, input: Float32Array, from: number, n: number, last: Float32Array, out: Float32Array, measure: boolean): { change: number; base: number } {
  let change = 0;
  let base = 0;
  for (let i = 0; i < n; i++) {
    const r = (output[from + i] as number) - (input[from + i] as number);
    if (measure) {
      const prev = last[i] as number;
      change += Math.abs(r - prev);
      base += Math.abs(prev);
    }
    out[i] = r;
  }
  return { change, base };
}

/**
 * Copies `count` tokens' rows of every head from `src` (`[heads][srcTokens][d]`, starting at
 * token `srcFirst`) to `dst` (`[heads][dstTokens][d]`, starting at `dstFirst`).
 */
export function copyHeadRows(src: Float32Array, srcTokens: number, srcFirst: number, dst: Float32Array, dstTokens: number, dstFirst: number, count: number, heads: number, d: number): void {
  for (let h = 0; h < heads; h++) {
    const from = (h * srcTokens + srcFirst) * d;
    dst.set(src.subarray(from, from + count * d), (h * dstTokens + dstFirst) * d);
  }
}
