import { describe, expect, it } from 'vitest';
import { forwardMsFromFps, impliedExchangeMs, simulate, tickCost } from '../src/sim/simulate.js';

const base = { lanes: 5, exec: 'lanes' as const, forwardMs: 10, exchangeMs: 0, layers: 30, blocks: 8, videoFramesPerBlock: 12, latentFramesPerBlock: 1 };

describe('simulator (real actors, virtual clock)', () => {
  it('P0 on one lane takes blocks × 5 forwards', async () => {
    const r = await simulate({ ...base, parallelism: 0, lanes: 1, exec: 'joint' });
    expect(r.virtualMs).toBe(8 * 5 * 10);
    expect(r.ticks).toBe(40);
    expect(r.maxInFlight).toBe(1);
  });

  it('P4 on five lanes with free exchange runs (B − 1) + 5 ticks of one forward each, five blocks in flight', async () => {
    for (const blocks of [8, 50]) {
      const r = await simulate({ ...base, blocks, parallelism: 4 });
      expect(r.ticks).toBe(blocks - 1 + 5);
      expect(r.virtualMs).toBe((blocks + 4) * 10);
      expect(r.maxInFlight).toBe(5);
    }
  });

  it('charges the exchange per layer only when more than one lane works', () => {
    expect(tickCost({ members: [{}] as never }, { ...base, parallelism: 4, exchangeMs: 2 })).toBe(10);
    expect(tickCost({ members: [{}, {}, {}] as never }, { ...base, parallelism: 4, exchangeMs: 2 })).toBe(10 + 60);
  });

  it('recovers the exchange cost it was given from the FPS it produces', async () => {
    const forwardMs = forwardMsFromFps(16);
    expect(forwardMs).toBe(150);
    const target = await simulate({ ...base, blocks: 60, forwardMs, exchangeMs: 7, parallelism: 4 });
    const implied = await impliedExchangeMs({ ...base, blocks: 60, forwardMs, targetFps: target.fps });
    expect(implied).toBeCloseTo(7, 3);
  });
});

describe('exchange cost by bytes', () => {
  it('counts what one lane receives per layer and converts it to time and back', async () => {
    const { exchangeBytesPerLayer, exchangeMsPerLayer, impliedGbps } = await import('../src/sim/exchange-cost.js');
    // Five blocks over five lanes: each lane receives the K and V of the four others.
    const bytes = exchangeBytesPerLayer({ tokensPerBlock: 10, width: 8, bytesPerValue: 2 }, 5, 5);
    expect(bytes).toBe(4 * 10 * 8 * 2 * 2);
    expect(exchangeMsPerLayer(1e6, { latencyMs: 0.5, gbps: 1 })).toBeCloseTo(1.5, 12);
    expect(impliedGbps(1e6, 1.5, 0.5)).toBeCloseTo(1, 12);
  });
});
