import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  allocateTensorFrame,
  CorruptMessageError,
  decodeKvSlice,
  decodeMessage,
  decodeTensorFrame,
  encodeKvSlice,
  encodeMessage,
  encodeTensorFrame,
  kvSliceShape,
  TensorShapeError,
  type KvSlice,
} from '../src/protocol/codec.js';
import { exportKvSlice, importKvSlice } from '../src/engine/kv/kv-slice.js';
import { allocateKvSlabs, gatherPast, scatterPresent } from '../src/engine/kv/kv-slabs.js';

const bits = (a: Float32Array<ArrayBufferLike>) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const floatsFromBits = (...words: number[]) => new Float32Array(Uint32Array.from(words).buffer);
// 0, -0, NaN (canonical and with a payload), ±Infinity, the smallest denormal, a mid denormal,
// the largest float, the smallest normal.
const awkward = floatsFromBits(0x00000000, 0x80000000, 0x7fc00000, 0x7fc00001, 0xffa00005, 0x7f800000, 0xff800000, 0x00000001, 0x80012345, 0x7f7fffff, 0x00800000);

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('msgpack messages', () => {
  it('round-trips nested messages with typed arrays bit for bit', () => {
    const message = {
      type: 'kv.slice',
      block: 3,
      floats: awkward,
      ints: Int32Array.of(-2, 0, 2 ** 31 - 1, -(2 ** 31)),
      tokens: BigInt64Array.of(0n, 1n, -(2n ** 63n), 2n ** 63n - 1n),
      nested: { list: [1, 'two', null, true, 1.5], bytes: Uint8Array.of(1, 2, 255), deeper: { more: Float32Array.of(-0) } },
    };
    const back = decodeMessage(encodeMessage(message)) as typeof message;
    expect(back.floats).toBeInstanceOf(Float32Array);
    expect(bits(back.floats)).toEqual(bits(awkward));
    expect(back.ints).toBeInstanceOf(Int32Array);
    expect([...back.ints]).toEqual([-2, 0, 2 ** 31 - 1, -(2 ** 31)]);
    expect(back.tokens).toBeInstanceOf(BigInt64Array);
    expect([...back.tokens]).toEqual([0n, 1n, -(2n ** 63n), 2n ** 63n - 1n]);
    expect(back.nested.list).toEqual([1, 'two', null, true, 1.5]);
    expect([...back.nested.bytes]).toEqual([1, 2, 255]);
    expect(bits(back.nested.deeper.more)).toEqual([0x80000000]);
  });

  it('shows why moreTypes matters: without it each float is packed as one byte', () => {
    const plain = new Packr();
    const back = plain.unpack(plain.pack({ x: Float32Array.of(1.5, -2.25) })) as { x: Uint8Array };
    expect(back.x).not.toBeInstanceOf(Float32Array);
    // 1.5 → 1 and -2.25 → 254 (wrapped to a byte): the floats are gone, silently.
    expect([...back.x.subarray(0, 2)]).toEqual([1, 254]);
  });

  it('decodes input that lives in a SharedArrayBuffer (the native extractor would crash on it)', () => {
    const bytes = encodeMessage({ name: 'a string long enough for the native string extractor', floats: awkward });
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
    shared.set(bytes);
    const back = decodeMessage(shared) as { name: string; floats: Float32Array };
    expect(back.name).toBe('a string long enough for the native string extractor');
    expect(bits(back.floats)).toEqual(bits(awkward));
  });

  it('throws a CorruptMessageError for truncated, malformed or trailing input', () => {
    const bytes = encodeMessage({ a: 'long enough string', b: [1, 2, 3] });
    expect(() => decodeMessage(bytes.subarray(0, 5))).toThrow(CorruptMessageError);
    expect(() => decodeMessage(Uint8Array.of(0xd9, 50, 65))).toThrow(/^message of 3 bytes: not valid msgpack/); // a 50-byte string holding 1
    expect(() => decodeMessage(new Uint8Array(0))).toThrow(CorruptMessageError);
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(() => decodeMessage(trailing)).toThrow(/end of buffer not reached/);
  });
});

