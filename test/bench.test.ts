import { describe, expect, it } from 'vitest';
import { asBlockIndex } from '../src/core/domain.js';
import type { Frame, GenerateRequest, RuntimeStats } from '../src/core/api-types.js';
import { median } from '../src/core/median.js';
import { measureGeneration, measurementOf, roundOrder, type MeasurableRuntime } from '../src/bench/measure.js';
import { formatBenchTable } from '../src/bench/report.js';
import { runBench, summarize } from '../src/bench/run-bench.js';

/** A runtime that "runs" 5 forwards per block, each 2 ms in session.run and 3 ms as a task. */
function fakeRuntime(framesPerBlock = 3): MeasurableRuntime & { generations: number } {
  const stats = { ticks: 0, forwards: 0, forwardRunMs: 0, decodeRunMs: 0, encodeRunMs: 0, forwardWorkerMs: 0, forwardTaskMs: 0, exchangeWaitMs: 0, reusedForwards: 0, reusedTogether: 0, featureCacheMs: 0, recaches: 0, recacheTaskMs: 0, batchedCalls: 0 };
  const fake = {
    generations: 0,
    stats: (): RuntimeStats => ({ ...stats }),
    async *generate(request: GenerateRequest): AsyncGenerator<Frame> {
      fake.generations++;
      for (let b = 0; b < request.blocks; b++) {
        stats.forwards += 5;
        stats.forwardRunMs += 10;
        stats.forwardTaskMs += 15;
        await new Promise((r) => setTimeout(r, 1));
        for (let f = 0; f < framesPerBlock; f++) {
          yield { block: asBlockIndex(b), index: b * framesPerBlock + f, width: 1, height: 1, rgb: new Uint8Array(3) };
        }
      }
    },
  };
  return fake;
}

describe('bench figures', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('derives rates and overhead from raw timings', () => {
    const m = measurementOf({ blocks: 2, frames: 6, wallMs: 100, firstFrameMs: 50, forwards: 10, forwardRunMs: 80, forwardTaskMs: 90 });
    expect(m.blocksPerSecond).toBe(20);
    expect(m.framesPerSecond).toBe(60);
    expect(m.msPerForward).toBe(10);
    expect(m.overheadMsPerForward).toBe(1);
    expect(m.overheadPercent).toBeCloseTo(12.5);
  });

  it('measures deltas of the runtime counters around one generation', async () => {
    const runtime = fakeRuntime();
    await measureGeneration(runtime, { seed: 0, blocks: 1, prompt: 'a' });
    const m = await measureGeneration(runtime, { seed: 0, blocks: 4, prompt: 'a' });
    expect([m.blocks, m.frames, m.forwards, m.forwardRunMs, m.forwardTaskMs]).toEqual([4, 12, 20, 40, 60]);
    expect(m.overheadMsPerForward).toBe(1);
    expect(m.firstFrameMs).toBeGreaterThan(0);
    expect(m.firstFrameMs).toBeLessThanOrEqual(m.wallMs);
  });

  it('runs warm-ups unrecorded and summarises repeats', async () => {
    const runtime = fakeRuntime();
    const runs = await runBench(runtime, { blocks: 2, repeats: 3, warmup: 2, seed: 0, prompt: 'a' });
    expect(runtime.generations).toBe(5);
    expect(runs).toHaveLength(3);
    const rows = summarize(runs);
    expect(rows.map((r) => r.metric)).toEqual(['blocks/s', 'FPS', 'ms per forward', 'time to first frame', 'overhead per forward', 'overhead / forward']);
    expect(rows.find((r) => r.metric === 'overhead / forward')!.median).toBeCloseTo(50);
    expect(formatBenchTable(rows).split('\n')).toHaveLength(7);
    await expect(runBench(runtime, { blocks: 2, repeats: 0, warmup: 0, seed: 0, prompt: 'a' })).rejects.toThrow(/"repeats"/);
  });
});

describe('round order', () => {
  it('runs every configuration once a round, starting one further each round, so none always follows the same one', () => {
    expect(roundOrder(3, 0)).toEqual([0, 1, 2]);
    expect(roundOrder(3, 1)).toEqual([1, 2, 0]);
    expect(roundOrder(3, 5)).toEqual([2, 0, 1]);
    const predecessors = new Set([0, 1, 2].map((r) => roundOrder(4, r)[0]));
    expect(predecessors.size).toBe(3);
  });
});
