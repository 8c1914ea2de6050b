import { describe, expect, it } from 'vitest';
import { kvLayoutFor, kvTensorFloats } from '../src/engine/kv/kv-layout.js';
import { allocateKvSlabs, gatherPast, KvShapeError, scatterPresent, type KvLayout } from '../src/engine/kv/kv-slabs.js';

const layout: KvLayout = { capacitySlots: 4, layers: 2, heads: 3, tokensPerFrame: 2, headDim: 4 };
const rows = layout.tokensPerFrame * layout.headDim;

/** Value at [layer, 0, head, frame·tokens + i / headDim, i % headDim] of a tagged present tensor. */
const tagged = (tag: number, l: number, h: number, f: number, i: number) => tag * 10000 + l * 1000 + h * 100 + f * 10 + i;

/** A present tensor [layers, 1, heads, frames·tokens, headDim] whose values encode (tag, layer, head, frame, i). */
function present(frames: number, tag: number): Float32Array {
  const out = new Float32Array(layout.layers * layout.heads * frames * rows);
  for (let l = 0; l < layout.layers; l++)
    for (let h = 0; h < layout.heads; h++)
      for (let f = 0; f < frames; f++)
        for (let i = 0; i < rows; i++) out[((l * layout.heads + h) * frames + f) * rows + i] = tagged(tag, l, h, f, i);
  return out;
}

/** Checks that `past` holds, as its frame k, frame `frames[k].frame` of the present tagged `frames[k].tag`. */
function expectFrames(past: Float32Array, frames: readonly { tag: number; frame: number }[]) {
  const T = frames.length;
  expect(past.length).toBe(layout.layers * layout.heads * T * rows);
  for (let l = 0; l < layout.layers; l++)
    for (let h = 0; h < layout.heads; h++)
      frames.forEach(({ tag, frame }, k) => {
        const at = ((l * layout.heads + h) * T + k) * rows;
        expect([...past.subarray(at, at + rows)]).toEqual(Array.from({ length: rows }, (_, i) => tagged(tag, l, h, frame, i)));
      });
}

describe('KV layout', () => {
  it('takes the model dimensions from the manifest and checks them', () => {
    const manifest = { layers: 4, heads: 2, tokensPerFrame: 16, headDim: 32 };
    expect(kvLayoutFor(manifest, 27)).toEqual({ capacitySlots: 27, ...manifest });
    expect(kvTensorFloats(kvLayoutFor(manifest, 27), 3)).toBe(4 * 2 * 3 * 16 * 32);
    expect(() => kvLayoutFor({ ...manifest, heads: 0 }, 27)).toThrow(/heads 0 is not a positive integer/);
    expect(() => allocateKvSlabs({ ...layout, capacitySlots: -1 })).toThrow(/capacitySlots -1/);
  });

  it('allocates one fixed slab each for keys and values in shared memory', () => {
    const slabs = allocateKvSlabs(layout);
    expect(slabs.keys).toBeInstanceOf(SharedArrayBuffer);
    expect(slabs.values).toBeInstanceOf(SharedArrayBuffer);
    expect(slabs.keys).not.toBe(slabs.values);
    expect(slabs.keys.byteLength).toBe(4 * layout.capacitySlots * layout.layers * layout.heads * rows);
  });
});

describe('KV slabs', () => {
  it('gathers scattered frames back in any order, in the model past layout', () => {
    const slabs = allocateKvSlabs(layout);
    scatterPresent(slabs, [3, 1], present(2, 1), present(2, 2)); // frame 0 → slot 3, frame 1 → slot 1
    scatterPresent(slabs, [0], present(1, 3), present(1, 4));
    const past = gatherPast(slabs, [1, 0, 3]);
    expectFrames(past.key, [{ tag: 1, frame: 1 }, { tag: 3, frame: 0 }, { tag: 1, frame: 0 }]);
    expectFrames(past.value, [{ tag: 2, frame: 1 }, { tag: 4, frame: 0 }, { tag: 2, frame: 0 }]);
  });

  it('writes only the caching block of a joint present, from its first frame', () => {
    const slabs = allocateKvSlabs(layout);
    scatterPresent(slabs, [2, 0], present(5, 1), present(5, 2), { firstFrame: 3, frames: 5 });
    expectFrames(gatherPast(slabs, [2, 0]).key, [{ tag: 1, frame: 3 }, { tag: 1, frame: 4 }]);
    expect(gatherPast(slabs, [1, 3]).key.every((v) => v === 0)).toBe(true); // untouched slots
  });

  it('reuses caller buffers', () => {
    const slabs = allocateKvSlabs(layout);
    scatterPresent(slabs, [2, 3], present(2, 5), present(2, 6));
    const out = { key: new Float32Array(kvTensorFloats(layout, 2)), value: new Float32Array(kvTensorFloats(layout, 2)) };
    const past = gatherPast(slabs, [3, 2], out);
    expect(past.key).toBe(out.key);
    expect(past.value).toBe(out.value);
    expectFrames(out.key, [{ tag: 5, frame: 1 }, { tag: 5, frame: 0 }]);
    expectFrames(out.value, [{ tag: 6, frame: 1 }, { tag: 6, frame: 0 }]);
  });

  it('gathers an empty past (T = 0) when no slot is readable', () => {
    const past = gatherPast(allocateKvSlabs(layout), []);
    expect(past.key).toBeInstanceOf(Float32Array);
    expect(past.key.length).toBe(0);
    expect(past.value.length).toBe(0);
  });

  it('is shared memory: a clone of the slabs (as workerData makes) writes into the same slots', () => {
    const slabs = allocateKvSlabs(layout);
    const inWorker = structuredClone(slabs);
    scatterPresent(inWorker, [1], present(1, 7), present(1, 8));
    expectFrames(gatherPast(slabs, [1]).key, [{ tag: 7, frame: 0 }]);
  });

  it('rejects wrong sizes, bad ranges and slots outside the pool, naming the mismatch', () => {
    const slabs = allocateKvSlabs(layout);
    expect(() => scatterPresent(slabs, [0, 1], present(1, 1), present(1, 1))).toThrow(KvShapeError);
    expect(() => scatterPresent(slabs, [0], present(1, 1), present(2, 1))).toThrow(/for 1 frames must hold 48 floats \(\[2, 1, 3, 2, 4\]\), got key 48, value 96/);
    expect(() => scatterPresent(slabs, [0, 0], present(2, 1), present(2, 1))).toThrow(/name a slot twice/);
    expect(() => scatterPresent(slabs, [0], present(2, 1), present(2, 1), { firstFrame: 2, frames: 2 })).toThrow(/frames 2\.\.3 are outside the 2 frames/);
    expect(() => gatherPast(slabs, [4])).toThrow(/slots\[0\]: KV slot 4 is outside the pool's 4 slots/);
    expect(() => gatherPast(slabs, [0, 1.5])).toThrow(/slots\[1\]: KV slot 1\.5/);
    expect(() => gatherPast(slabs, [0, 1], { key: new Float32Array(96), value: new Float32Array(95) })).toThrow(/2 slots fill 96 floats .* out has key 96, value 95/);
  });
});
