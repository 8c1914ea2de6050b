/**
 * The msgpack codec for messages and tensor frames.
 *
 * `moreTypes: true` is not optional: without it msgpackr packs a Float32Array as an array of
 * bytes and silently corrupts every float (see test/codec.test.ts). `useRecords: false` keeps
 * the bytes self-describing, so a frame packed by one process decodes in another that never
 * saw its record structures.
 *
 * Big tensors do not go through msgpack at all: a tensor frame is a small msgpack header
 * followed by the raw tensor bytes at 16-byte-aligned offsets, so the receiver gets zero-copy
 * typed-array views (measured 4–10 GB/s, against a per-element msgpack decode).
 *
 * Frame layout (little-endian):
 * ```
 * 0   "BCTF"  magic
 * 4   u8      version (1)
 * 5   3 bytes zero (keeps the u32 aligned)
 * 8   u32     header length H
 * 12  H bytes msgpack header { meta, tensors: [{ name, dtype, shape, byteOffset, byteLength }] }
 *     …       tensor bytes; each tensor starts at a multiple of 16 from the frame start, after
 *             the header, and no two tensors overlap
 * ```
 */
import { Packr } from 'msgpackr';
import { CorruptMessageError, TensorShapeError } from './codec-errors.js';
import { describeValue } from '../core/describe-value.js';

export { CorruptMessageError, TensorShapeError } from './codec-errors.js';

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false });

const MAGIC = [0x42, 0x43, 0x54, 0x46]; // "BCTF"
const VERSION = 1;
/** Bytes before the msgpack header: magic, version, padding, header length. */
export const TENSOR_FRAME_PREAMBLE = 12;
/** Alignment of every tensor's first byte, from the frame start. */
export const TENSOR_FRAME_ALIGN = 16;
const PREAMBLE = TENSOR_FRAME_PREAMBLE;
const ALIGN = TENSOR_FRAME_ALIGN;
const MAX_FRAME_BYTES = 0xffffffff;

/**
 * msgpackr's native string extractor (msgpackr-extract 3.0.4) segfaults the whole process when
 * handed a SharedArrayBuffer-backed input with strings longer than a few bytes: copy such
 * input into an ordinary buffer first. Headers are small, so the copy is cheap.
 */
const unpackable = (bytes: Uint8Array): Uint8Array =>
  typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer ? bytes.slice() : bytes;

/**
 * Offset of the first 0xC1 where a value starts, or -1. msgpack never uses 0xC1 and msgpackr
 * decodes it to a placeholder object rather than refusing it, so the codec walks the tokens
 * itself (payloads of strings, binaries and extensions skipped: 0xC1 is any byte there). The walk
 * is linear, with no nesting to track: a container's head is followed by its items' tokens. It
 * stops at a length that runs past the end, which msgpackr then reports as truncated.
 */
function neverUsedByteAt(bytes: Uint8Array): number {
  const n = bytes.length;
  const u8 = (at: number) => bytes[at] as number;
  const u16 = (at: number) => (u8(at) << 8) | u8(at + 1);
  const u32 = (at: number) => u16(at) * 0x10000 + u16(at + 2);
  let at = 0;
  while (at < n) {
    const t = u8(at);
    if (t === 0xc1) return at;
    let size: number;
    if (t < 0xa0 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) size = 1; // fixint, fixmap, fixarray, nil, false, true
    else if (t < 0xc0) size = 1 + (t & 0x1f); // fixstr
    else if (t === 0xc4 || t === 0xd9) size = at + 1 < n ? 2 + u8(at + 1) : n; // bin8, str8
    else if (t === 0xc5 || t === 0xda) size = at + 2 < n ? 3 + u16(at + 1) : n; // bin16, str16
    else if (t === 0xc6 || t === 0xdb) size = at + 4 < n ? 5 + u32(at + 1) : n; // bin32, str32
    else if (t === 0xc7) size = at + 1 < n ? 3 + u8(at + 1) : n; // ext8: length, type, payload
    else if (t === 0xc8) size = at + 2 < n ? 4 + u16(at + 1) : n; // ext16
    else if (t === 0xc9) size = at + 4 < n ? 6 + u32(at + 1) : n; // ext32
    else size = FIXED_HEAD[t - 0xca] as number; // 0xca..0xdf: numbers, fixext, array and map heads
    at += size;
  }
  return -1;
}

