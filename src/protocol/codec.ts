/**
 * The msgpack codec for messages and tensor frames.
 *
 * `moreTypes: true` is not optional: without it msgpackr packs a Float32Array as an array of
 * bytes and silently corrupts every float (see test/codec.test.ts). Big tensors do not go
 * through msgpack at all: a tensor frame is a small msgpack header followed by the raw tensor
 * bytes at 16-byte-aligned offsets, so the receiver gets zero-copy typed-array views.
 *
 * Frame layout (little-endian):
 * ```
 * 0  "BCTF"  magic
 * 4  u8      version (1)
 * 5  3 bytes zero
 * 8  u32     header length H
 * 12 H bytes msgpack header { meta, tensors: [{ name, dtype, shape, offset, byteLength }] }
 *    …       tensor bytes, each starting at a multiple of 16 from the frame start
 * ```
 */
import { Packr } from 'msgpackr';

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false });

const MAGIC = [0x42, 0x43, 0x54, 0x46]; // "BCTF"
const VERSION = 1;
const PREAMBLE = 12;
const ALIGN = 16;

/** A message or frame that cannot be decoded; says what was wrong and where. */
export class CorruptMessageError extends Error {
  readonly code = 'CORRUPT_MESSAGE';
  constructor(readonly where: string, message: string, options?: ErrorOptions) {
    super(`${where}: ${message}`, options);
    this.name = 'CorruptMessageError';
  }
}

/**
 * Packs any structured value (typed arrays included) into msgpack bytes.
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
 * Unpacks msgpack bytes; truncated or malformed input throws {@link CorruptMessageError}.
 *
 * @example
 * ```ts
 * const message = decodeMessage(bytes) as { type: string };
 * ```
 */
export function decodeMessage(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    throw new CorruptMessageError('message', `not valid msgpack (${(cause as Error).message})`, { cause });
  }
}

const DTYPES = {
  float32: Float32Array,
  int32: Int32Array,
  uint8: Uint8Array,
  int64: BigInt64Array,
} as const;
export type TensorDType = keyof typeof DTYPES;
export type TensorArray = Float32Array<ArrayBufferLike> | Int32Array<ArrayBufferLike> | Uint8Array<ArrayBufferLike> | BigInt64Array<ArrayBufferLike>;

/** A tensor in a frame: element type, shape, and its values. */
export interface FrameTensor {
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  readonly data: TensorArray;
}

interface TensorDescriptor {
  readonly name: string;
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly byteLength: number;
}

const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function dtypeOf(data: TensorArray): TensorDType {
  for (const [name, ctor] of Object.entries(DTYPES)) if (data instanceof ctor) return name as TensorDType;
  throw new TypeError('tensor data must be a Float32Array, Int32Array, Uint8Array or BigInt64Array');
}

/**
 * Packs a header and named tensors into one frame with aligned raw tensor bytes.
 *
 * @example
 * ```ts
 * const frame = encodeTensorFrame({ block: 3 }, { latents: { dtype: 'float32', shape: [3, 4, 8, 8], data: x } });
 * ```
 */
export function encodeTensorFrame(meta: Record<string, unknown>, tensors: Record<string, Omit<FrameTensor, 'dtype'> & { dtype?: TensorDType }>): Uint8Array {
  const entries = Object.entries(tensors).map(([name, t]) => {
    const dtype = t.dtype ?? dtypeOf(t.data);
    if (dtypeOf(t.data) !== dtype) throw new TypeError(`tensor "${name}": data is not ${dtype}`);
    if (product(t.shape) !== t.data.length) {
      throw new RangeError(`tensor "${name}": shape [${t.shape.join(', ')}] holds ${product(t.shape)} values, data has ${t.data.length}`);
    }
    return { name, dtype, shape: [...t.shape], data: t.data };
  });
  // The header holds the offsets and the offsets follow the header: size it with the largest
  // u32 as every offset, so the real header (smaller numbers, never longer) fits before them.
  const header = (offsets: readonly number[]) =>
    packr.pack({
      meta,
      tensors: entries.map((e, i) => ({ name: e.name, dtype: e.dtype, shape: e.shape, offset: offsets[i], byteLength: e.data.byteLength })),
    });
  let cursor = alignUp(PREAMBLE + header(entries.map(() => 0xffffffff)).length);
  const offsets = entries.map((e) => {
    const at = cursor;
    cursor = alignUp(cursor + e.data.byteLength);
    return at;
  });
  const packed = header(offsets);
  const total = entries.length === 0 ? PREAMBLE + packed.length : (offsets.at(-1) as number) + (entries.at(-1) as { data: TensorArray }).data.byteLength;
  const frame = new Uint8Array(total);
  frame.set(MAGIC, 0);
  frame[4] = VERSION;
  new DataView(frame.buffer).setUint32(8, packed.length, true);
  frame.set(packed, PREAMBLE);
  entries.forEach((e, i) => frame.set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength), offsets[i] as number));
  return frame;
}

