/**
 * Buffers a lane worker reuses from one call to the next, by size: a cascade's call sizes repeat
 * once the window is full, and fresh arrays of megabytes cost page faults and collections. A
 * lane runs one task at a time, so a buffer is never in two calls at once; the sizes of a
 * filling window never come back, so a cache that grows past a few sizes starts over.
 */

/** Sizes kept per cache before it starts over. */
const MAX_SIZES = 16;

function bySize<T>(cache: Map<number, T>, floats: number, make: () => T): T {
  let buffer = cache.get(floats);
  if (buffer === undefined) {
    if (cache.size >= MAX_SIZES) cache.clear();
    buffer = make();
    cache.set(floats, buffer);
  }
  return buffer;
}

const pairs = new Map<number, { readonly key: Float32Array; readonly value: Float32Array }>();
const zeros = new Map<number, Float32Array>();

/**
 * A key and a value buffer of `floats` floats each, to be filled by the caller before use.
 *
 * @example
 * ```ts
 * const past = gatherPastFrom(sources, keyValueBuffers(kvTensorFloats(layout, frames)));
 * ```
 */
export function keyValueBuffers(floats: number): { readonly key: Float32Array; readonly value: Float32Array } {
  return bySize(pairs, floats, () => ({ key: new Float32Array(floats), value: new Float32Array(floats) }));
}

/**
 * `floats` zeros (an all-visible attention mask), shared: nobody may write them.
 *
 * @example
 * ```ts
 * new ort.Tensor('float32', zeroBuffer(rows * keys), [1, 1, rows, keys]);
 * ```
 */
export function zeroBuffer(floats: number): Float32Array {
  return bySize(zeros, floats, () => new Float32Array(floats));
}
