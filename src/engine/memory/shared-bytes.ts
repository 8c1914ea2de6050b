/**
 * Bytes of shared memory a set of objects holds: every distinct SharedArrayBuffer reachable
 * through their properties (typed arrays count their buffer). Walking the real objects rather
 * than summing the memory plan means a slab allocated outside the plan would show.
 */

/**
 * The total `byteLength` of the distinct SharedArrayBuffers reachable from `roots`.
 *
 * @example
 * ```ts
 * const memory = allocateMemory(manifest, planMemory(manifest));
 * sharedBytesOf(memory); // the plan's totalBytes plus the exchange's few control words
 * ```
 */
export function sharedBytesOf(...roots: readonly unknown[]): number {
  const buffers = new Set<SharedArrayBuffer>();
  const seen = new Set<object>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (value instanceof SharedArrayBuffer) buffers.add(value);
    else if (ArrayBuffer.isView(value)) visit(value.buffer);
    else if (!(value instanceof ArrayBuffer)) for (const v of Object.values(value)) visit(v);
  };
  for (const root of roots) visit(root);
  let total = 0;
  for (const buffer of buffers) total += buffer.byteLength;
  return total;
}