/** Bytes of the heads 0xca..0xdf: float32/64, uint8..64, int8..64, fixext 1..16 (type and payload), str8..32 (sized above), array16/32, map16/32. */
const FIXED_HEAD = [5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 3, 4, 6, 10, 18, 0, 0, 0, 3, 5, 3, 5];

/** Refuses a never-used 0xC1 byte, naming `where` and the byte's offset (`bytes` starting at offset `base`). */
function refuseNeverUsed(bytes: Uint8Array, where: string, base = 0): void {
  const at = neverUsedByteAt(bytes);
  if (at >= 0) throw new CorruptMessageError(where, `not valid msgpack (byte ${base + at} is 0xC1, which msgpack never uses)`);
}

// ---------------------------------------------------------------------------------------------
// Messages

/**
 * Packs any structured value (typed arrays included, bit for bit) into msgpack bytes.
 *
 * @example
 * ```ts
 * const bytes = encodeMessage({ type: 'kv.commit', block: 3, scales: Float32Array.of(0.5) });
 * ```
 */
export function encodeMessage(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Unpacks msgpack bytes; truncated, malformed or trailing input throws
 * {@link CorruptMessageError}. Validate the result against a schema before trusting it.
 *
 * @example
 * ```ts
 * const message = decodeMessage(bytes) as { type: string };
 * ```
 */
export function decodeMessage(bytes: Uint8Array): unknown {
  refuseNeverUsed(bytes, `message of ${bytes.length} bytes`);
  try {
    return packr.unpack(unpackable(bytes));
  } catch (cause) {
    throw new CorruptMessageError(`message of ${bytes.length} bytes`, `not valid msgpack (${(cause as Error).message})`, { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor frames

/** Element types a tensor frame carries (the ONNX names of the same types). */
export type TensorDType = 'float32' | 'int32' | 'uint8' | 'int64';

/** The typed arrays a tensor frame carries; they may view a SharedArrayBuffer. */
export type TensorData =
  | Float32Array<ArrayBufferLike>
  | Int32Array<ArrayBufferLike>
  | Uint8Array<ArrayBufferLike>
  | BigInt64Array<ArrayBufferLike>;

/** A tensor: element type, shape (row-major), and its values. */
export interface Tensor {
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** A tensor to encode; its dtype is taken from the typed array when left out. */
export interface TensorInput {
  readonly dtype?: TensorDType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** Where a tensor's bytes lie in a frame, as written in the frame's header. */
export interface TensorDescriptor {
  readonly name: string;
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  /** From the frame start; a multiple of {@link TENSOR_FRAME_ALIGN}. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** A decoded tensor frame: the caller's header fields and the named tensors. */
export interface DecodedTensorFrame {
  /** The `meta` object given to {@link encodeTensorFrame}. */
  readonly meta: Record<string, unknown>;
  readonly tensors: Record<string, Tensor>;
}

const ELEMENT_BYTES: Readonly<Record<TensorDType, number>> = { float32: 4, int32: 4, uint8: 1, int64: 8 };
const isDType = (s: unknown): s is TensorDType => typeof s === 'string' && Object.hasOwn(ELEMENT_BYTES, s);

const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function dtypeOf(data: unknown): TensorDType | null {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof BigInt64Array) return 'int64';
  return null;
}

function view(dtype: TensorDType, buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
    case 'int32':
      return new Int32Array(buffer, byteOffset, length);
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, length);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, length);
  }
}

/** Refuses a shape that is not a list of non-negative integers, naming the tensor. */
function checkShape(name: string, shape: readonly number[]): void {
  if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw new TensorShapeError(name, `shape [${shape.join(', ')}] is not a list of non-negative integers`);
}

/** A tensor of a frame being written: its name, type and shape (its bytes come later). */
export interface TensorLayout {
  readonly name: string;
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
}

/**
 * Lays out a frame for `tensors` and writes its preamble and header; the tensors' bytes are left
 * for the caller to write through the returned views (zeros until then), so that large tensors
 * gathered from several places are copied once, straight into the frame. Throws
 * {@link TensorShapeError} for a shape that is not a list of non-negative integers.
 *
 * @example
 * ```ts
 * const { frame, views } = allocateTensorFrame({ block: 3 }, [{ name: 'keys', dtype: 'float32', shape: [12, 4096] }]);
 * (views.keys as Float32Array).set(rowsOfFrame0, 0);
 * ```
 */
export function allocateTensorFrame(meta: Record<string, unknown>, tensors: readonly TensorLayout[]): { readonly frame: Uint8Array; readonly views: Record<string, TensorData> } {
  for (const t of tensors) checkShape(t.name, t.shape);
  const byteLengthOf = (t: TensorLayout) => product(t.shape) * ELEMENT_BYTES[t.dtype];
  // The header holds the offsets and the offsets follow the header: size it with the largest
  // u32 as every offset, so the real header (same fields, never longer numbers) fits before them.
  const header = (offsets: readonly number[]) =>
    packr.pack({
      meta,
      tensors: tensors.map((t, i): TensorDescriptor => ({
        name: t.name,
        dtype: t.dtype,
        shape: [...t.shape],
        byteOffset: offsets[i] as number,
        byteLength: byteLengthOf(t),
      })),
    });
  let end = PREAMBLE + header(tensors.map(() => MAX_FRAME_BYTES)).length;
  let cursor = alignUp(end);
  const offsets = tensors.map((t) => {
    const at = cursor;
    end = at + byteLengthOf(t);
    cursor = alignUp(end);
    return at;
  });
  if (end > MAX_FRAME_BYTES) throw new TensorShapeError(tensors.at(-1)?.name ?? '', `the frame would be ${end} bytes, over the 4 GiB a u32 offset reaches`);
  const packed = header(offsets);
  const frame = new Uint8Array(tensors.length === 0 ? PREAMBLE + packed.length : end);
  frame.set(MAGIC, 0);
  frame[4] = VERSION;
  new DataView(frame.buffer).setUint32(8, packed.length, true);
  frame.set(packed, PREAMBLE);
  const views = Object.fromEntries(tensors.map((t, i) => [t.name, view(t.dtype, frame.buffer, offsets[i] as number, product(t.shape))]));
  return { frame, views };
}

/**
 * Packs a header and named tensors into one frame: a msgpack header, then each tensor's raw
 * bytes at a 16-byte-aligned offset. Throws {@link TensorShapeError} when a tensor's shape or
 * dtype does not match its data.
 *
 * @param meta small, msgpack-able fields of the caller's own (block index, positions …)
 * @param tensors named tensors; names are unique by construction
 *
 * @example
 * ```ts
 * const frame = encodeTensorFrame({ block: 3 }, { latents: { shape: [3, 4, 8, 8], data: x } });
 * ```
 */
export function encodeTensorFrame(meta: Record<string, unknown>, tensors: Record<string, TensorInput>): Uint8Array {
  const entries = Object.entries(tensors).map(([name, t]) => {
    const actual = dtypeOf(t.data);
    if (actual === null) throw new TensorShapeError(name, 'data must be a Float32Array, Int32Array, Uint8Array or BigInt64Array');
    const dtype = t.dtype ?? actual;
    if (actual !== dtype) throw new TensorShapeError(name, `data is ${actual}, dtype says ${dtype}`);
    checkShape(name, t.shape);
    if (product(t.shape) !== t.data.length) {
      throw new TensorShapeError(name, `shape [${t.shape.join(', ')}] holds ${product(t.shape)} values, data has ${t.data.length}`);
    }
    return { name, dtype, shape: t.shape, data: t.data };
  });
  const { frame, views } = allocateTensorFrame(meta, entries);
  for (const e of entries) new Uint8Array(frame.buffer, (views[e.name] as TensorData).byteOffset, e.data.byteLength).set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength));
  return frame;
}

function checkDescriptor(raw: unknown, i: number, dataStart: number, frameLength: number): TensorDescriptor {
  const where = `tensor frame: header.tensors[${i}]`;
  if (typeof raw !== 'object' || raw === null) throw new CorruptMessageError(where, 'is not an object');
  const { name, dtype, shape, byteOffset, byteLength } = raw as Record<string, unknown>;
  if (typeof name !== 'string') throw new CorruptMessageError(`${where}.name`, 'is not a string');
  const at = `${where} ("${name}")`;
  if (!isDType(dtype)) throw new CorruptMessageError(`${at}.dtype`, `unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new CorruptMessageError(`${at}.shape`, 'is not a list of non-negative integers');
  }
  if (!Number.isSafeInteger(byteLength) || (byteLength as number) < 0) {
    throw new CorruptMessageError(`${at}.byteLength`, `${String(byteLength)} is not a byte count`);
  }
  if (!Number.isSafeInteger(byteOffset)) throw new CorruptMessageError(`${at}.byteOffset`, `${String(byteOffset)} is not a byte offset`);
  const start = byteOffset as number;
  const length = byteLength as number;
  if (start % ALIGN !== 0) throw new CorruptMessageError(`${at}.byteOffset`, `${start} is not a multiple of ${ALIGN}`);
  if (start < dataStart) throw new CorruptMessageError(`${at}.byteOffset`, `${start} lies inside the header, which ends at byte ${dataStart}`);
  if (start + length > frameLength) {
    throw new CorruptMessageError(`${at} bytes ${start}..${start + length}`, `run past the end of the frame at byte ${frameLength} (truncated?)`);
  }
  const needed = product(shape as number[]) * ELEMENT_BYTES[dtype];
  if (needed !== length) {
    throw new CorruptMessageError(`${at}.shape`, `[${(shape as number[]).join(', ')}] of ${dtype} needs ${needed} bytes, byteLength says ${length}`);
  }
  return { name, dtype, shape: shape as number[], byteOffset: start, byteLength: length };
}

/**
 * Decodes a tensor frame, checking every descriptor against the frame's bytes. Tensors are
 * zero-copy views into `bytes` when `bytes` starts 16-byte aligned in its buffer (as every
 * fresh buffer does), copies otherwise; writing to a view writes into the frame.
 *
 * Throws {@link CorruptMessageError} naming the field or byte range at fault.
 *
 * @example
 * ```ts
 * const { meta, tensors } = decodeTensorFrame(frame);
 * const latents = tensors.latents?.data as Float32Array;
 * ```
 */
export function decodeTensorFrame(bytes: Uint8Array): DecodedTensorFrame {
  if (bytes.length < PREAMBLE) throw new CorruptMessageError('tensor frame', `${bytes.length} bytes is shorter than the ${PREAMBLE}-byte preamble`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) {
    throw new CorruptMessageError('tensor frame: bytes 0..4', `bad magic [${[...bytes.subarray(0, 4)].join(', ')}] (expected "BCTF")`);
  }
  if (bytes[4] !== VERSION) throw new CorruptMessageError('tensor frame: byte 4', `unsupported version ${bytes[4]} (expected ${VERSION})`);
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw new CorruptMessageError('tensor frame: bytes 5..8', 'reserved bytes are not zero');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  const dataStart = PREAMBLE + headerLength;
  if (dataStart > bytes.length) {
    throw new CorruptMessageError('tensor frame: bytes 8..12', `header length ${headerLength} runs past the frame's ${bytes.length} bytes`);
  }
  const headerBytes = bytes.subarray(PREAMBLE, dataStart);
  refuseNeverUsed(headerBytes, `tensor frame: header at bytes ${PREAMBLE}..${dataStart}`, PREAMBLE);
  let header: unknown;
  try {
    header = packr.unpack(unpackable(headerBytes));
  } catch (cause) {
    throw new CorruptMessageError(`tensor frame: header at bytes ${PREAMBLE}..${dataStart}`, `not valid msgpack (${(cause as Error).message})`, { cause });
  }
  if (typeof header !== 'object' || header === null) throw new CorruptMessageError('tensor frame: header', 'is not an object');
  const { meta, tensors } = header as { meta?: unknown; tensors?: unknown };
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new CorruptMessageError('tensor frame: header.meta', 'is not an object');
  if (!Array.isArray(tensors)) throw new CorruptMessageError('tensor frame: header.tensors', 'is not a list');

  const descriptors = tensors.map((raw, i) => checkDescriptor(raw, i, dataStart, bytes.length));
  const seen = new Set<string>();
  for (const [i, d] of descriptors.entries()) {
    if (seen.has(d.name)) throw new CorruptMessageError(`tensor frame: header.tensors[${i}].name`, `"${d.name}" appears twice`);
    seen.add(d.name);
  }
  // Overlapping tensors would alias: writing one view would change another.
  const spans = descriptors.filter((d) => d.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < spans.length; i++) {
    const before = spans[i - 1] as TensorDescriptor;
    const d = spans[i] as TensorDescriptor;
    if (d.byteOffset < before.byteOffset + before.byteLength) {
      throw new CorruptMessageError(`tensor frame: tensor "${d.name}" at byte ${d.byteOffset}`, `overlaps tensor "${before.name}" (bytes ${before.byteOffset}..${before.byteOffset + before.byteLength})`);
    }
  }

  const aligned = bytes.byteOffset % ALIGN === 0;
  const out: Record<string, Tensor> = {};
  for (const d of descriptors) {
    const length = d.byteLength / ELEMENT_BYTES[d.dtype];
    const data = aligned
      ? view(d.dtype, bytes.buffer, bytes.byteOffset + d.byteOffset, length)
      : // A copy, also for a Node Buffer, whose own `slice` is a view into its (larger) pool.
        view(d.dtype, Uint8Array.prototype.slice.call(bytes, d.byteOffset, d.byteOffset + d.byteLength).buffer, 0, length);
    out[d.name] = { dtype: d.dtype, shape: d.shape, data };
  }
  return { meta: meta as Record<string, unknown>, tensors: out };
}

// ---------------------------------------------------------------------------------------------
// KV slices

/**
 * Frames of the K/V cache in the model's `past_key` layout, for carrying across a process
 * boundary. `key` and `value` are `[layers, 1, heads, positions.length · tokensPerFrame, headDim]`.
 */
export interface KvSlice {
  /** Absolute frame positions of the slice's frames, in order. */
  readonly positions: readonly number[];
  readonly layers: number;
  readonly heads: number;
  readonly tokensPerFrame: number;
  readonly headDim: number;
  readonly key: Float32Array<ArrayBufferLike>;
  readonly value: Float32Array<ArrayBufferLike>;
}

const KV_SLICE_KIND = 'kv-slice';
const KV_DIMS = ['layers', 'heads', 'tokensPerFrame', 'headDim'] as const;

/**
 * The shape of a KV slice's `key` and `value`.
 *
 * @example
 * ```ts
 * kvSliceShape({ layers: 4, heads: 4, tokensPerFrame: 16, headDim: 32 }, 3); // [4, 1, 4, 48, 32]
 * ```
 */
export function kvSliceShape(dims: Pick<KvSlice, (typeof KV_DIMS)[number]>, frames: number): number[] {
  return [dims.layers, 1, dims.heads, frames * dims.tokensPerFrame, dims.headDim];
}

/**
 * Packs K/V frames into a tensor frame (meta `{ kind: 'kv-slice', positions, layers, heads,
 * tokensPerFrame, headDim }`, float32 tensors `key` and `value`). Throws
 * {@link TensorShapeError} when `key` or `value` does not hold what the dimensions declare.
 *
 * @example
 * ```ts
 * const bytes = encodeKvSlice({ positions: [9, 10, 11], layers: 4, heads: 4, tokensPerFrame: 16, headDim: 32, key, value });
 * ```
 */
export function encodeKvSlice(slice: KvSlice): Uint8Array {
  for (const dim of KV_DIMS) {
    if (!Number.isSafeInteger(slice[dim]) || slice[dim] <= 0) throw new TensorShapeError('key', `${dim} ${slice[dim]} is not a positive integer`);
  }
  if (!slice.positions.every((p) => Number.isSafeInteger(p) && p >= 0)) {
    throw new TensorShapeError('key', `positions [${slice.positions.join(', ')}] are not frame positions`);
  }
  const shape = kvSliceShape(slice, slice.positions.length);
  const expected = product(shape);
  for (const name of ['key', 'value'] as const) {
    if (slice[name].length !== expected) {
      throw new TensorShapeError(name, `${slice.positions.length} frames of [${shape.join(', ')}] need ${expected} floats, got ${slice[name].length}`);
    }
  }
  const { positions, layers, heads, tokensPerFrame, headDim } = slice;
  return encodeTensorFrame(
    { kind: KV_SLICE_KIND, positions: [...positions], layers, heads, tokensPerFrame, headDim },
    { key: { dtype: 'float32', shape, data: slice.key }, value: { dtype: 'float32', shape, data: slice.value } },
  );
}

/**
 * Decodes and checks a KV slice; `key` and `value` are zero-copy views when the input is
 * aligned. A corrupt slice throws {@link CorruptMessageError} naming the field. Checking that
 * the slice fits a given pool (same layers, heads …) is the caller's job.
 *
 * @example
 * ```ts
 * const { positions, key, value } = decodeKvSlice(bytes);
 * ```
 */
export function decodeKvSlice(bytes: Uint8Array): KvSlice & { readonly positions: number[] } {
  const { meta, tensors } = decodeTensorFrame(bytes);
  if (meta.kind !== KV_SLICE_KIND) throw new CorruptMessageError('kv slice: meta.kind', `expected "${KV_SLICE_KIND}", got ${describeValue(meta.kind)}`);
  for (const dim of KV_DIMS) {
    const n = meta[dim];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new CorruptMessageError(`kv slice: meta.${dim}`, `${JSON.stringify(n)} is not a positive integer`);
  }
  const dims = meta as Record<(typeof KV_DIMS)[number], number>;
  const positions = meta.positions;
  if (!Array.isArray(positions) || !positions.every((p) => Number.isSafeInteger(p) && p >= 0)) {
    throw new CorruptMessageError('kv slice: meta.positions', 'is not a list of frame positions');
  }
  const shape = kvSliceShape(dims, positions.length);
  const [key, value] = (['key', 'value'] as const).map((name) => {
    const t = tensors[name];
    if (!t) throw new CorruptMessageError(`kv slice: tensors.${name}`, 'is missing');
    if (t.dtype !== 'float32') throw new CorruptMessageError(`kv slice: tensors.${name}.dtype`, `is ${t.dtype}, expected float32`);
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
      throw new CorruptMessageError(`kv slice: tensors.${name}.shape`, `is [${t.shape.join(', ')}], ${positions.length} frames need [${shape.join(', ')}]`);
    }
    return t.data as Float32Array<ArrayBufferLike>;
  }) as [Float32Array<ArrayBufferLike>, Float32Array<ArrayBufferLike>];
  return { positions: positions as number[], layers: dims.layers, heads: dims.heads, tokensPerFrame: dims.tokensPerFrame, headDim: dims.headDim, key, value };
}