function checkDescriptor(d: unknown, i: number, frameLength: number): TensorDescriptor {
  const where = `tensor frame: tensors[${i}]`;
  if (typeof d !== 'object' || d === null) throw new CorruptMessageError(where, 'is not an object');
  const { name, dtype, shape, offset, byteLength } = d as Record<string, unknown>;
  if (typeof name !== 'string') throw new CorruptMessageError(`${where}.name`, 'is not a string');
  if (typeof dtype !== 'string' || !(dtype in DTYPES)) throw new CorruptMessageError(`${where}.dtype`, `unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new CorruptMessageError(`${where}.shape`, 'is not a list of non-negative integers');
  }
  if (!Number.isInteger(offset) || (offset as number) % ALIGN !== 0) throw new CorruptMessageError(`${where}.offset`, `${String(offset)} is not a multiple of ${ALIGN}`);
  if (!Number.isInteger(byteLength) || (byteLength as number) < 0) throw new CorruptMessageError(`${where}.byteLength`, 'is not a byte count');
  if ((offset as number) + (byteLength as number) > frameLength) {
    throw new CorruptMessageError(where, `bytes ${String(offset)}..${(offset as number) + (byteLength as number)} run past the frame's ${frameLength} bytes`);
  }
  const elementSize = DTYPES[dtype as TensorDType].BYTES_PER_ELEMENT;
  if (product(shape) * elementSize !== byteLength) {
    throw new CorruptMessageError(where, `shape [${shape.join(', ')}] of ${dtype} needs ${product(shape) * elementSize} bytes, the frame says ${String(byteLength)}`);
  }
  return { name, dtype: dtype as TensorDType, shape, offset: offset as number, byteLength: byteLength as number };
}

/**
 * Decodes a tensor frame. Tensors are zero-copy views into `bytes` when it starts at a
 * 16-byte-aligned offset of its buffer, copies otherwise.
 *
 * @example
 * ```ts
 * const { meta, tensors } = decodeTensorFrame(frame);
 * const latents = tensors.latents.data as Float32Array;
 * ```
 */
export function decodeTensorFrame(bytes: Uint8Array): { meta: Record<string, unknown>; tensors: Record<string, FrameTensor> } {
  if (bytes.length < PREAMBLE) throw new CorruptMessageError('tensor frame', `${bytes.length} bytes is shorter than the ${PREAMBLE}-byte preamble`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new CorruptMessageError('tensor frame: bytes 0..4', 'bad magic (expected "BCTF")');
  if (bytes[4] !== VERSION) throw new CorruptMessageError('tensor frame: byte 4', `unsupported version ${bytes[4]}`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (PREAMBLE + headerLength > bytes.length) {
    throw new CorruptMessageError('tensor frame: bytes 8..12', `header length ${headerLength} runs past the frame's ${bytes.length} bytes`);
  }
  let header: unknown;
  try {
    header = packr.unpack(bytes.subarray(PREAMBLE, PREAMBLE + headerLength));
  } catch (cause) {
    throw new CorruptMessageError(`tensor frame: header at byte ${PREAMBLE}`, `not valid msgpack (${(cause as Error).message})`, { cause });
  }
  const { meta, tensors } = (header ?? {}) as { meta?: unknown; tensors?: unknown };
  if (typeof meta !== 'object' || meta === null) throw new CorruptMessageError('tensor frame: header.meta', 'is not an object');
  if (!Array.isArray(tensors)) throw new CorruptMessageError('tensor frame: header.tensors', 'is not a list');
  const aligned = bytes.byteOffset % ALIGN === 0;
  const out: Record<string, FrameTensor> = {};
  tensors.forEach((raw, i) => {
    const d = checkDescriptor(raw, i, bytes.length);
    const Ctor = DTYPES[d.dtype];
    const length = d.byteLength / Ctor.BYTES_PER_ELEMENT;
    const source = aligned ? bytes : bytes.slice(d.offset, d.offset + d.byteLength);
    const start = aligned ? bytes.byteOffset + d.offset : 0;
    const data = new Ctor(source.buffer as ArrayBuffer, start, length);
    out[d.name] = { dtype: d.dtype, shape: d.shape, data } as FrameTensor;
  });
  return { meta: meta as Record<string, unknown>, tensors: out };
}
