import { describe, expect, it } from 'vitest';
import { allocateKvSlabs, gatherPast, KvShapeError, scatterPresent, type KvLayout } from '../src/runtime/kv/kv-slabs.js';

const layout: KvLayout = { capacitySlots: 4, layers: 2, heads: 3, tokensPerFrame: 2, headDim: 4 };
const rows = layout.tokensPerFrame * layout.headDim;

/** A present tensor [layers, 1, heads, frames·tokens, headDim] whose values encode (layer, head, frame, i). */
function present(frames: number, tag: number): Float32Array {
  const out = new Float32Array(layout.layers * layout.heads * frames * rows);
  for (let l = 0; l < layout.layers; l++)
    for (let h = 0; h < layout.heads; h++)
      for (let f = 0; f < frames; f++)
        for (let i = 0; i < rows; i++) out[((l * layout.heads + h) * frames + f) * rows + i] = tag * 10000 + l * 1000 + h * 100 + f * 10 + i;
  return out;
}

describe('KV slabs', () => {
  it('gathers frames back in any order, in the model past layout', () => {
    const slabs = allocateKvSlabs(layout);
    scatterPresent(slabs, [3, 1], present(2, 1), present(2, 2));
    const past = gatherPast(slabs, [1, 3]); // frame 1 first, then frame 0
    const again = present(2, 1);
    for (let lh = 0; lh < layout.layers * layout.heads; lh++) {
      const frame1 = again.subarray((lh * 2 + 1) * rows, (lh * 2 + 2) * rows);
      const frame0 = again.subarray(lh * 2 * rows, (lh * 2 + 1) * rows);
      expect([...past.key.subarray(lh * 2 * rows, (lh * 2 + 1) * rows)]).toEqual([...frame1]);
      expect([...past.key.subarray((lh * 2 + 1) * rows, (lh * 2 + 2) * rows)]).toEqual([...frame0]);
    }
    expect(past.value[0]).toBe(20000 + 10);
  });

  it('gathers an empty past when no slot is readable', () => {
    const past = gatherPast(allocateKvSlabs(layout), []);
    expect(past.key.length).toBe(0);
    expect(past.value.length).toBe(0);
  });

  it('rejects wrong sizes and slots outside the pool', () => {
    const slabs = allocateKvSlabs(layout);
    expect(() => scatterPresent(slabs, [0, 1], present(1, 1), present(1, 1))).toThrow(KvShapeError);
    expect(() => scatterPresent(slabs, [0], present(1, 1), present(2, 1))).toThrow(/got key 48, value 96/);
    expect(() => gatherPast(slabs, [4])).toThrow(/outside the pool's 4 slots/);
  });
});
