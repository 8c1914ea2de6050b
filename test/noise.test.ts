import { describe, expect, it } from 'vitest';
import { gaussianNoise, NoiseStream, philox4x32 } from '../src/core/noise.js';

describe('counter-based noise', () => {
  it('matches the Random123 known-answer vectors for Philox4x32-10', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect([...out]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect([...out]).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect([...out]).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });

  it('depends only on (seed, block, step, stream), not on call order or length', () => {
    const a = gaussianNoise({ seed: 7, block: 3, step: 1 }, new Float32Array(10));
    gaussianNoise({ seed: 7, block: 4, step: 1 }, new Float32Array(10));
    const b = gaussianNoise({ seed: 7, block: 3, step: 1 }, new Float32Array(25));
    expect([...b.subarray(0, 10)]).toEqual([...a]);
    for (const other of [{ seed: 8, block: 3, step: 1 }, { seed: 7, block: 2, step: 1 }, { seed: 7, block: 3, step: 2 }, { seed: 7, block: 3, step: 1, stream: NoiseStream.weights }]) {
      expect([...gaussianNoise(other, new Float32Array(10))]).not.toEqual([...a]);
    }
  });

  it('is standard normal', () => {
    const x = gaussianNoise({ seed: 1, block: 0, step: 0 }, new Float32Array(200_000));
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });

  it('splits seeds above 2^32 over both key words', () => {
    const low = gaussianNoise({ seed: 5, block: 0, step: 0 }, new Float32Array(4));
    const high = gaussianNoise({ seed: 5 + 2 ** 32, block: 0, step: 0 }, new Float32Array(4));
    expect([...high]).not.toEqual([...low]);
  });
});
