import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { formatInteractiveTable, interactiveRun, runInteractiveBench, summarizeInteractive, type InteractiveRun } from '../src/bench/interactive-bench.js';
import { RANDOM_MODEL } from './support/models.js';

describe('interactive benchmark', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('measures a live switch: P0 re-caches (or not, when off); a cascade switches blocks further ahead', async () => {
    const o = { blocks: 14, switchAt: 5, seed: 1 };
    const recache = await interactiveRun(runtime, { parallelism: 0, recache: 'on' }, o);
    const plain = await interactiveRun(runtime, { parallelism: 0, recache: 'off' }, o);
    const p4 = await interactiveRun(runtime, { parallelism: 4, attention: 'causal', exec: 'joint' }, o);
    for (const run of [recache, plain, p4]) {
      expect(run.intervalsMs).toHaveLength(o.blocks);
      expect(run.intervalsMs.slice(1).every((ms) => ms > 0)).toBe(true);
      expect(run.switchToNewPromptMs).toBeGreaterThan(0);
    }
    expect(recache.recacheMs).toBeGreaterThan(0);
    expect(plain.recacheMs).toBe(0);
    expect(p4.recacheMs).toBe(0);
    // P0 admits block 5 only after block 4 is done: the switch lands on block 5 or 6. At P4 up
    // to four more blocks are already admitted when block 4 is decoded.
    expect(recache.fromBlock).toBeGreaterThanOrEqual(5);
    expect(recache.fromBlock).toBeLessThanOrEqual(6);
    expect(p4.fromBlock).toBeGreaterThan(recache.fromBlock);
    await expect(interactiveRun(runtime, { parallelism: 4, attention: 'causal', exec: 'joint' }, { blocks: 8, switchAt: 5, seed: 1 })).rejects.toThrow(/use more blocks/);
    const records = await runInteractiveBench(new Map([[1, runtime]]), [{ label: 'P0', lanes: 1, cascade: { parallelism: 0 } }], { blocks: 8, switchAt: 4, repeats: 1, warmup: 0 });
    expect(records[0]?.gapRatio).toBeCloseTo((records[0]?.switchGapMs ?? 0) / (records[0]?.steadyIntervalMs ?? 1), 6);
    expect(formatInteractiveTable(records)).toContain('gap ÷ steady');
  });

  it('summarises a stall that recurs at the switch, not a hiccup of one repeat', () => {
    const config = { label: 'x', lanes: 1, cascade: {} };
    // 12 blocks at 10 ms; the switch is asked after block 5; a 25 ms stall at the first new block.
    const run = (fromBlock: number, hiccupAt?: number): InteractiveRun => ({
      intervalsMs: Array.from({ length: 12 }, (_, b) => (b === 0 ? Number.NaN : b === fromBlock ? 25 : b === hiccupAt ? 40 : 10)),
      switchToNewPromptMs: 30,
      fromBlock,
      recacheMs: 15,
    });
    // The first new block varies (6 or 7) between repeats; one repeat hiccups before the switch.
    const stalled = summarizeInteractive(config, [run(6), run(7, 4), run(6), run(7), run(6)], 6);
    expect(stalled.steadyIntervalMs).toBe(10);
    expect(stalled.switchGapMs).toBe(25);
    expect(stalled.gapRatio).toBe(2.5);
    expect(stalled.controlRatio).toBe(1);
    expect(stalled.fromBlock).toBe(6);
    // A hiccup in one repeat right after the switch does not read as a stall.
    const smooth = (fromBlock: number, hiccupAt?: number): InteractiveRun => ({ ...run(fromBlock), intervalsMs: run(99, hiccupAt).intervalsMs });
    const calm = summarizeInteractive(config, [smooth(6, 6), smooth(6), smooth(6), smooth(6), smooth(6)], 6);
    expect(calm.gapRatio).toBe(1);
  });
});
