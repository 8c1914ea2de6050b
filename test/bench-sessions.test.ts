/**
 * The serving benchmark (`bench --sessions`, issue 19): its interval statistics, a tiny run
 * through the CLI on the random-weight model, and the session id in traces of concurrent
 * sessions. No timing assertions and no sleeps.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockIntervals, intervalStats, percentile, roundFigures, type SessionsRecord } from '../src/bench/sessions-bench.js';
import { parseSessionCounts } from '../src/cli/bench-command.js';
import { JITTER_FLOOR_CHUNKS, type JitterFloor } from '../src/bench/jitter-floor.js';
import { createRuntime, type Runtime } from '../src/index.js';
import type { MetaRecord, TraceRecord } from '../src/core/trace-records.js';
import { toJsonl } from '../src/trace/jsonl.js';
import { generations, parseTrace } from '../src/inspector/trace-file.js';
import { runCli } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';

describe('bench --sessions statistics', () => {
  it('percentile interpolates between closest ranks (p50 = median, p100 = max)', () => {
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([5, 1, 9], 0)).toBe(1);
    expect(percentile([5, 1, 9], 100)).toBe(9);
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('block intervals and their p50/p99 per session', () => {
    expect(blockIntervals([5, 15, 35])).toEqual([10, 20]);
    expect(blockIntervals([5])).toEqual([]);
    expect(intervalStats([4])).toBeNull();
    const s = intervalStats([0, 10, 20, 40]);
    expect(s?.count).toBe(3);
    expect(s?.p50Ms).toBe(10);
    expect(s?.p99Ms).toBeCloseTo(19.8);
  });

  it('a round pools intervals, takes per-session FPS as the median and the worst p99/p50', () => {
    const figures = roundFigures({
      sessions: 2,
      parallelism: 0,
      wallMs: 400,
      frames: 8,
      forwards: 10,
      samples: [
        { seed: 0, frames: 4, blockArrivalsMs: [100, 200], endMs: 200, runningAtFirstBlock: 2 },
        { seed: 1, frames: 4, blockArrivalsMs: [100, 200, 300, 400], endMs: 400, runningAtFirstBlock: 2 },
      ],
    });
    expect(figures.aggregateFps).toBe(20);
    expect(figures.perSessionFps).toBe(15); // median of 20 and 10
    expect(figures.p50IntervalMs).toBe(100);
    expect(figures.p99IntervalMs).toBe(100);
    expect(figures.worstP99OverP50).toBe(1);
    expect(figures.concurrentSessions).toBe(2);
  });

  it('parses the session list', () => {
    expect(parseSessionCounts('8,1, 2,4,2')).toEqual([1, 2, 4, 8]);
    expect(() => parseSessionCounts('1,0')).toThrow(/--sessions/);
    expect(() => parseSessionCounts('a')).toThrow(/--sessions/);
    expect(() => parseSessionCounts('')).toThrow(/--sessions/);
  });
});

describe('bench --sessions on the random model', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-sessions-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a record per P level and count, and n = 2 ran two generations at once', async () => {
    const json = join(dir, 'sessions.json');
    const { code, stdout, stderr } = await runCli(['bench', '--sessions', '1,2', '--model', RANDOM_MODEL, '--blocks', '2', '--repeats', '1', '--warmup', '0', '--json', json], 60_000);
    expect(stderr).toContain('block-cascade bench --sessions');
    expect(code).toBe(0);
    expect(stdout).toMatch(/aggregate FPS/);
    expect(stdout).toMatch(/4 P0 sessions ÷ 1: not measured/);
    const report = JSON.parse(await readFile(json, 'utf8')) as { kind: string; lanes: number; maxSessions: number; model: { dir: string }; jitterFloor: JitterFloor; records: SessionsRecord[] };
    expect(report.kind).toBe('sessions');
    // The machine's own jitter beside the verdict: one busy thread per lane, chunks as long as the median interval.
    expect(report.jitterFloor).toMatchObject({ threads: 2, chunks: JITTER_FLOOR_CHUNKS });
    expect(report.jitterFloor.worstP99OverP50).toBeGreaterThanOrEqual(1);
    expect(stdout).toContain(`the machine's own jitter, read it against that: 2 thread(s) of fixed CPU work at once, ${JITTER_FLOOR_CHUNKS} chunks`);
    expect(report.lanes).toBe(2);
    expect(report.maxSessions).toBe(2);
    expect(report.model.dir).toBe('models/random');
    expect(report.records.map((r) => [r.parallelism, r.sessions])).toEqual([[0, 1], [0, 2], [4, 1], [4, 2]]);
    for (const r of report.records) {
      for (const key of ['modelName', 'sessions', 'parallelism', 'lanes', 'aggregateFps', 'perSessionFps', 'p50IntervalMs', 'p99IntervalMs', 'speedupVsOne'] as const) expect(r).toHaveProperty(key);
      expect(r.lanes).toBe(2);
      expect(r.aggregateFps).toBeGreaterThan(0);
      expect(r.perSessionFps).toBeGreaterThan(0);
      expect(r.p99IntervalMs).toBeGreaterThanOrEqual(r.p50IntervalMs);
      // Every session of a round holds a memory set before any block is decoded.
      expect(r.concurrentSessions).toBe(r.sessions);
      if (r.sessions === 1) expect(r.speedupVsOne).toBe(1);
    }
    // Two sessions ran in full: twice the forwards of one.
    for (const p of [0, 4]) {
      const [one, two] = [1, 2].map((n) => report.records.find((r) => r.parallelism === p && r.sessions === n) as SessionsRecord);
      expect(two!.forwards).toBe(2 * one!.forwards);
    }
  }, 60_000);

  it('--model is refused outside --cascade, --sessions and --cluster', async () => {
    const { code, stderr } = await runCli(['bench', '--model', RANDOM_MODEL, '--blocks', '1', '--repeats', '1']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--model is an option of bench --cascade, --sessions and --cluster only/);
  });
});

describe('session ids in traces', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 1, maxSessions: 2 });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('two concurrent sessions tracing into one sink: every record carries its session, and generations() takes them apart', async () => {
    const shared: TraceRecord[] = [];
    const sessions = [0, 1].map((seed) => runtime.session({ seed, blocks: 2, prompt: 'red ball moving left' }, { trace: (r) => shared.push(r) }));
    await Promise.all(sessions.map(async (s) => {
      for await (const _ of s.frames) void _;
    }));
    expect(shared.every((r) => r.session !== undefined)).toBe(true);
    // Interleaved in the sink (both ran at once), apart after the split.
    const parts = generations(parseTrace(toJsonl(shared), 'shared.jsonl'));
    expect(parts.map((p) => p[0]?.session).sort()).toEqual(sessions.map((s) => s.id).sort());
    for (const part of parts) {
      expect(part[0]?.kind).toBe('meta');
      expect(part.at(-1)?.kind).toBe('end');
      expect(new Set(part.map((r) => r.session)).size).toBe(1);
      expect(part.filter((r) => r.kind === 'frame')).toHaveLength(2);
    }
  });

  it('two concurrent traced sessions have meta records with different session ids, and the traces load', async () => {
    const traces: TraceRecord[][] = [[], []];
    const sessions = traces.map((records, i) => runtime.session({ seed: i, blocks: 2, prompt: 'red ball moving left' }, { trace: (r) => records.push(r) }));
    expect(sessions[0]!.id).not.toBe(sessions[1]!.id);
    const running: number[] = [];
    await Promise.all(
      sessions.map(async (s) => {
        for await (const frame of s.frames) if (frame.index === 0) running.push(runtime.runningSessions());
      }),
    );
    expect(running).toEqual([2, 2]);
    const metas = traces.map((records) => records.find((r) => r.kind === 'meta') as MetaRecord);
    expect(metas.map((m) => m.session)).toEqual(sessions.map((s) => s.id));
    // generate() numbers its generations from the same counter.
    const records: TraceRecord[] = [];
    for await (const _ of runtime.generate({ seed: 3, blocks: 1, prompt: 'red ball moving left' }, { trace: (r) => records.push(r) }));
    const third = (records[0] as MetaRecord).session as number;
    expect(third).toBeGreaterThan(Math.max(...sessions.map((s) => s.id)));
    // The reader keeps the field, and still loads a trace recorded before it.
    const parsed = parseTrace(toJsonl(traces[0]!), 'a.jsonl');
    expect((parsed[0] as MetaRecord).session).toBe(sessions[0]!.id);
    const { session: _, ...old } = metas[0]!;
    const oldTrace = toJsonl([old as unknown as TraceRecord, ...traces[0]!.slice(1)]);
    expect((parseTrace(oldTrace, 'old.jsonl')[0] as MetaRecord).session).toBeUndefined();
    expect(() => parseTrace(toJsonl([{ ...metas[0]!, session: 'x' } as unknown as TraceRecord]), 'bad.jsonl')).toThrow(/session/);
  });
});
