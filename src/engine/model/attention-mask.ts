/**
 * The additive self-attention mask of the model contract (docs/model-contract.md), built for
 * one call: which keys each query token may see.
 *
 * The same function serves the monolithic denoiser's joint calls (queries = every in-flight
 * frame, keys = past + the same frames) and the layered form's lane calls (queries = one lane's
 * share of the in-flight frames, keys = past + every in-flight frame of the tick).
 */

/** Added to the logit of a hidden key: softmax then gives it exactly 0. */
export const MASK_HIDDEN = -1e9;

/** An in-flight frame as the mask sees it. */
export interface MaskFrame {
  /**
   * The frame's cascade group: the block it belongs to. Any number that orders the in-flight
   * blocks oldest first will do (e.g. the block's index in the video); frames of one block
   * share it.
   */
  readonly block: number;
}

/** What {@link buildAttentionMask} needs. */
export interface AttentionMaskSpec {
  /** Tokens of the cache past that come first among the keys (always visible); may be 0. */
  readonly pastTokens: number;
  /** The call's query frames, in the order of the call's tokens. */
  readonly queryFrames: readonly MaskFrame[];
  /** The in-flight frames among the keys, in key order (after the past). */
  readonly keyFrames: readonly MaskFrame[];
  /** Tokens per latent frame (`tokensPerFrame` of the manifest). */
  readonly tokensPerFrame: number;
  /**
   * `bidirectional`: every in-flight frame sees every other (the mask is all zeros).
   * `causal`: a query frame sees in-flight frames of its own block and of older blocks only.
   */
  readonly mode: 'causal' | 'bidirectional';
}

function count(value: number, what: string, positive: boolean): void {
  if (!Number.isInteger(value) || value < (positive ? 1 : 0)) {
    throw new RangeError(`buildAttentionMask: ${what} must be a ${positive ? 'positive' : 'non-negative'} integer, got ${value}`);
  }
}

/**
 * Builds the additive attention mask of one call, shaped `[1, 1, Nq, T + Nk]` (row-major) with
 * `Nq = queryFrames.length · tokensPerFrame`, `T = pastTokens`,
 * `Nk = keyFrames.length · tokensPerFrame`. Entry (q, k) is 0 when query token q may see key
 * k and {@link MASK_HIDDEN} when not: the past columns are always 0; an in-flight key frame is
 * visible iff `mode` is `bidirectional` or its `block` ≤ the query frame's `block`. All the
 * tokens of a frame share their frame's visibility.
 *
 * A mask that is all zeros (bidirectional, or a single block) changes no logit: adding +0 to a
 * float is exact, so such a call computes bit for bit what the same call without a mask would.
 *
 * @returns A fresh `Float32Array` of `Nq · (T + Nk)` entries.
 * @throws {RangeError} when `pastTokens` is not a non-negative integer, `tokensPerFrame` not a
 *   positive integer, or a frame's `block` is not a finite number.
 *
 * @example
 * ```ts
 * // Lane 1 of a two-block causal tick (blocks 7 and 8, 3 frames each) holds frames 4–5, i.e.
 * // the last two frames of block 8; the cache past has 6 frames.
 * const tpf = manifest.tokensPerFrame;
 * const blocks = [7, 7, 7, 8, 8, 8].map((block) => ({ block }));
 * const mask = buildAttentionMask({
 *   pastTokens: 6 * tpf,
 *   queryFrames: blocks.slice(4),
 *   keyFrames: blocks,
 *   tokensPerFrame: tpf,
 *   mode: 'causal',
 * });
 * const tensor = new ort.Tensor('float32', mask, [1, 1, 2 * tpf, 6 * tpf + 6 * tpf]);
 * ```
 */
export function buildAttentionMask(spec: AttentionMaskSpec): Float32Array {
  const { pastTokens, queryFrames, keyFrames, tokensPerFrame, mode } = spec;
  count(pastTokens, 'pastTokens', false);
  count(tokensPerFrame, 'tokensPerFrame', true);
  for (const [what, frames] of [['queryFrames', queryFrames], ['keyFrames', keyFrames]] as const) {
    frames.forEach((f, i) => {
      if (!Number.isFinite(f.block)) throw new RangeError(`buildAttentionMask: ${what}[${i}].block must be a finite number, got ${f.block}`);
    });
  }
  const columns = pastTokens + keyFrames.length * tokensPerFrame;
  const mask = new Float32Array(queryFrames.length * tokensPerFrame * columns);
  if (mode === 'bidirectional') return mask;
  queryFrames.forEach((query, qf) => {
    // The first row of this query frame, then copied to the frame's other rows.
    const first = qf * tokensPerFrame * columns;
    keyFrames.forEach((key, kf) => {
      if (key.block > query.block) {
        const from = first + pastTokens + kf * tokensPerFrame;
        mask.fill(MASK_HIDDEN, from, from + tokensPerFrame);
      }
    });
    for (let t = 1; t < tokensPerFrame; t++) mask.copyWithin(first + t * columns, first, first + columns);
  });
  return mask;
}
