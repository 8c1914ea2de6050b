/**
 * Joining several calls' tensors along the contract's batch axis `B`, and taking one item back
 * out of a batched output. The batch axis is the first one of every denoiser input and output
 * except the K/V (`past_*`, `present_*`: `[L, B, heads, tokens, headDim]`), where it is the
 * second: per layer, one item after another.
 */

/** A tensor's data and dims, as onnxruntime holds them. */
export interface DenseTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * Stacks `items` (each with batch size 1 at `axis`, every other dim equal) into one tensor of
 * batch size `items.length`.
 *
 * @throws {RangeError} when the items' shapes differ or an item's batch size is not 1.
 *
 * @example
 * ```ts
 * stackBatch([{ data: a, dims: [1, 3] }, { data: b, dims: [1, 3] }], 0); // dims [2, 3]: a then b
 * stackBatch([k0, k1], 1); // [L, 2, heads, T, d]: per layer, item 0's rows then item 1's
 * ```
 */
export function stackBatch(items: readonly DenseTensor[], axis: 0 | 1): DenseTensor {
  const first = items[0];
  if (!first) throw new RangeError('stackBatch: no items');
  for (const [i, item] of items.entries()) {
    if (item.dims[axis] !== 1 || item.dims.length !== first.dims.length || item.dims.some((d, k) => d !== first.dims[k])) {
      throw new RangeError(`stackBatch: item ${i} has dims [${item.dims.join(', ')}], expected [${first.dims.join(', ')}] with batch 1 at axis ${axis}`);
    }
  }
  const outer = product(first.dims.slice(0, axis));
  const inner = product(first.dims.slice(axis + 1));
  const data = new Float32Array(outer * items.length * inner);
  for (let o = 0; o < outer; o++) {
    items.forEach((item, b) => data.set(item.data.subarray(o * inner, (o + 1) * inner), (o * items.length + b) * inner));
  }
  return { data, dims: first.dims.map((d, k) => (k === axis ? items.length : d)) };
}

/**
 * Item `b` of a batched tensor, as a tensor of batch size 1 (a view when the batch axis is the
 * first, a copy otherwise).
 *
 * @example
 * ```ts
 * const flow = itemOf({ data: out.flow.data, dims: out.flow.dims }, 0, 2); // the third call's flow
 * ```
 */
export function itemOf(batched: DenseTensor, axis: 0 | 1, b: number): DenseTensor {
  const batch = batched.dims[axis] as number;
  if (!Number.isInteger(b) || b < 0 || b >= batch) throw new RangeError(`itemOf: item ${b} of a batch of ${batch}`);
  const outer = product(batched.dims.slice(0, axis));
  const inner = product(batched.dims.slice(axis + 1));
  const dims = batched.dims.map((d, k) => (k === axis ? 1 : d));
  if (outer === 1) return { data: batched.data.subarray(b * inner, (b + 1) * inner), dims };
  const data = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) data.set(batched.data.subarray((o * batch + b) * inner, (o * batch + b + 1) * inner), o * inner);
  return { data, dims };
}

/** The batch axis of a denoiser input or output by name: the K/V's second, every other tensor's first. */
export const batchAxisOf = (name: string): 0 | 1 => (name.startsWith('past_') || name.startsWith('present_') ? 1 : 0);
