/**
 * The cluster benchmark (`bench --cluster`, issue 20): a tiny run through the CLI on the
 * random-weight model — its own nats-server, one and then two worker processes, one session of
 * 8 blocks snapshotted every 2, one repeat — checking the report's fields and that every
 * session's frames, the failed-over one's included, are byte-identical to a local run. No
 * timing assertions.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatClusterTable, parseCounts, sameFrames, type ClusterBenchRecord } from '../src/bench/cluster-bench.js';
import { natsServerBinary, NatsServerNotFoundError } from '../src/bench/nats-server.js';
import { asBlockIndex } from '../src/core/domain.js';
import { runCli } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';

describe('bench --cluster helpers', () => {
  it('parses worker and session lists, sorted and deduplicated; anything else names the flag', () => {
    expect(parseCounts('3,1,2,1', '--workers')).toEqual([1, 2, 3]);
    expect(() => parseCounts('0,2', '--workers')).toThrow(/--workers/);
    expect(() => parseCounts('', '--sessions')).toThrow(/--sessions/);
  });

  it('compares frames by index, block and bytes', () => {
    const f = (index: number, byte: number) => ({ index, block: asBlockIndex(index >> 1), width: 1, height: 1, rgb: new Uint8Array([byte, 0, 0]) });
    expect(sameFrames([f(0, 1), f(1, 2)], [f(0, 1), f(1, 2)])).toBe(true);
    expect(sameFrames([f(0, 1), f(1, 2)], [f(0, 1), f(1, 3)])).toBe(false);
    expect(sameFrames([f(0, 1)], [f(0, 1), f(1, 2)])).toBe(false);
  });

  it('no nats-server binary is a typed error saying how to get one', () => {
    expect(() => natsServerBinary('/nonexistent-dir', [])).toThrow(NatsServerNotFoundError);
    expect(() => natsServerBinary('/nonexistent-dir', [])).toThrow(/apt-get install nats-server/);
  });
});

describe('bench --cluster through the CLI', () => {
  let dir: string;
  let report: { kind: string; notes: string[]; records: ClusterBenchRecord[] };
  let stdout = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bc-bench-cluster-'));
    const json = join(dir, 'cluster.json');
    // One warm-up round: with 2 workers it runs a session on each, more than --sessions' 1 (a
    // reference for the second session was once missing there).
    const result = await runCli(['bench', '--cluster', '--workers', '1,2', '--sessions', '1', '--blocks', '8', '--snapshot-every', '2', '--repeats', '1', '--warmup', '1', '--model', RANDOM_MODEL, '--json', json], 90_000);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    stdout = result.stdout;
    report = JSON.parse(await readFile(json, 'utf8'));
  }, 100_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes one record per (workers, sessions) with every field', () => {
    expect(report.kind).toBe('cluster');
    expect(report.records.map((r) => [r.workers, r.sessions])).toEqual([[1, 1], [2, 1]]);
    for (const r of report.records) {
      expect(r.modelName).toBe('block-cascade-default');
      expect(r.aggregateFps).toBeGreaterThan(0);
      expect(r.placementMs).toBeGreaterThan(0);
      expect(r.snapshotEvery).toBe(2);
      // The client's default: P0 sessions store K/V every 16 blocks.
      expect(r.keyframeEvery).toBe(16);
      expect(r.snapshotBytesPerBlock).toBeGreaterThan(0);
      expect(r.snapshotMsPerBlock).toBeGreaterThan(0);
      expect(r.aggregateFpsNoSnapshots).toBeGreaterThan(0);
      expect(Number.isFinite(r.snapshotCostPercent)).toBe(true);
      expect(r.failoverGapMs).toBeGreaterThan(0);
      // Killed at the middle frame (block 4 of 8), past the snapshots of blocks 2 and 4.
      expect(r.resumedFromSnapshot).toBe('1/1');
      expect(r.replayMsPerBlock).toBeGreaterThan(0);
      // Each round's own figures: the kill comes before the detection, the placement and the frame.
      expect(r.failovers).toHaveLength(1);
      for (const f of r.failovers) {
        expect(f.detectMs).toBeGreaterThan(0);
        expect(f.placedMs).toBeGreaterThanOrEqual(f.detectMs);
        expect(f.gapMs).toBeGreaterThanOrEqual(f.placedMs);
      }
      expect(r.failoverGapMs).toBe(r.failovers[0]?.gapMs);
      expect(r.framesIdentical).toBe(true);
    }
    // One worker: the session waits for the restarted one; two: it moves to the survivor.
    expect(report.records.map((r) => r.failoverTo)).toEqual(['restarted', 'survivor']);
    expect(report.notes.join(' ')).toMatch(/snapshotCostPercent/);
  });

  it('prints the table the records make', () => {
    expect(stdout).toContain(formatClusterTable(report.records).split('\n')[0] as string);
    expect(stdout).toMatch(/snapshot cost: wall time of a round with snapshots/);
  });
});
