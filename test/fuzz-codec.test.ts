/**
 * Fuzzing the msgpack codec (src/protocol/codec.ts): whatever bytes arrive from another process
 * decode or are refused with a CorruptMessageError that names the input and the byte or field at
 * fault; what the encoder writes always decodes to what it was given. See docs/fuzzing.md.
 */
import fc from 'fast-check';
import { C1 } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CorruptMessageError, decodeKvSlice, decodeMessage, decodeTensorFrame, encodeKvSlice, encodeMessage, encodeTensorFrame, TENSOR_FRAME_PREAMBLE, type TensorInput } from '../src/protocol/codec.js';
import { outcome, params } from './support/fuzz.js';

/** True when msgpackr's placeholder for the never-used byte 0xC1 is anywhere inside `value`. */
function holdsC1(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === C1) return true;
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) stack.push(...v);
    else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) stack.push(...Object.values(v));
  }
  return false;
}

const message = (bytes: Uint8Array) => new RegExp(`^message of ${bytes.length} bytes`);
const decodesOrRefuses = (bytes: Uint8Array) => {
  const result = outcome(() => decodeMessage(bytes), [CorruptMessageError], message(bytes));
  if (result.ok) expect(holdsC1(result.value)).toBe(false);
};

/** Values the runtime's messages are made of: JSON, typed arrays, bigints, maps and sets. */
const messageValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'message' },
    fc.constantFrom(null, true, false, 0, -1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, 1.5, -0.25),
    fc.integer(),
    // A scalar -0 packs as the integer 0 (msgpack has no negative zero integer); typed arrays keep it.
    fc.double({ noNaN: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.float32Array({ maxLength: 20, noNaN: true }),
    fc.int32Array({ maxLength: 20 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie('value'), { maxKeys: 20 }),
  ),
})).value;

describe('fuzz: msgpack messages', () => {
  it('round-trips every value the runtime sends', () => {
    fc.assert(
      fc.property(messageValue, (value) => {
        expect(decodeMessage(encodeMessage(value))).toEqual(value);
      }),
      params(1500),
    );
  });

  it('decodes random bytes or refuses them naming the message', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrRefuses), params(3000));
  });

  it('decodes cut, flipped or extended encodings or refuses them naming the message', () => {
    const mutated = fc
      .tuple(messageValue, fc.nat(), fc.nat(255), fc.constantFrom('truncate', 'flip', 'append', 'c1'))
      .map(([value, where, byte, how]) => {
        const bytes = encodeMessage(value);
        const at = bytes.length === 0 ? 0 : where % bytes.length;
        if (how === 'truncate') return bytes.subarray(0, at);
        if (how === 'append') return Uint8Array.from([...bytes, byte]);
        const out = Uint8Array.from(bytes);
        if (out.length > 0) out[at] = how === 'c1' ? 0xc1 : (out[at] as number) ^ (1 << byte % 8);
        return out;
      });
    fc.assert(fc.property(mutated, decodesOrRefuses), params(3000));
  });

  it('refuses 0xC1 where a value starts, naming its byte (regression: it decoded to a placeholder object)', () => {
    fc.assert(
      fc.property(fc.array(messageValue, { maxLength: 6 }), fc.nat(), (items, where) => {
        const i = where % (items.length + 1);
        // An array of items + 1 values with 0xC1 as the i-th.
        const before = items.slice(0, i).map((v) => encodeMessage(v));
        const after = items.slice(i).map((v) => encodeMessage(v));
        const head = encodeMessage(Array.from({ length: items.length + 1 }, () => null)).subarray(0, -(items.length + 1));
        const offset = head.length + before.reduce((n, b) => n + b.length, 0);
        const bytes = Uint8Array.from([...head, ...before.flatMap((b) => [...b]), 0xc1, ...after.flatMap((b) => [...b])]);
        expect(() => decodeMessage(bytes)).toThrow(CorruptMessageError);
        expect(() => decodeMessage(bytes)).toThrow(`message of ${bytes.length} bytes: not valid msgpack (byte ${offset} is 0xC1, which msgpack never uses)`);
        // The same bytes as a tensor frame's header: the offset counts from the frame's start.
        const frame = new Uint8Array(TENSOR_FRAME_PREAMBLE + bytes.length);
        frame.set([0x42, 0x43, 0x54, 0x46, 1], 0);
        new DataView(frame.buffer).setUint32(8, bytes.length, true);
        frame.set(bytes, TENSOR_FRAME_PREAMBLE);
        expect(() => decodeTensorFrame(frame)).toThrow(`tensor frame: header at bytes 12..${frame.length}: not valid msgpack (byte ${TENSOR_FRAME_PREAMBLE + offset} is 0xC1`);
      }),
      params(1000),
    );
    // 0xC1 inside a string or binary payload is data, not a token.
    expect(decodeMessage(encodeMessage('\u00c1\u0041'))).toBe('\u00c1A');
    expect(decodeMessage(encodeMessage(Uint8Array.of(0xc1, 0xc1)))).toEqual(Uint8Array.of(0xc1, 0xc1));
  });

  it('refuses nesting far deeper than any message, naming the message', () => {
    for (const head of [0x91, 0x81]) {
      const depth = 200_000;
      const bytes = new Uint8Array(depth + 1).fill(head);
      bytes[depth] = 0xc0;
      if (head === 0x81) for (let i = 1; i < depth; i += 2) bytes[i] = 0xa0; // {"": {"": …}}: a key "" (0xa0) after each map head
      decodesOrRefuses(bytes);
    }
  });
});

