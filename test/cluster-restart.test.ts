/**
 * A worker restarted mid-session: the cluster's only worker, w1, is killed with SIGKILL while a
 * session runs on it (the consumer holds frame 20), and a new `block-cascade worker` process is
 * started under the same id. The session must resume on the restarted worker (there is no
 * other) and its frames must be byte-identical to the same request on a local runtime. What
 * moves it depends on how fast the restart is: the ping finding w1's connection gone, the
 * heartbeat timeout (1.5 s of silence) or the new process beating on w1's subject without the
 * session; the last test pins the last with a client whose ping and heartbeat timeouts are
 * longer than any restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/api/runtime.js';
import { connect, type Cluster, type ClusterSession } from '../src/cluster/client.js';
import type { Frame, GenerateRequest } from '../src/core/api-types.js';
import type { SessionOptions } from '../src/core/session-types.js';
import { expectSameFrames, logged, spawnWorker, stopWorker, type WorkerProcess } from './support/cluster-processes.js';
import { RANDOM_MODEL } from './support/models.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';

describe('a worker restarted mid-session under the same id', () => {
  let server: NatsServer;
  let cluster: Cluster;
  let local: Runtime;
  let w1: WorkerProcess | undefined;
  const restarts: Record<string, { reason: string; atFrame: number; gapMs: number }> = {};

  beforeAll(async () => {
    server = await startNatsServer();
    [w1, cluster, local] = await Promise.all([spawnWorker(server.url, 'w1'), connect({ servers: server.url }), createRuntime({ lanes: 1, model: RANDOM_MODEL })]);
  }, 60_000);

  afterAll(async () => {
    const steps = [async () => cluster?.close(), async () => local?.close(), async () => w1 && (await stopWorker(w1, 'SIGTERM')), async () => server?.close()];
    const errors: unknown[] = [];
    for (const step of steps) await step().catch((err: unknown) => errors.push(err));
    console.log('worker restarts (kill → first frame of the restarted worker):', restarts);
    if (errors.length > 0) throw errors[0];
  }, 30_000);

  /** Waits (on the KV entry) until w1 is registered with no session. */
  const idle = async () => {
    for (;;) {
      const list = await cluster.workers();
      if (list.some((w) => w.id === 'w1' && w.active === 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /**
   * Reads the session; at frame 20, or at the first frame after it where the client has been
   * told of a snapshot it can resume from (the worker stores them off the generation's path),
   * kills w1 with SIGKILL (the consumer not reading meanwhile) and starts a new w1, waiting for
   * its "ready"; `at` runs first at each frame.
   */
  const runWithRestart = async (session: ClusterSession, at: (frame: Frame) => Promise<void> = async () => {}) => {
    const frames: Frame[] = [];
    let killedAt = 0;
    let gapMs = -1;
    for await (const frame of session.frames) {
      frames.push(frame);
      const moved = session.failovers[0];
      if (gapMs < 0 && moved && frame.index >= moved.atFrame) gapMs = Date.now() - killedAt;
      await at(frame);
      if (killedAt > 0 || frame.index < 20 || !session.snapshots.some((s) => s.firstFrame <= frame.index)) continue;
      expect(session.worker).toBe('w1');
      const old = w1 as WorkerProcess;
      killedAt = Date.now();
      await stopWorker(old, 'SIGKILL');
      w1 = await spawnWorker(server.url, 'w1');
      expect(w1.child.pid).not.toBe(old.child.pid);
    }
    return { frames, gapMs };
  };

  const check = async (name: string, request: GenerateRequest, options: SessionOptions, want: () => Promise<Frame[]>, at?: (session: ClusterSession) => (frame: Frame) => Promise<void>, client: Cluster = cluster) => {
    await idle();
    const session = client.session(request, options);
    const { frames, gapMs } = await runWithRestart(session, at?.(session));
    expect(session.failovers).toHaveLength(1);
    const [moved] = session.failovers;
    expect(moved).toMatchObject({ from: 'w1', to: 'w1' });
    expectSameFrames(frames, await want());
    // The restarted process took the session up from a snapshot (the worker's default interval),
    // publishing from the frame the client had reached.
    await logged(w1 as WorkerProcess, `resumed from frame ${moved?.atFrame} `);
    expect((w1 as WorkerProcess).log).toContain(`resumed from frame ${moved?.atFrame} with snapshot`);
    expect(moved?.fromSnapshot).toBeGreaterThan(0);
    restarts[name] = { reason: moved?.reason ?? '', atFrame: moved?.atFrame ?? -1, gapMs };
    return moved;
  };

  const reference = async (request: GenerateRequest, options: SessionOptions = {}) => {
    const frames: Frame[] = [];
    for await (const frame of local.generate(request, options)) frames.push(frame);
    return frames;
  };

  it('P0: the session resumes on the restarted w1 with frames byte-identical to a local run', async () => {
    const request = { seed: 12, blocks: 30, prompt: 'red ball moving left' };
    await check('P0', request, {}, () => reference(request));
  });

  it('P4, with a live switch before the kill: resumes on the restarted w1, the switch kept, frames byte-identical', async () => {
    const request = { seed: 13, blocks: 30, prompt: 'red ball moving left' };
    const options = { cascade: { parallelism: 4 } } as const;
    let fromBlock = -1;
    await check('P4+switch', request, options, () => reference({ ...request, switches: [{ atBlock: fromBlock, prompt: 'blue ball moving up' }] }, options), (session) => async (frame) => {
      if (frame.index === 5) fromBlock = (await session.switchPrompt('blue ball moving up')).fromBlock;
    });
    expect(fromBlock).toBeGreaterThan(1);
  });

  it('a client slow to take a silent worker for dead: the restarted w1\'s heartbeats, not listing the session, move it; frames byte-identical', async () => {
    // The heartbeat timeout is longer than the restart takes, so what moves the session is the
    // new process beating on w1's subject without the session (the client's "absent" check).
    const patient = await connect({ servers: server.url, deadAfterMs: 30_000, probeAfterMs: 30_000 });
    try {
      const request = { seed: 14, blocks: 30, prompt: 'red ball moving left' };
      const moved = await check('absent', request, {}, () => reference(request), undefined, patient);
      expect(moved?.reason).toMatch(/no longer runs the session/);
    } finally {
      await patient.close();
    }
  });
});
