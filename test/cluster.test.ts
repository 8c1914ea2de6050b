/**
 * The cluster against a real nats-server and real worker processes: placement by capacity, no
 * capacity, a worker killed mid-session (P0, P4, after a live switch) and a server restart, each
 * session's frames compared byte for byte with the same request on a local runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/api/runtime.js';
import { connect as natsConnect } from '@nats-io/transport-node';
import { connect, type Cluster, type ClusterSession } from '../src/cluster/client.js';
import type { Frame, GenerateRequest } from '../src/core/api-types.js';
import { NoCapacityError } from '../src/core/errors.js';
import type { SessionOptions } from '../src/core/session-types.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { expectSameFrames, logged, spawnWorker, stopWorker, type WorkerProcess } from './support/cluster-processes.js';
import { RANDOM_MODEL } from './support/models.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';

describe('cluster over a real nats-server', () => {
  let server: NatsServer;
  let cluster: Cluster;
  let local: Runtime;
  const workers = new Map<string, WorkerProcess>();
  const gaps: Record<string, number> = {};

  const reference = async (request: GenerateRequest, options: SessionOptions = {}) => {
    const frames: Frame[] = [];
    for await (const frame of local.generate(request, options)) frames.push(frame);
    return frames;
  };

  /** Waits (on the KV entries) until every worker is registered with no session. */
  const allIdle = async () => {
    for (;;) {
      const list = await cluster.workers();
      if (list.length === workers.size && list.every((w) => w.active === 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /**
   * Runs a session, calling `at(frame)` as each frame is read (awaited: the consumer stops reading
   * meanwhile); measures the failover gap: from the frame where `at` returned true (it killed the
   * worker or stopped the server) to reading the first frame the new worker sent.
   */
  const run = async (session: ClusterSession, at: (frame: Frame) => Promise<boolean | void> = async () => {}) => {
    const frames: Frame[] = [];
    let markedAt: number | null = null;
    let gap: number | null = null;
    for await (const frame of session.frames) {
      frames.push(frame);
      const moved = session.failovers[0];
      if (gap === null && markedAt !== null && moved && frame.index >= moved.atFrame) gap = Date.now() - markedAt;
      if ((await at(frame)) === true) markedAt = Date.now();
    }
    return { frames, gap };
  };

  beforeAll(async () => {
    server = await startNatsServer();
    const started = await Promise.all(['w1', 'w2', 'w3'].map((id) => spawnWorker(server.url, id)));
    for (const w of started) workers.set(w.id, w);
    [cluster, local] = await Promise.all([connect({ servers: server.url }), createRuntime({ lanes: 1, model: RANDOM_MODEL })]);
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
    await local?.close();
    await Promise.all([...workers.values()].map(async (w) => {
      w.child.kill('SIGTERM');
      await w.exited;
    }));
    await server?.close();
    console.log('failover gaps (kill or server stop → first frame of the new worker), ms:', gaps);
  }, 30_000);

  /**
   * Kills the worker running `session` at frame 20, or, when snapshots are on and the client has
   * not yet been told of one it could resume from (the worker stores them off the generation's
   * path), at the first frame after it where it has; with `parts`, one that refers to earlier
   * snapshots (incremental: the resume merges them).
   */
  const killAt20 = (session: ClusterSession, snapshots: boolean | 'parts' = true) => {
    let done = false;
    return async (frame: Frame) => {
      if (done || frame.index < 20) return false;
      const usable = session.snapshots.filter((s) => s.firstFrame <= frame.index).at(-1);
      if (snapshots !== false && (usable === undefined || (snapshots === 'parts' && usable.parts.length === 0))) return false;
      done = true;
      const worker = workers.get(session.worker as string) as WorkerProcess;
      await stopWorker(worker);
      workers.delete(worker.id);
      return true;
    };
  };
  const respawnMissing = async () => {
    for (const id of ['w1', 'w2', 'w3']) if (!workers.has(id)) workers.set(id, await spawnWorker(server.url, id));
    await allIdle();
  };

  it('refuses a second worker under a running worker\'s id; places one session on each of three workers (max-sessions 1), and a fourth fails with NoCapacityError', async () => {
    // The twin exits and removes nothing: w1 stays registered and takes its session below.
    const twin = await runCli(['worker', '--nats', server.url, '--model', RANDOM_MODEL, '--id', 'w1'], 30_000);
    expect(twin.code, twin.stderr).toBe(1);
    expect(twin.stderr).toContain('worker id "w1" is in use');
    await allIdle();
    // Placement only: on a loaded machine a worker can miss its heartbeats or answer late, and
    // this test must not read a failover (tested below) as a placement.
    const patient = await connect({ servers: server.url, deadAfterMs: 30_000, openTimeoutMs: 15_000, staleAfterMs: 15_000 });
    try {
      const request = { seed: 3, blocks: 40, prompt: 'red ball moving left' };
      const sessions = [1, 2, 3].map(() => patient.session(request));
      const iterators = sessions.map((s) => s.frames[Symbol.asyncIterator]());
      await Promise.all(iterators.map((it) => it.next()));
      expect(new Set(sessions.map((s) => s.worker))).toEqual(new Set(['w1', 'w2', 'w3']));
      const fourth = patient.session(request).frames[Symbol.asyncIterator]();
      await expect(fourth.next()).rejects.toBeInstanceOf(NoCapacityError);
      await Promise.all(iterators.map((it) => it.return?.()));
    } finally {
      await patient.close();
    }
    await allIdle();
  });

  it('P0: a worker killed with SIGKILL mid-session; the session moves and its frames are byte-identical to a local run', async () => {
    const request = { seed: 7, blocks: 30, prompt: 'red ball moving left' };
    const want = await reference(request);
    const session = cluster.session(request);
    const heard: number[] = [];
    session.onSnapshot((s) => heard.push(s.firstFrame));
    const { frames, gap } = await run(session, killAt20(session));
    // At least the kill's; on a loaded machine a late heartbeat can add a harmless one.
    expect(session.failovers.length).toBeGreaterThanOrEqual(1);
    // At P0 with keyframes a snapshot every block by default (the worker's choice): the kill's
    // move resumed from one, not from block 0.
    expect(session.snapshots.length).toBeGreaterThan(0);
    // (both workers' snapshots together: the new one snapshots again the blocks it makes again)
    const blocks = [...new Set(session.snapshots.map((s) => s.block))].sort((a, b) => a - b);
    expect(blocks.length).toBeGreaterThan(1);
    expect(blocks.slice(1).map((b, i) => b - (blocks[i] as number))).toEqual(blocks.slice(1).map(() => 1));
    // Every stored snapshot was told to the listener as it came.
    expect(heard).toEqual(session.snapshots.map((s) => s.firstFrame));
    expect(session.failovers[0]?.fromSnapshot).toBeGreaterThan(0);
    expectSameFrames(frames, want);
    gaps.P0 = gap as number;
    await respawnMissing();
  });

  it('P4: a worker killed with SIGKILL mid-session; frames byte-identical to a local run', async () => {
    const request = { seed: 8, blocks: 30, prompt: 'red ball moving left' };
    const options = { cascade: { parallelism: 4 } } as const;
    const want = await reference(request, options);
    const session = cluster.session(request, options);
    const { frames, gap } = await run(session, killAt20(session, 'parts'));
    // At least the kill's; on a loaded machine a late heartbeat can add a harmless one.
    expect(session.failovers.length).toBeGreaterThanOrEqual(1);
    // Snapshots every 4 blocks at P4 by default (each holds the K/V rows cached since the last).
    // (the first worker's: a name is <session key>.<writer>.s<seq>)
    const writer = (name: string) => name.split('.').at(-2);
    const first = session.snapshots.filter((s) => writer(s.name) === writer(session.snapshots[0]?.name ?? '')).map((s) => s.block);
    expect(first.length).toBeGreaterThan(1);
    expect(first.slice(1).filter((b, i) => b - (first[i] as number) === 1)).toEqual([]);
    // Resumed from a snapshot merged with the earlier ones holding the sink's and older frames' K/V.
    const from = session.snapshots.filter((s) => s.block === session.failovers[0]?.fromSnapshot).at(-1);
    expect(from?.parts.length).toBeGreaterThan(0);
    expectSameFrames(frames, want);
    gaps.P4 = gap as number;
    await respawnMissing();
  });

  it('P0 with K/V keyframes further apart than the session: every snapshot holds latents only; a killed worker\'s session resumes from one, frames identical', async () => {
    const request = { seed: 12, blocks: 30, prompt: 'red ball moving left' };
    const want = await reference(request);
    const keyframed = await connect({ servers: server.url, snapshotEvery: 1, keyframeEvery: 64 });
    try {
      const session = keyframed.session(request);
      const { frames } = await run(session, killAt20(session));
      expect(session.failovers.length).toBeGreaterThanOrEqual(1);
      // The start is the only keyframe: each snapshot replays the cache steps of every block before it.
      expect(session.snapshots.length).toBeGreaterThan(0);
      for (const s of session.snapshots) expect(s.replays).toBeGreaterThan(0);
      expect(session.failovers[0]?.fromSnapshot).toBeGreaterThan(0);
      expectSameFrames(frames, want);
    } finally {
      await keyframed.close();
    }
    await respawnMissing();
  });

  it('a live switch made before the kill is kept by the replay', async () => {
    const request = { seed: 9, blocks: 30, prompt: 'red ball moving left' };
    const session = cluster.session(request);
    let fromBlock = -1;
    const killer = killAt20(session);
    const { frames, gap } = await run(session, async (frame) => {
      if (frame.index === 5) fromBlock = (await session.switchPrompt('blue ball moving up')).fromBlock;
      return killer(frame);
    });
    expect(fromBlock).toBeGreaterThan(1);
    // At least the kill's; on a loaded machine a late heartbeat can add a harmless one.
    expect(session.failovers.length).toBeGreaterThanOrEqual(1);
    // The switch (block ≥ 2) is in the snapshot's timeline, or re-sent as a scheduled switch after it.
    expect(session.failovers[0]?.fromSnapshot).toBeGreaterThan(0);
    expectSameFrames(frames, await reference({ ...request, switches: [{ atBlock: fromBlock, prompt: 'blue ball moving up' }] }));
    gaps.switch = gap as number;
    await respawnMissing();
  });

  it('without snapshots (snapshotEvery 0) a killed worker\'s session is replayed from block 0, frames identical', async () => {
    const request = { seed: 11, blocks: 30, prompt: 'red ball moving left' };
    const want = await reference(request);
    const plain = await connect({ servers: server.url, snapshotEvery: 0 });
    try {
      const session = plain.session(request);
      const { frames, gap } = await run(session, killAt20(session, false));
      expect(session.failovers.length).toBeGreaterThanOrEqual(1);
      expect(session.snapshots).toEqual([]);
      expect(session.failovers[0]?.fromSnapshot).toBeUndefined();
      expectSameFrames(frames, want);
      gaps.replay = gap as number;
    } finally {
      await plain.close();
    }
    await respawnMissing();
  });

  it('survives a nats-server restart mid-session with identical frames', async () => {
    const request = { seed: 10, blocks: 30, prompt: 'red ball moving left' };
    const want = await reference(request);
    const session = cluster.session(request);
    const { frames } = await run(session, async (frame) => {
      if (frame.index !== 20) return false;
      await server.stop('SIGKILL');
      await server.restart();
      return true;
    });
    expectSameFrames(frames, want);
    await allIdle();
  });

  it('block-cascade run --nats makes the video a local run makes, byte for byte; local-only flags are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bc-run-nats-'));
    try {
      const args = ['run', '--prompt', 'blue square moving up', '--seed', '3', '--blocks', '4', '--quiet', '--no-stdin'];
      const remote = await runCli([...args, '--nats', server.url, '--snapshot-every', '1', '--keyframe-every', '2', '--out', join(dir, 'remote.gif')]);
      expect(remote.code, remote.stderr).toBe(0);
      expect(remote.stderr).toContain(`cluster ${server.url}`);
      const here = await runCli([...args, '--model', RANDOM_MODEL, '--lanes', '1', '--out', join(dir, 'local.gif')]);
      expect(here.code, here.stderr).toBe(0);
      expect(readFileSync(join(dir, 'remote.gif')).equals(readFileSync(join(dir, 'local.gif')))).toBe(true);
      // With feature caching, the worker's count of reused forwards reaches the run's last line
      // through the session's end event: the same line as the local run's, and the same video.
      const caching = [...args, '--steps', '8', '--feature-cache', 'bwcache', '--feature-cache-threshold', '1.5'];
      const cachedRemote = await runCli([...caching, '--nats', server.url, '--out', join(dir, 'cached-remote.gif')]);
      const cachedHere = await runCli([...caching, '--model', RANDOM_MODEL, '--lanes', '1', '--out', join(dir, 'cached-local.gif')]);
      expect(cachedRemote.code, cachedRemote.stderr).toBe(0);
      expect(cachedHere.code, cachedHere.stderr).toBe(0);
      const reusedLine = (stderr: string) => /feature cache bwcache δ = 1\.5: \d+ of 36 forwards reused.*/.exec(stderr)?.[0];
      expect(reusedLine(cachedHere.stderr)).toBeDefined();
      expect(reusedLine(cachedHere.stderr)).not.toMatch(/: 0 of/);
      expect(reusedLine(cachedRemote.stderr)).toBe(reusedLine(cachedHere.stderr));
      expect(readFileSync(join(dir, 'cached-remote.gif')).equals(readFileSync(join(dir, 'cached-local.gif')))).toBe(true);
      const refused = await runCli([...args, '--nats', server.url, '--model', RANDOM_MODEL]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/--nats runs on the cluster's workers: --model does not apply/);
      const alone = await runCli([...args, '--snapshot-every', '1', '--model', RANDOM_MODEL]);
      expect(alone.code).not.toBe(0);
      expect(alone.stderr).toMatch(/--snapshot-every applies to --nats only/);
      const keyframes = await runCli([...args, '--keyframe-every', '2', '--model', RANDOM_MODEL]);
      expect(keyframes.code).not.toBe(0);
      expect(keyframes.stderr).toMatch(/--keyframe-every applies to --nats only/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await allIdle();
  });

  it('block-cascade run --nats says when the session moved to another worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bc-run-nats-'));
    try {
      // A frame on the wire says the worker's reply to the placement went out before it: the
      // client holds the session there, so the kill is a failover, not a placement retry.
      const watcher = await natsConnect({ servers: server.url });
      const frames = watcher.subscribe('bc.session.*.frame', { max: 1 });
      const running = runCli(['run', '--prompt', 'red ball moving left', '--seed', '5', '--blocks', '200', '--quiet', '--no-stdin', '--nats', server.url, '--out', join(dir, 'moved.gif')]);
      const opened = await Promise.race([...workers.values()].map((w) => logged(w, 'opened (seed 5, 200 blocks').then(() => w)));
      for await (const frame of frames) void frame;
      await watcher.close();
      await stopWorker(opened);
      workers.delete(opened.id);
      const result = await running;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(new RegExp(`at frame \\d+ the session moved from worker ${opened.id} to w\\d \\(.+\\); (resumed from the snapshot of block \\d+|replayed from block 0), placed \\d+ ms after`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await respawnMissing();
  });
});
