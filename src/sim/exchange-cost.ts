/**
 * What a per-layer K/V exchange costs in bytes and time, for the simulator: each lane of a
 * `lanes` tick publishes its tokens' K and V for the layer and reads every other lane's.
 */

/** A transformer's dimensions as the exchange sees them. */
export interface ExchangeModel {
  /** Tokens of one block (latent frames × tokens per frame). */
  readonly tokensPerBlock: number;
  /** Model width (K and V are each `width` values per token). */
  readonly width: number;
  /** Bytes per value (2 for bf16/fp16, 4 for fp32). */
  readonly bytesPerValue: number;
}

/** A link between lanes: a fixed latency per exchange and a bandwidth. */
export interface Link {
  readonly latencyMs: number;
  /** Gigabytes per second each lane can receive. */
  readonly gbps: number;
}

/**
 * Bytes one lane receives per layer per tick when `blocks` blocks are spread over `lanes`
 * lanes, one share each: the K and V of every other lane's tokens.
 *
 * @example
 * ```ts
 * exchangeBytesPerLayer({ tokensPerBlock: 4680, width: 1536, bytesPerValue: 2 }, 5, 5); // 115,015,680
 * ```
 */
export function exchangeBytesPerLayer(m: ExchangeModel, blocks: number, lanes: number): number {
  const perBlock = m.tokensPerBlock * m.width * 2 * m.bytesPerValue;
  return (perBlock * blocks * (lanes - 1)) / lanes;
}

/**
 * Milliseconds of one layer's exchange over `link`.
 *
 * @example
 * ```ts
 * exchangeMsPerLayer(115e6, { latencyMs: 0.05, gbps: 450 }); // ≈ 0.3 ms on NVLink 4
 * ```
 */
export const exchangeMsPerLayer = (bytes: number, link: Link): number => link.latencyMs + bytes / (link.gbps * 1e6);

/**
 * The bandwidth at which a layer's exchange of `bytes` takes `ms` (after `latencyMs`), in GB/s.
 *
 * @example
 * ```ts
 * impliedGbps(115e6, 7.7); // ≈ 15 GB/s
 * ```
 */
export const impliedGbps = (bytes: number, ms: number, latencyMs = 0): number => bytes / ((ms - latencyMs) * 1e6);
