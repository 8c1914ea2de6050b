/**
 * The machine's jitter floor (`src/bench/jitter-floor.ts`), which `bench --sessions` prints beside
 * its p99/p50 verdict: real worker threads timing fixed work. No timing assertions: the figures'
 * relations and shapes only.
 */
import { describe, expect, it } from 'vitest';
import { measureJitterFloor, type JitterFloor } from '../src/bench/jitter-floor.js';
import { formatSessionsTable, type SessionsRecord } from '../src/bench/sessions-bench.js';

describe('measureJitterFloor', () => {
  it('times every chunk of every thread: the pooled p99 is at least the median, each thread p99/p50 at least 1', async () => {
    const floor = await measureJitterFloor({ threads: 2, chunks: 40, chunkMs: 1 });
    expect(floor).toMatchObject({ threads: 2, chunks: 40, chunkMs: 1 });
    expect(floor.p50Ms).toBeGreaterThan(0);
    expect(floor.p99Ms).toBeGreaterThanOrEqual(floor.p50Ms);
    expect(floor.worstP99OverP50).toBeGreaterThanOrEqual(1);
  });

  it('refuses options out of range, naming the field', async () => {
    await expect(measureJitterFloor({ threads: 0, chunks: 40, chunkMs: 1 })).rejects.toThrow(/threads must be an integer from 1 to 64, got 0/);
    await expect(measureJitterFloor({ threads: 1, chunks: 1, chunkMs: 1 })).rejects.toThrow(/chunks must be an integer ≥ 2, got 1/);
    await expect(measureJitterFloor({ threads: 1, chunks: 40, chunkMs: 0 })).rejects.toThrow(/chunkMs must be a number of milliseconds/);
    await expect(measureJitterFloor({ threads: 1, chunks: 40, chunkMs: Number.NaN })).rejects.toThrow(/chunkMs/);
  });

  it('is printed under the sessions table, after the p99/p50 verdict', () => {
    const record: SessionsRecord = {
      modelName: 'm', sessions: 1, parallelism: 0, attention: 'bidirectional', exec: 'joint', lanes: 2, blocks: 16, repeats: 3,
      aggregateFps: 100, perSessionFps: 100, p50IntervalMs: 10, p99IntervalMs: 17, worstP99OverP50: 1.7, concurrentSessions: 1, forwards: 80, speedupVsOne: 1, perSessionVsOne: 1,
    };
    const floor: JitterFloor = { threads: 2, chunks: 300, chunkMs: 10, p50Ms: 10, p99Ms: 14.1, worstP99OverP50: 1.43 };
    const lines = formatSessionsTable([record], floor).split('\n');
    const verdict = lines.findIndex((l) => l.startsWith('worst session p99'));
    expect(lines[verdict]).toContain('1.70 (goal ≤ 1.5) NOT met');
    expect(lines[verdict + 1]).toBe("the machine's own jitter, read it against that: 2 thread(s) of fixed CPU work at once, 300 chunks of 10.0 ms each: worst p99/p50 1.43");
    expect(formatSessionsTable([record])).not.toContain("machine's own jitter");
  });
});
