/** The per-layer exchange's arrival bits: a lane waits only for the lanes whose frames it reads. */
import { describe, expect, it } from 'vitest';
import { abortExchange, allocateExchange, arriveAndWait, resetExchange } from '../src/engine/lanes/exchange.js';
import type { ModelManifest } from '../src/core/manifest-types.js';

const manifest = { layers: 2, heads: 1, headDim: 2, tokensPerFrame: 1 } as unknown as ModelManifest;

describe('arriveAndWait', () => {
  it('the lane holding the oldest frames does not wait for the others; a later one waits for the earlier ones', () => {
    const x = allocateExchange(manifest, 4);
    // Lane 0 of two reads only its own frames: it passes layer 0 and 1 while lane 1 has not come.
    expect(arriveAndWait(x, 0, 0, 1)).toBeGreaterThanOrEqual(0);
    expect(arriveAndWait(x, 1, 0, 1)).toBeGreaterThanOrEqual(0);
    // Lane 1 reads lane 0's frames: lane 0 has arrived at both layers.
    expect(arriveAndWait(x, 0, 1, 2)).toBeGreaterThanOrEqual(0);
    expect(arriveAndWait(x, 1, 1, 2)).toBeGreaterThanOrEqual(0);
  });

  it('names the lanes that never came, stops at an aborted tick, and forgets arrivals at a reset', () => {
    const x = allocateExchange(manifest, 4);
    arriveAndWait(x, 0, 0, 1);
    // Lane 2 of three reads lanes 0–2: lane 0 came, lane 1 never does.
    expect(() => arriveAndWait(x, 0, 2, 3, 20)).toThrow(/lane 2 waited 20 ms for lanes 1$/);
    resetExchange(x);
    // Lane 0's arrival at layer 0 belonged to the tick before.
    expect(() => arriveAndWait(x, 0, 1, 2, 20)).toThrow(/for lanes 0$/);
    abortExchange(x);
    expect(() => arriveAndWait(x, 1, 1, 2)).toThrow(/another lane failed/);
    expect(() => arriveAndWait(x, 1, 31, 1)).toThrow(RangeError);
  });
});
