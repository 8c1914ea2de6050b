/** SSIM of decoded frames: 1 for identical videos, lower for noise, lower still for more noise. */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../src/core/api-types.js';
import { videoSsim } from '../src/quality/ssim.js';
import { asBlockIndex } from '../src/core/domain.js';

const frame = (f: (x: number, y: number, c: number) => number): Frame => {
  const rgb = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) rgb[(y * 32 + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(f(x, y, c))));
  return { block: asBlockIndex(0), index: 0, width: 32, height: 32, rgb };
};

describe('videoSsim', () => {
  it('is 1 for identical frames and falls with the amount of noise', () => {
    const base = frame((x, y) => 128 + 60 * Math.sin(x / 3) * Math.cos(y / 4));
    const noise = (k: number) => frame((x, y, c) => 128 + 60 * Math.sin(x / 3) * Math.cos(y / 4) + k * Math.sin(x * 12.9898 + y * 78.233 + c));
    expect(videoSsim([base], [base])).toBeCloseTo(1, 12);
    const small = videoSsim([noise(5)], [base]);
    const large = videoSsim([noise(40)], [base]);
    expect(small).toBeLessThan(1);
    expect(large).toBeLessThan(small);
    expect(() => videoSsim([base], [])).toThrow(/1 frames against 0/);
  });
});