const dtypeArray = fc.oneof(
  fc.float32Array({ maxLength: 24 }).map((data): TensorInput => ({ shape: [data.length], data })),
  fc.int32Array({ maxLength: 24 }).map((data): TensorInput => ({ shape: [data.length], data })),
  fc.uint8Array({ maxLength: 24 }).map((data): TensorInput => ({ shape: [data.length], data })),
  fc.bigInt64Array({ maxLength: 24 }).map((data): TensorInput => ({ shape: [data.length], data })),
);
const frameInput = fc.tuple(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), dtypeArray, { maxKeys: 4 }));
const frameWhere = /^(tensor frame|kv slice)/;

describe('fuzz: tensor frames', () => {
  it('round-trips meta and tensors', () => {
    fc.assert(
      fc.property(frameInput, ([meta, tensors]) => {
        const decoded = decodeTensorFrame(encodeTensorFrame(meta, tensors));
        expect(decoded.meta).toEqual(JSON.parse(JSON.stringify(meta)));
        expect(Object.keys(decoded.tensors).sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) expect(decoded.tensors[name]?.data).toEqual(t.data);
      }),
      params(800),
    );
  });

  it('decodes cut, flipped or overwritten frames or refuses them naming the field or bytes', () => {
    const mutated = fc
      .tuple(frameInput, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.constantFrom('truncate', 'set', 'header'))
      .map(([[meta, tensors], edits, how]) => {
        const frame = encodeTensorFrame(meta, tensors);
        if (how === 'truncate') return frame.subarray(0, (edits[0]?.[0] ?? 0) % frame.length);
        const out = Uint8Array.from(frame);
        const span = how === 'header' ? Math.min(out.length, TENSOR_FRAME_PREAMBLE + 64) : out.length;
        for (const [at, byte] of edits) out[at % span] = byte;
        return out;
      });
    fc.assert(
      fc.property(mutated, (bytes) => {
        const frame = outcome(() => decodeTensorFrame(bytes), [CorruptMessageError], frameWhere);
        if (frame.ok) expect(holdsC1(frame.value.meta)).toBe(false);
        outcome(() => decodeKvSlice(bytes), [CorruptMessageError], frameWhere);
      }),
      params(3000),
    );
  });

  it('refuses random bytes behind a valid preamble, naming the field or bytes', () => {
    const frames = fc.tuple(fc.uint8Array({ maxLength: 80 }), fc.nat(120)).map(([rest, headerLength]) => {
      const out = new Uint8Array(TENSOR_FRAME_PREAMBLE + rest.length);
      out.set([0x42, 0x43, 0x54, 0x46, 1], 0);
      new DataView(out.buffer).setUint32(8, headerLength, true);
      out.set(rest, TENSOR_FRAME_PREAMBLE);
      return out;
    });
    fc.assert(fc.property(frames, (bytes) => void outcome(() => decodeTensorFrame(bytes), [CorruptMessageError], frameWhere)), params(2000));
  });

  it('decodes KV slices it encoded, and refuses headers of the wrong shape naming the field', () => {
    const dims = fc.record({ layers: fc.integer({ min: 1, max: 2 }), heads: fc.integer({ min: 1, max: 2 }), tokensPerFrame: fc.integer({ min: 1, max: 3 }), headDim: fc.integer({ min: 1, max: 4 }), positions: fc.array(fc.nat(1000), { maxLength: 3 }) });
    fc.assert(
      fc.property(dims, fc.dictionary(fc.constantFrom('kind', 'layers', 'heads', 'tokensPerFrame', 'headDim', 'positions'), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }), (d, override) => {
        const n = d.layers * d.heads * d.positions.length * d.tokensPerFrame * d.headDim;
        const slice = { ...d, key: new Float32Array(n).fill(1), value: new Float32Array(n).fill(2) };
        expect(decodeKvSlice(encodeKvSlice(slice))).toEqual(slice);
        const meta = { kind: 'kv-slice', ...d, ...override };
        const frame = encodeTensorFrame(meta, { key: { shape: [n], data: slice.key }, value: { shape: [n], data: slice.value } });
        outcome(() => decodeKvSlice(frame), [CorruptMessageError], /^kv slice: (meta|tensors)\.\w+/);
      }),
      params(800),
    );
  });
});
