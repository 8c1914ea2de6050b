import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CorruptMessageError, decodeMessage, decodeTensorFrame, encodeMessage, encodeTensorFrame } from '../src/protocol/codec.js';
import { exportKvSlice, importKvSlice } from '../src/runtime/kv/kv-slice.js';
import { allocateKvSlabs, gatherPast, scatterPresent } from '../src/runtime/kv/kv-slabs.js';

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const awkward = Float32Array.of(0, -0, 1.5, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -1.17549435e-38);

describe('msgpack messages', () => {
  it('round-trips nested messages with typed arrays bit for bit', () => {
    const message = {
      type: 'kv.slice',
      block: 3,
      floats: awkward,
      ints: Int32Array.of(-2, 0, 2 ** 31 - 1),
      tokens: BigInt64Array.of(0n, 1n, -(2n ** 63n)),
      nested: { list: [1, 'two', null, true], bytes: Uint8Array.of(1, 2, 255) },
    };
    const back = decodeMessage(encodeMessage(message)) as typeof message;
    expect(back.floats).toBeInstanceOf(Float32Array);
    expect(bits(back.floats)).toEqual(bits(awkward));
    expect([...back.ints]).toEqual([-2, 0, 2 ** 31 - 1]);
    expect([...back.tokens]).toEqual([0n, 1n, -(2n ** 63n)]);
    expect(back.nested).toEqual(message.nested);
  });

  it('shows why moreTypes matters: without it a Float32Array comes back wrong', () => {
    const plain = new Packr();
    const back = plain.unpack(plain.pack({ x: Float32Array.of(1.5, -2.25) })) as { x: unknown };
    expect(back.x instanceof Float32Array && [...back.x].join() === '1.5,-2.25').toBe(false);
  });

  it('throws a CorruptMessageError for truncated input', () => {
    const bytes = encodeMessage({ a: 'long enough string', b: [1, 2, 3] });
    expect(() => decodeMessage(bytes.subarray(0, 5))).toThrow(CorruptMessageError);
  });
});

describe('tensor frames', () => {
  const x = Float32Array.from({ length: 3 * 4 * 8 * 8 }, (_, i) => Math.sin(i));
  const frame = encodeTensorFrame({ block: 7 }, { latents: { shape: [3, 4, 8, 8], data: x }, ids: { shape: [2], data: BigInt64Array.of(5n, 6n) } });

  it('decodes to zero-copy, 16-byte-aligned views of the same buffer', () => {
    const { meta, tensors } = decodeTensorFrame(frame);
    expect(meta).toEqual({ block: 7 });
    const latents = tensors.latents!;
    expect(latents.shape).toEqual([3, 4, 8, 8]);
    expect(latents.data.buffer).toBe(frame.buffer);
    expect(latents.data.byteOffset % 16).toBe(0);
    expect(bits(latents.data as Float32Array)).toEqual(bits(x));
    expect([...(tensors.ids!.data as BigInt64Array)]).toEqual([5n, 6n]);
  });

  it('copies when the frame itself is misaligned, with the same values', () => {
    const shifted = new Uint8Array(frame.length + 3);
    shifted.set(frame, 3);
    const { tensors } = decodeTensorFrame(shifted.subarray(3));
    expect(tensors.latents!.data.buffer).not.toBe(shifted.buffer);
    expect(bits(tensors.latents!.data as Float32Array)).toEqual(bits(x));
  });

  it('rejects a shape that does not match the data when encoding', () => {
    expect(() => encodeTensorFrame({}, { x: { shape: [2, 2], data: new Float32Array(5) } })).toThrow(/holds 4 values, data has 5/);
  });

  it.each([
    ['a short buffer', () => frame.subarray(0, 6), /shorter than the 12-byte preamble/],
    ['bad magic', () => Object.assign(frame.slice(), { 0: 0x00 }), /bad magic/],
    ['a header longer than the frame', () => { const f = frame.slice(); new DataView(f.buffer).setUint32(8, 1e6, true); return f; }, /header length 1000000 runs past/],
    ['a truncated frame', () => frame.slice(0, frame.length - 100), /run past the frame/],
  ])('throws a CorruptMessageError that says where for %s', (_, corrupt, message) => {
    const error = (() => {
      try {
        decodeTensorFrame(corrupt());
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(CorruptMessageError);
    expect((error as Error).message).toMatch(message);
  });

  it('names the field of a bad descriptor', () => {
    const bad = encodeTensorFrame({}, { x: { shape: [2], data: new Float32Array(2) } });
    const header = decodeMessage(bad.subarray(12, 12 + new DataView(bad.buffer).getUint32(8, true))) as { tensors: { dtype: string }[] };
    header.tensors[0]!.dtype = 'float99';
    const repacked = encodeMessage(header);
    const f = new Uint8Array(12 + repacked.length);
    f.set(bad.subarray(0, 12));
    new DataView(f.buffer).setUint32(8, repacked.length, true);
    f.set(repacked, 12);
    expect(() => decodeTensorFrame(f)).toThrow(/tensors\[0\]\.dtype: unknown dtype "float99"/);
  });
});

describe('KV slices', () => {
  const layout = { capacitySlots: 6, layers: 2, heads: 2, tokensPerFrame: 3, headDim: 4 };
  const frames = 2;
  const n = layout.layers * layout.heads * frames * layout.tokensPerFrame * layout.headDim;

  it('carry frames of one pool into another through msgpack framing', () => {
    const from = allocateKvSlabs(layout);
    scatterPresent(from, [4, 1], Float32Array.from({ length: n }, (_, i) => i), Float32Array.from({ length: n }, (_, i) => -i));
    const bytes = exportKvSlice(from, [4, 1], [12, 13]);
    const to = allocateKvSlabs(layout);
    expect(importKvSlice(bytes, to, [0, 2])).toEqual([12, 13]);
    expect(bits(gatherPast(to, [0, 2]).key)).toEqual(bits(gatherPast(from, [4, 1]).key));
    expect(bits(gatherPast(to, [0, 2]).value)).toEqual(bits(gatherPast(from, [4, 1]).value));
  });

  it('refuse a slice of another model, naming the field', () => {
    const bytes = exportKvSlice(allocateKvSlabs(layout), [0], [0]);
    expect(() => importKvSlice(bytes, allocateKvSlabs({ ...layout, heads: 4 }), [0])).toThrow(/meta\.heads: is 2, the pool's model has 4/);
  });
});
