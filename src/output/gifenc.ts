/**
 * Typed access to `gifenc` (plain CommonJS, no type declarations).
 *
 * Loaded with `require` on purpose: Node's ESM loader sees none of gifenc's named exports
 * (its esbuild bundle defines them with getters), and the `default` export is the whole
 * module under Node but `GIFEncoder` under bundler-style interop (vitest). `require` gives
 * the same object everywhere.
 */
import { createRequire } from 'node:module';

/** An RGB colour, each channel 0..255. */
export type PaletteColor = [number, number, number];

/** gifenc's incremental encoder. */
export interface GifEncoderStream {
  writeFrame(
    index: Uint8Array,
    width: number,
    height: number,
    options?: { palette?: readonly PaletteColor[]; delay?: number; repeat?: number; first?: boolean; dispose?: number },
  ): void;
  finish(): void;
  bytes(): Uint8Array;
  bytesView(): Uint8Array;
}

interface Gifenc {
  GIFEncoder(options?: { auto?: boolean; initialCapacity?: number }): GifEncoderStream;
}

/** The gifenc module. */
export const gifenc = createRequire(import.meta.url)('gifenc') as Gifenc;
