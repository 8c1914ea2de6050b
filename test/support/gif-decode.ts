/**
 * A small GIF decoder for tests: walks the block structure (so a 0x2C byte inside image data
 * is never mistaken for an image descriptor) and LZW-decodes every frame to RGB, so tests can
 * check sizes, frame counts, delays and exact colours of what the writers produced.
 */

export interface DecodedGifFrame {
  readonly width: number;
  readonly height: number;
  /** Delay before the next frame, in centiseconds. */
  readonly delayCs: number;
  /** Interleaved RGB, `width · height · 3` bytes. */
  readonly rgb: Uint8Array;
}

export interface DecodedGif {
  /** Logical screen size. */
  readonly width: number;
  readonly height: number;
  readonly frames: readonly DecodedGifFrame[];
}

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  u8(): number {
    const v = this.bytes[this.pos];
    if (v === undefined) throw new Error(`GIF truncated at byte ${this.pos}`);
    this.pos++;
    return v;
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  take(n: number): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new Error(`GIF truncated at byte ${this.pos}`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Concatenated data sub-blocks up to the zero-length terminator. */
  subBlocks(): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let size = this.u8(); size !== 0; size = this.u8()) parts.push(this.take(size));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  colorTable(sizeBits: number): Uint8Array {
    return this.take(3 * (1 << (sizeBits + 1)));
  }
}

/** Decodes GIF LZW data into `pixels` colour indices. */
function lzwDecode(minCodeSize: number, data: Uint8Array, pixels: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const out = new Uint8Array(pixels);
  let outPos = 0;
  let dict: number[][] = [];
  const reset = () => {
    dict = Array.from({ length: clear + 2 }, (_, i) => (i < clear ? [i] : []));
  };
  reset();
  let codeSize = minCodeSize + 1;
  let prev: number[] | undefined;
  let bitPos = 0;
  const totalBits = data.length * 8;
  while (bitPos + codeSize <= totalBits) {
    let code = 0;
    for (let i = 0; i < codeSize; i++, bitPos++) {
      code |= (((data[bitPos >> 3] as number) >> (bitPos & 7)) & 1) << i;
    }
    if (code === clear) {
      reset();
      codeSize = minCodeSize + 1;
      prev = undefined;
      continue;
    }
    if (code === end) break;
    let entry: number[];
    if (code < dict.length) entry = dict[code] as number[];
    else if (code === dict.length && prev) entry = [...prev, prev[0] as number];
    else throw new Error(`bad LZW code ${code} (dictionary has ${dict.length})`);
    for (const v of entry) if (outPos < pixels) out[outPos++] = v;
    if (prev && dict.length < 4096) dict.push([...prev, entry[0] as number]);
    prev = entry;
    if (dict.length === 1 << codeSize && codeSize < 12) codeSize++;
  }
  if (outPos !== pixels) throw new Error(`LZW data gave ${outPos} pixels, expected ${pixels}`);
  return out;
}

/** Decodes a GIF (no interlacing, frames covering the whole screen, as gifenc writes). */
export function decodeGif(bytes: Uint8Array): DecodedGif {
  const r = new Reader(bytes);
  const signature = new TextDecoder().decode(r.take(6));
  if (signature !== 'GIF89a' && signature !== 'GIF87a') throw new Error(`not a GIF: signature ${JSON.stringify(signature)}`);
  const width = r.u16();
  const height = r.u16();
  const packed = r.u8();
  r.u8(); // background colour index
  r.u8(); // pixel aspect ratio
  const globalTable = packed & 0x80 ? r.colorTable(packed & 7) : undefined;
  const frames: DecodedGifFrame[] = [];
  let delayCs = 0;
  for (;;) {
    const introducer = r.u8();
    if (introducer === 0x3b) break;
    if (introducer === 0x21) {
      const label = r.u8();
      const body = r.subBlocks();
      if (label === 0xf9) delayCs = (body[1] as number) | ((body[2] as number) << 8);
      continue;
    }
    if (introducer !== 0x2c) throw new Error(`unexpected block 0x${introducer.toString(16)} at byte ${r.pos - 1}`);
    r.u16();
    r.u16();
    const w = r.u16();
    const h = r.u16();
    const flags = r.u8();
    if (flags & 0x40) throw new Error('interlaced frames are not supported by this test decoder');
    const table = flags & 0x80 ? r.colorTable(flags & 7) : globalTable;
    if (!table) throw new Error(`frame ${frames.length} has no colour table`);
    const minCodeSize = r.u8();
    const index = lzwDecode(minCodeSize, r.subBlocks(), w * h);
    const rgb = new Uint8Array(w * h * 3);
    index.forEach((c, p) => rgb.set(table.subarray(c * 3, c * 3 + 3), p * 3));
    frames.push({ width: w, height: h, delayCs, rgb });
  }
  return { width, height, frames };
}