describe('tensor frames', () => {
  const x = Float32Array.from({ length: 3 * 4 * 8 * 8 }, (_, i) => Math.sin(i));
  const encode = () =>
    encodeTensorFrame(
      { block: 7, note: 'hi' },
      {
        latents: { shape: [3, 4, 8, 8], data: x },
        ids: { shape: [2], data: BigInt64Array.of(5n, -6n) },
        odd: { dtype: 'uint8', shape: [3], data: Uint8Array.of(1, 2, 3) },
        steps: { shape: [1, 3], data: Int32Array.of(1000, 937, 833) },
        empty: { shape: [0, 4], data: new Float32Array(0) },
      },
    );
  const frame = encode();

  it('lays out a frame whose tensors are written through views: the bytes encodeTensorFrame makes', () => {
    const { frame: laid, views } = allocateTensorFrame({ block: 7, note: 'hi' }, [
      { name: 'latents', dtype: 'float32', shape: [3, 4, 8, 8] },
      { name: 'ids', dtype: 'int64', shape: [2] },
      { name: 'odd', dtype: 'uint8', shape: [3] },
      { name: 'steps', dtype: 'int32', shape: [1, 3] },
      { name: 'empty', dtype: 'float32', shape: [0, 4] },
    ]);
    expect([...(views.latents as Float32Array)].every((v) => v === 0)).toBe(true);
    (views.latents as Float32Array).set(x);
    (views.ids as BigInt64Array).set([5n, -6n]);
    (views.odd as Uint8Array).set([1, 2, 3]);
    (views.steps as Int32Array).set([1000, 937, 833]);
    expect(Buffer.from(laid).equals(Buffer.from(frame))).toBe(true);
    expect(() => allocateTensorFrame({}, [{ name: 'bad', dtype: 'float32', shape: [2, -1] }])).toThrow(TensorShapeError);
  });

  it('round-trips meta, shapes, dtypes and values', () => {
    const { meta, tensors } = decodeTensorFrame(frame);
    expect(meta).toEqual({ block: 7, note: 'hi' });
    expect(Object.keys(tensors).sort()).toEqual(['empty', 'ids', 'latents', 'odd', 'steps']);
    expect(tensors.latents).toMatchObject({ dtype: 'float32', shape: [3, 4, 8, 8] });
    expect(bits(tensors.latents!.data as Float32Array)).toEqual(bits(x));
    expect(tensors.ids!.dtype).toBe('int64');
    expect([...(tensors.ids!.data as BigInt64Array)]).toEqual([5n, -6n]);
    expect([...tensors.odd!.data]).toEqual([1, 2, 3]);
    expect(tensors.steps).toMatchObject({ dtype: 'int32', shape: [1, 3] });
    expect([...tensors.steps!.data]).toEqual([1000, 937, 833]);
    expect(tensors.empty!.data.length).toBe(0);
  });

  it('decodes to zero-copy, 16-byte-aligned views of the same buffer', () => {
    const own = encode();
    const { tensors } = decodeTensorFrame(own);
    for (const t of Object.values(tensors)) {
      expect(t.data.buffer).toBe(own.buffer);
      expect(t.data.byteOffset % 16).toBe(0);
    }
    // A write through the view lands in the frame's bytes: no copy was made.
    (tensors.latents!.data as Float32Array)[0] = 42;
    expect(decodeTensorFrame(own).tensors.latents!.data[0]).toBe(42);
  });

  it('views a frame that lies aligned inside a SharedArrayBuffer without copying', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(frame.length + 32));
    shared.set(frame, 32);
    const { tensors } = decodeTensorFrame(shared.subarray(32));
    expect(tensors.latents!.data.buffer).toBe(shared.buffer);
    expect(bits(tensors.latents!.data as Float32Array)).toEqual(bits(x));
  });

  it('copies a misaligned frame handed as a Node Buffer (whose slice is a view), as network clients deliver it', () => {
    const pool = Buffer.alloc(frame.length + 5);
    pool.set(frame, 5);
    const { tensors } = decodeTensorFrame(pool.subarray(5));
    expect(bits(tensors.latents!.data as Float32Array)).toEqual(bits(x));
    expect([...(tensors.ids!.data as BigInt64Array)]).toEqual([5n, -6n]);
  });

  it('copies when the frame itself is misaligned, with the same values, aligned', () => {
    const shifted = new Uint8Array(frame.length + 3);
    shifted.set(frame, 3);
    const { tensors } = decodeTensorFrame(shifted.subarray(3));
    expect(tensors.latents!.data.buffer).not.toBe(shifted.buffer);
    expect(tensors.ids!.data.byteOffset % 8).toBe(0);
    expect(bits(tensors.latents!.data as Float32Array)).toEqual(bits(x));
    expect([...(tensors.ids!.data as BigInt64Array)]).toEqual([5n, -6n]);
  });

  it('encodes a frame with no tensors', () => {
    expect(decodeTensorFrame(encodeTensorFrame({ only: 'meta' }, {}))).toEqual({ meta: { only: 'meta' }, tensors: {} });
  });

  it('rejects a shape or dtype that does not match the data when encoding', () => {
    expect(() => encodeTensorFrame({}, { x: { shape: [2, 2], data: new Float32Array(5) } })).toThrow(TensorShapeError);
    expect(() => encodeTensorFrame({}, { x: { shape: [2, 2], data: new Float32Array(5) } })).toThrow(/tensor "x": shape \[2, 2\] holds 4 values, data has 5/);
    expect(() => encodeTensorFrame({}, { y: { dtype: 'int32', shape: [1], data: new Float32Array(1) } })).toThrow(/tensor "y": data is float32, dtype says int32/);
    expect(() => encodeTensorFrame({}, { z: { shape: [1], data: new Float64Array(1) as unknown as Float32Array } })).toThrow(TensorShapeError);
  });

  /** The frame's msgpack header, decoded. */
  function headerOf(f: Uint8Array) {
    const length = new DataView(f.buffer, f.byteOffset).getUint32(8, true);
    return decodeMessage(f.subarray(12, 12 + length)) as { meta: Record<string, unknown>; tensors: Record<string, unknown>[] };
  }

  /** The same frame with an edited header; tensor bytes stay at their absolute offsets. */
  function withHeader(f: Uint8Array, edit: (h: ReturnType<typeof headerOf>) => void): Uint8Array {
    const header = headerOf(f);
    const dataStart = Math.min(...header.tensors.map((t) => t.byteOffset as number));
    edit(header);
    const packed = encodeMessage(header);
    expect(12 + packed.length).toBeLessThanOrEqual(dataStart); // the helper keeps tensors where they were
    const out = f.slice();
    out.fill(0, 12, dataStart);
    new DataView(out.buffer).setUint32(8, packed.length, true);
    out.set(packed, 12);
    return out;
  }

  const latentsIndex = headerOf(frame).tensors.findIndex((t) => t.name === 'latents');
  const latentsOffset = headerOf(frame).tensors[latentsIndex]!.byteOffset as number;
  const idsIndex = headerOf(frame).tensors.findIndex((t) => t.name === 'ids');

  it('leaves the edit helper itself harmless', () => {
    expect(bits(decodeTensorFrame(withHeader(frame, () => {})).tensors.latents!.data as Float32Array)).toEqual(bits(x));
  });

  it.each<[string, () => Uint8Array, RegExp]>([
    ['a short buffer', () => frame.subarray(0, 6), /^tensor frame: 6 bytes is shorter than the 12-byte preamble/],
    ['bad magic', () => Object.assign(frame.slice(), { 0: 0x00 }), /^tensor frame: bytes 0\.\.4: bad magic/],
    ['an unknown version', () => Object.assign(frame.slice(), { 4: 9 }), /^tensor frame: byte 4: unsupported version 9/],
    ['non-zero reserved bytes', () => Object.assign(frame.slice(), { 6: 1 }), /^tensor frame: bytes 5\.\.8: reserved/],
    ['a header longer than the frame', () => { const f = frame.slice(); new DataView(f.buffer).setUint32(8, 1e6, true); return f; }, /bytes 8\.\.12: header length 1000000 runs past the frame's \d+ bytes/],
    ['a header that is not msgpack', () => { const f = frame.slice(); f[12] = 0xc1; return f; }, /header at bytes 12\.\.\d+: not valid msgpack/],
    ['a truncated frame', () => frame.slice(0, frame.length - 100), /tensors\[\d\] \("\w+"\) bytes \d+\.\.\d+: run past the end of the frame at byte \d+/],
    ['an unknown dtype', () => withHeader(frame, (h) => { h.tensors[latentsIndex]!.dtype = 'float99'; }), /tensors\[\d\] \("latents"\)\.dtype: unknown dtype "float99"/],
    ['a shape whose product is not byteLength / elementSize', () => withHeader(frame, (h) => { h.tensors[latentsIndex]!.shape = [3, 4, 8, 7]; }), /\("latents"\)\.shape: \[3, 4, 8, 7\] of float32 needs 2688 bytes, byteLength says 3072/],
    ['a negative shape', () => withHeader(frame, (h) => { h.tensors[latentsIndex]!.shape = [-1]; }), /\("latents"\)\.shape: is not a list of non-negative integers/],
    ['a misaligned offset', () => withHeader(frame, (h) => { h.tensors[latentsIndex]!.byteOffset = latentsOffset + 4; }), new RegExp(`\\("latents"\\)\\.byteOffset: ${latentsOffset + 4} is not a multiple of 16`)],
    ['an offset inside the header', () => withHeader(frame, (h) => { h.tensors[latentsIndex]!.byteOffset = 0; }), /\("latents"\)\.byteOffset: 0 lies inside the header, which ends at byte \d+/],
    ['a descriptor out of bounds', () => withHeader(frame, (h) => { h.tensors[latentsIndex]!.byteOffset = 1 << 20; }), /\("latents"\) bytes 1048576\.\.1051648: run past the end/],
    ['overlapping tensors', () => withHeader(frame, (h) => { h.tensors[idsIndex]!.byteOffset = latentsOffset + 16; }), /tensor "ids" at byte \d+: overlaps tensor "latents"/],
    ['a name given twice', () => withHeader(frame, (h) => { h.tensors[idsIndex]!.name = 'latents'; }), /tensors\[\d\]\.name: "latents" appears twice/],
    ['a missing tensor list', () => withHeader(frame, (h) => { (h as { tensors?: unknown }).tensors = 'none'; }), /header\.tensors: is not a list/],
  ])('throws a CorruptMessageError that says where for %s', (_, corrupt, message) => {
    const error = thrown(() => decodeTensorFrame(corrupt()));
    expect(error).toBeInstanceOf(CorruptMessageError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('KV slice frames', () => {
  const dims = { layers: 2, heads: 3, tokensPerFrame: 2, headDim: 4 };
  const positions = [12, 13, 14];
  const n = 2 * 3 * positions.length * 2 * 4;
  const slice: KvSlice = {
    ...dims,
    positions,
    key: Float32Array.from({ length: n }, (_, i) => i + 0.5),
    value: Float32Array.from({ length: n }, (_, i) => -i),
  };

  it('round-trips positions, dimensions and K/V bit for bit, as zero-copy views', () => {
    const bytes = encodeKvSlice(slice);
    const back = decodeKvSlice(bytes);
    expect(back).toMatchObject({ ...dims, positions });
    expect(bits(back.key)).toEqual(bits(slice.key));
    expect(bits(back.value)).toEqual(bits(slice.value));
    expect(back.key.buffer).toBe(bytes.buffer);
    expect(kvSliceShape(dims, 3)).toEqual([2, 1, 3, 6, 4]);
    expect(decodeTensorFrame(bytes).tensors.key!.shape).toEqual([2, 1, 3, 6, 4]);
  });

  it('round-trips an empty slice', () => {
    const back = decodeKvSlice(encodeKvSlice({ ...slice, positions: [], key: new Float32Array(0), value: new Float32Array(0) }));
    expect(back.positions).toEqual([]);
    expect(back.key.length).toBe(0);
  });

  it('refuses K/V whose length does not match the declared shape, naming which', () => {
    expect(() => encodeKvSlice({ ...slice, value: new Float32Array(n - 1) })).toThrow(TensorShapeError);
    expect(() => encodeKvSlice({ ...slice, value: new Float32Array(n - 1) })).toThrow(/tensor "value": 3 frames of \[2, 1, 3, 6, 4\] need 144 floats, got 143/);
    expect(() => encodeKvSlice({ ...slice, positions: [12, 13] })).toThrow(/tensor "key": 2 frames/);
    expect(() => encodeKvSlice({ ...slice, heads: 0 })).toThrow(/heads 0 is not a positive integer/);
  });

  it('refuses a frame whose tensors do not have the shape its meta declares', () => {
    const { key, value } = slice;
    const lying = encodeTensorFrame(
      { kind: 'kv-slice', positions: [12, 13, 14], ...dims, heads: 6 },
      { key: { shape: [n], data: key }, value: { shape: [n], data: value } },
    );
    expect(() => decodeKvSlice(lying)).toThrow(/kv slice: tensors\.key\.shape: is \[144\], 3 frames need \[2, 1, 6, 6, 4\]/);
    const notKv = encodeTensorFrame({ kind: 'latents' }, {});
    expect(thrown(() => decodeKvSlice(notKv))).toBeInstanceOf(CorruptMessageError);
    expect(() => decodeKvSlice(notKv)).toThrow(/kv slice: meta\.kind: expected "kv-slice", got "latents"/);
    const noValue = encodeTensorFrame({ kind: 'kv-slice', positions: [12, 13, 14], ...dims }, { key: { shape: kvSliceShape(dims, 3), data: key } });
    expect(() => decodeKvSlice(noValue)).toThrow(/kv slice: tensors\.value: is missing/);
  });

  it('is the same format the KV store exports and imports', () => {
    const layout = { capacitySlots: 4, ...dims };
    const from = allocateKvSlabs(layout);
    scatterPresent(from, [3, 0, 1], slice.key, slice.value);
    const exported = decodeKvSlice(exportKvSlice(from, [3, 0, 1], positions));
    expect(bits(exported.key)).toEqual(bits(slice.key));
    const to = allocateKvSlabs(layout);
    expect(importKvSlice(encodeKvSlice(slice), to, [2, 1, 0])).toEqual(positions);
    expect(bits(gatherPast(to, [2, 1, 0]).value)).toEqual(bits(slice.value));
  });
});

describe('KV slices of the store', () => {
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
