/**
 * The additive self-attention mask of the model contract (docs/model-contract.md), built for
 * one call: which keys each query token may see.
 *
 * The same function serves the monolithic denoiser's joint calls (queries = every in-flight
 * frame, keys = past + the same frames) and the layered form's lane calls (queries = one lane's
 * share of the in-flight frames, keys = past + every in-flight frame of the tick).
 */

import { windowHides, type TickWindow } from '../../core/tick.js';

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
  /** Absolute position of the frame (needed with a `TickWindow`). */
  readonly position?: number;
  /** Absolute position of its block's first frame (needed with a `TickWindow`). */
  readonly blockStart?: number;
}



/**
 * The mask frames of a tick's members (oldest first), each with its block, position and block
 * start.
 *
 * @example
 * ```ts
 * tickMaskFrames([{ block: 4, positions: [12, 13, 14] }], 3); // [{ block: 4, position: 12, blockStart: 12 }, …]
 * ```
 */
export function tickMaskFrames(members: readonly { readonly block: number; readonly positions: readonly number[] }[], framesPerBlock: number): MaskFrame[] {
  return members.flatMap((member) => Array.from({ length: framesPerBlock }, (_, f) => ({ block: member.block, position: member.positions[f] as number, blockStart: member.positions[0] as number })));
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
  /**
   * Absent: the past is visible to every query (the cascade sees the committed window and every
   * in-flight block). Present: keys outside each query block's trained window are hidden too;
   * every frame then needs `position` and `blockStart`.
   */
  readonly window?: TickWindow;
}

function checkWindow(window: TickWindow, pastTokens: number, tokensPerFrame: number, queryFrames: readonly MaskFrame[], keyFrames: readonly MaskFrame[]): void {
  if (window.pastPositions.length * tokensPerFrame !== pastTokens) {
    throw new RangeError(`buildAttentionMask: window.pastPositions has ${window.pastPositions.length} frames, the past ${pastTokens / tokensPerFrame}`);
  }
  queryFrames.forEach((f, i) => {
    if (!Number.isFinite(f.blockStart)) throw new RangeError(`buildAttentionMask: with a window, queryFrames[${i}].blockStart must be a finite number, got ${f.blockStart}`);
  });
  keyFrames.forEach((f, i) => {
    if (!Number.isFinite(f.position)) throw new RangeError(`buildAttentionMask: with a window, keyFrames[${i}].position must be a finite number, got ${f.position}`);
  });
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
 * visible iff `mode` is `bidirectional` or its `block` ≤ the query frame's `block`. With a
 * `window`, a key (past or in flight) outside the query block's trained window is hidden too
 * ({@link windowHides}). All the
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
  const window = spec.window;
  if (window) checkWindow(window, pastTokens, tokensPerFrame, queryFrames, keyFrames);
  else if (mode === 'bidirectional') return mask;
  queryFrames.forEach((query, qf) => {
    // The first row of this query frame, then copied to the frame's other rows.
    const first = qf * tokensPerFrame * columns;
    if (window) {
      window.pastPositions.forEach((position, pf) => {
        if (windowHides(window, query.blockStart as number, position)) mask.fill(MASK_HIDDEN, first + pf * tokensPerFrame, first + (pf + 1) * tokensPerFrame);
      });
    }
    keyFrames.forEach((key, kf) => {
      if ((mode === 'causal' && key.block > query.block) || (window && windowHides(window, query.blockStart as number, key.position as number))) {
        const from = first + pastTokens + kf * tokensPerFrame;
        mask.fill(MASK_HIDDEN, from, from + tokensPerFrame);
      }
    });
    for (let t = 1; t < tokensPerFrame; t++) mask.copyWithin(first + t * columns, first, first + columns);
  });
  return mask;
}
