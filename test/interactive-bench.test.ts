import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { formatInteractiveTable, interactiveRun, runInteractiveBench } from '../src/runtime/bench/interactive-bench.js';
import { RANDOM_MODEL } from './support/models.js';

describe('interactive benchmark', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('measures the rhythm around a live switch; a cascade switches blocks further ahead than P0', async () => {
    const p0 = await interactiveRun(runtime, { parallelism: 0 }, { blocks: 14, switchAt: 5, seed: 1 });
    const p4 = await interactiveRun(runtime, { parallelism: 4, attention: 'causal', exec: 'joint' }, { blocks: 14, switchAt: 5, seed: 1 });
    for (const run of [p0, p4]) {
      expect(run.steadyIntervalMs).toBeGreaterThan(0);
      expect(run.switchGapMs).toBeGreaterThan(0);
      expect(run.switchToNewPromptMs).toBeGreaterThan(0);
    }
    // P0 admits block 5 only after block 4 is done: the switch lands on block 5 or 6. At P4 up
    // to four more blocks are already admitted when block 4 is decoded.
    expect(p0.fromBlock).toBeGreaterThanOrEqual(5);
    expect(p0.fromBlock).toBeLessThanOrEqual(6);
    expect(p4.fromBlock).toBeGreaterThan(p0.fromBlock);
    await expect(interactiveRun(runtime, { parallelism: 4, attention: 'causal', exec: 'joint' }, { blocks: 8, switchAt: 5, seed: 1 })).rejects.toThrow(/use more blocks/);
    const records = await runInteractiveBench(new Map([[1, runtime]]), [{ label: 'P0', lanes: 1, cascade: { parallelism: 0 } }], { blocks: 8, switchAt: 4, repeats: 1, warmup: 0 });
    expect(records[0]?.gapRatio).toBeCloseTo((records[0]?.switchGapMs ?? 0) / (records[0]?.steadyIntervalMs ?? 1), 6);
    expect(formatInteractiveTable(records)).toContain('gap ÷ steady');
  });
});
