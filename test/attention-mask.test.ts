import { describe, expect, it } from 'vitest';
import { buildAttentionMask, MASK_HIDDEN, type MaskFrame } from '../src/engine/model/attention-mask.js';

const H = MASK_HIDDEN;
const frames = (...blocks: number[]): MaskFrame[] => blocks.map((block) => ({ block }));

/** The mask as rows of numbers, for readable expectations. */
function rows(mask: Float32Array, columns: number): number[][] {
  return Array.from({ length: mask.length / columns }, (_, r) => Array.from(mask.subarray(r * columns, (r + 1) * columns)));
}

describe('buildAttentionMask', () => {
  it('causal joint call: the past is visible, a frame sees its own and older blocks only', () => {
    const blocks = frames(3, 3, 4);
    const mask = buildAttentionMask({ pastTokens: 2, queryFrames: blocks, keyFrames: blocks, tokensPerFrame: 1, mode: 'causal' });
    expect(rows(mask, 5)).toEqual([
      [0, 0, 0, 0, H],
      [0, 0, 0, 0, H],
      [0, 0, 0, 0, 0],
    ]);
  });

  it('bidirectional: all zeros of shape Nq × (T + Nk)', () => {
    const blocks = frames(0, 1, 2);
    const mask = buildAttentionMask({ pastTokens: 4, queryFrames: blocks, keyFrames: blocks, tokensPerFrame: 2, mode: 'bidirectional' });
    expect(mask).toHaveLength(6 * (4 + 6));
    expect(mask.every((v) => v === 0)).toBe(true);
  });

  it('every token of a frame gets its frame row; every token of a key frame its column', () => {
    const mask = buildAttentionMask({ pastTokens: 1, queryFrames: frames(0), keyFrames: frames(0, 1), tokensPerFrame: 2, mode: 'causal' });
    expect(rows(mask, 5)).toEqual([
      [0, 0, 0, H, H],
      [0, 0, 0, H, H],
    ]);
  });

  it("a lane's queries: its rows of the joint mask (a block split across lanes)", () => {
    const tick = frames(7, 7, 7, 8, 8, 8);
    const args = { pastTokens: 6, keyFrames: tick, tokensPerFrame: 3, mode: 'causal' } as const;
    const joint = buildAttentionMask({ ...args, queryFrames: tick });
    const columns = 6 + 18;
    for (const [from, to] of [[0, 4], [4, 6], [2, 5]] as const) {
      const lane = buildAttentionMask({ ...args, queryFrames: tick.slice(from, to) });
      expect(lane).toEqual(joint.slice(from * 3 * columns, to * 3 * columns));
    }
  });

  it('keys in any order: visibility follows each key frame, not its position', () => {
    const mask = buildAttentionMask({ pastTokens: 0, queryFrames: frames(1), keyFrames: frames(2, 0, 1), tokensPerFrame: 1, mode: 'causal' });
    expect(Array.from(mask)).toEqual([H, 0, 0]);
  });

  it('handles no past and no queries', () => {
    expect(buildAttentionMask({ pastTokens: 0, queryFrames: [], keyFrames: frames(0), tokensPerFrame: 4, mode: 'causal' })).toHaveLength(0);
    expect(Array.from(buildAttentionMask({ pastTokens: 0, queryFrames: frames(5), keyFrames: frames(5), tokensPerFrame: 1, mode: 'causal' }))).toEqual([0]);
  });

  it('a hidden entry makes softmax give exactly 0', () => {
    const logits = [3, 1 + H];
    const e = logits.map((l) => Math.exp(l - Math.max(...logits)));
    expect(e[1]! / (e[0]! + e[1]!)).toBe(0);
    expect(Math.fround(H)).toBe(H);
  });

  it('rejects bad sizes and blocks', () => {
    const ok = { pastTokens: 0, queryFrames: frames(0), keyFrames: frames(0), tokensPerFrame: 1, mode: 'causal' } as const;
    expect(() => buildAttentionMask({ ...ok, pastTokens: -1 })).toThrow(/pastTokens must be a non-negative integer, got -1/);
    expect(() => buildAttentionMask({ ...ok, tokensPerFrame: 0 })).toThrow(/tokensPerFrame must be a positive integer/);
    expect(() => buildAttentionMask({ ...ok, tokensPerFrame: 1.5 })).toThrow(RangeError);
    expect(() => buildAttentionMask({ ...ok, keyFrames: frames(0, Number.NaN) })).toThrow(/keyFrames\[1\]\.block must be a finite number/);
  });
});
