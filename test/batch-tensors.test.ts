/** Stacking calls along the batch axis and taking one back out. */
import { describe, expect, it } from 'vitest';
import { batchAxisOf, itemOf, stackBatch } from '../src/engine/lanes/batch-tensors.js';

describe('batch tensors', () => {
  const seq = (n: number, from: number) => Float32Array.from({ length: n }, (_, i) => from + i);

  it('stacks along the first axis and along the K/V axis (per layer, item after item), and itemOf undoes it', () => {
    const a = { data: seq(6, 0), dims: [1, 2, 3] };
    const b = { data: seq(6, 100), dims: [1, 2, 3] };
    const first = stackBatch([a, b], 0);
    expect(first.dims).toEqual([2, 2, 3]);
    expect(Array.from(first.data)).toEqual([...a.data, ...b.data]);
    // K/V: [L = 2, B = 1, 3] each → [2, 2, 3]: layer 0 of a, layer 0 of b, layer 1 of a, layer 1 of b.
    const kvA = { data: seq(6, 0), dims: [2, 1, 3] };
    const kvB = { data: seq(6, 100), dims: [2, 1, 3] };
    const kv = stackBatch([kvA, kvB], 1);
    expect(kv.dims).toEqual([2, 2, 3]);
    expect(Array.from(kv.data)).toEqual([0, 1, 2, 100, 101, 102, 3, 4, 5, 103, 104, 105]);
    expect(Array.from(itemOf(kv, 1, 1).data)).toEqual(Array.from(kvB.data));
    expect(itemOf(kv, 1, 0).dims).toEqual([2, 1, 3]);
    expect(Array.from(itemOf(first, 0, 1).data)).toEqual(Array.from(b.data));
    expect(batchAxisOf('past_key')).toBe(1);
    expect(batchAxisOf('present_value')).toBe(1);
    expect(batchAxisOf('latents')).toBe(0);
  });

  it('refuses items of different shapes and items outside the batch', () => {
    expect(() => stackBatch([{ data: seq(6, 0), dims: [1, 2, 3] }, { data: seq(3, 0), dims: [1, 1, 3] }], 0)).toThrow(/item 1 has dims \[1, 1, 3\], expected \[1, 2, 3\]/);
    expect(() => itemOf({ data: seq(6, 0), dims: [2, 3] }, 0, 2)).toThrow(/item 2 of a batch of 2/);
  });
});
