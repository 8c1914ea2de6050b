/**
 * The soak benchmark on a few hundred blocks of the random-weight model: its non-timing
 * invariants only (actors bounded by the cascade window, shared memory constant, switches
 * delivered, the report's fields). Heap and RSS slopes are reported, never asserted here.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { runSoak, formatSoakTable, SOAK_CASCADE, type SoakReport } from '../src/bench/soak-bench.js';
import { leastSquaresSlope } from '../src/bench/least-squares.js';
import { LATENT_SLOTS } from '../src/engine/memory/memory-plan.js';
import { RANDOM_MODEL } from './support/models.js';
import { runCli } from './support/cli.js';

const BLOCKS = 300;
const SWITCH_EVERY = 50;

/**
 * Actors a generation may hold at once, whatever its length: the supervisor and its KV pool,
 * and per latent slot (blocks in flight or waiting for their decode) a block actor, its
 * forward and a decode.
 */
const ACTOR_BOUND = 2 + 3 * LATENT_SLOTS;

describe('soak benchmark', () => {
  let runtime: Runtime;
  let report: SoakReport;
  beforeAll(async () => {
    runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 2 });
    report = await runSoak(runtime, { blocks: BLOCKS, switchEvery: SWITCH_EVERY, sampleEvery: 20 });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('reports the required fields and one sample per sampling interval', () => {
    for (const field of ['heapSlopeKbPer1000Blocks', 'rssSlopeKbPer1000Blocks', 'maxLiveActors', 'sharedBytesStart', 'sharedBytesEnd'] as const) {
      expect(typeof report[field]).toBe('number');
      expect(Number.isFinite(report[field])).toBe(true);
    }
    expect(report.samples.map((s) => s.block)).toEqual(Array.from({ length: BLOCKS / 20 }, (_, i) => i * 20));
    expect(JSON.parse(JSON.stringify(report)).samples).toHaveLength(BLOCKS / 20);
    expect(formatSoakTable(report)).toContain('live actors');
  });

  it('keeps the live actors bounded by the cascade window, not the block count', () => {
    expect(report.maxLiveActors).toBeGreaterThan(2);
    expect(report.maxLiveActors).toBeLessThanOrEqual(ACTOR_BOUND);
    expect(runtime.liveActors()).toBe(0);
  });

  it('holds the same shared memory from start to end', () => {
    expect(report.sharedBytesStart).toBeGreaterThan(0);
    expect(report.sharedBytesEnd).toBe(report.sharedBytesStart);
    expect(new Set(report.samples.map((s) => s.sharedBytes))).toEqual(new Set([report.sharedBytesStart]));
  });

  it('switched the prompt every 50 blocks, each switch reported', () => {
    expect(report.switchesRequested).toBe(Math.floor((BLOCKS - 1) / SWITCH_EVERY));
    expect(report.switchEvents).toBe(report.switchesRequested);
  });

  it('liveActors() still sees the running generation after one waiting behind it is aborted', async () => {
    const request = { seed: 1, blocks: 6, prompt: 'red ball moving left' };
    const controller = new AbortController();
    let during = -1;
    for await (const frame of runtime.generate(request, { cascade: SOAK_CASCADE })) {
      if (frame.block !== 2 || controller.signal.aborted) continue;
      // Started now, it waits for the running generation; aborted, it ends without running.
      const waiting = runtime.generate(request, { signal: controller.signal }).next();
      controller.abort();
      await expect(waiting).rejects.toThrow();
      during = runtime.liveActors();
    }
    expect(during).toBeGreaterThan(2);
    expect(runtime.liveActors()).toBe(0);
  });
});

describe('bench --soak', () => {
  it('runs on the default model with 2 lanes and writes the figures and samples', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'soak-')), 'soak.json');
    const { code, stdout, stderr } = await runCli(['bench', '--soak', '--blocks', '60', '--sample-every', '10', '--switch-every', '25', '--json', json]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('2 lane(s), P4 bidirectional joint, 60 blocks');
    expect(stdout).toMatch(/live actors \(max\)\s+\d+/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report).toMatchObject({ lanes: 2, blocks: 60, sampleEvery: 10, switchEvery: 25, switchesRequested: 2, switchEvents: 2 });
    expect(report.sharedBytesEnd).toBe(report.sharedBytesStart);
    expect(report.maxLiveActors).toBeLessThanOrEqual(ACTOR_BOUND);
    expect(report.samples).toHaveLength(6);
  });
});

describe('leastSquaresSlope', () => {
  it('fits a line, and gives NaN without two distinct x', () => {
    expect(leastSquaresSlope([0, 100, 200], [10, 20, 30])).toBeCloseTo(0.1);
    expect(leastSquaresSlope([0, 1, 2, 3], [1, 3, 1, 3])).toBeCloseTo(0.4);
    expect(leastSquaresSlope([5], [1])).toBeNaN();
    expect(leastSquaresSlope([5, 5], [1, 2])).toBeNaN();
  });
});
