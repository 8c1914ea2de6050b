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
 * Layer 0's output residual now (`h1 − h0`, layer 1's input minus layer 0's) against the last
 * computed step's (`o1 − o0`), over `n` floats: |now − last| and |last| summed (fbcache).
 */
export function firstResidualChange(h0: Float32Array, h1: Float32Array, o0: Float32Array, o1: Float32Array, n: number): [change: number, base: number] {
  let change = 0;
  let base = 0;
  for (let k = 0; k < n; k++) {
    const last = (o1[k] as number) - (o0[k] as number);
    change += Math.abs((h1[k] as number) - (h0[k] as number) - last);
    base += Math.abs(last);
  }
  return [change, base];
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
