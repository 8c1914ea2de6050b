/**
 * The cluster behind the two-role server settings the project ships
 * (examples/cluster/nats-roles.conf): a worker connected as `worker` and a client as `client` run
 * a session with snapshots whose frames are a local run's; the client's role cannot pose as a
 * worker or publish a session's frames (the server refuses, and says so).
 */
import { resolve } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import { SNAPSHOTS_BUCKET } from '../src/cluster/bucket.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../src/api/runtime.js';
import { connect } from '../src/cluster/client.js';
import type { Frame } from '../src/core/api-types.js';
import { NATS_PASSWORD_ENV } from '../src/cli/nats-flags.js';
import { expectSameFrames, spawnWorker, stopWorker, type WorkerProcess } from './support/cluster-processes.js';
import { RANDOM_MODEL } from './support/models.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';

const CONFIG = resolve(import.meta.dirname, '../examples/cluster/nats-roles.conf');
const WORKER_PASSWORD = 'worker-secret';
const CLIENT_PASSWORD = 'client-secret';

/** The first permission violation the server reports on `nc`; '' if none within 10 s. */
async function violation(nc: NatsConnection): Promise<string> {
  const none = setTimeout(() => void nc.close(), 10_000);
  try {
    return await firstViolation(nc);
  } finally {
    clearTimeout(none);
  }
}

async function firstViolation(nc: NatsConnection): Promise<string> {
  for await (const status of nc.status()) {
    // An error's message is not an own enumerable field: read it from the status's error, if any.
    const text = `${status.type} ${'error' in status && status.error instanceof Error ? status.error.message : JSON.stringify(status)}`;
    if (/Permissions Violation/i.test(text)) return text;
  }
  return '';
}

describe('a cluster with worker and client roles', () => {
  let server: NatsServer;
  const workers = new Map<string, WorkerProcess>();

  beforeAll(async () => {
    // The settings read the passwords from the server's environment.
    process.env['BC_WORKER_PASSWORD'] = WORKER_PASSWORD;
    process.env['BC_CLIENT_PASSWORD'] = CLIENT_PASSWORD;
    server = await startNatsServer({ args: ['-c', CONFIG] });
    const started = await Promise.all(['role-w1', 'role-w2'].map((id) => spawnWorker(server.url, id, { args: ['--nats-user', 'worker'], env: { [NATS_PASSWORD_ENV]: WORKER_PASSWORD } })));
    for (const w of started) workers.set(w.id, w);
  }, 60_000);

  afterAll(async () => {
    for (const w of workers.values()) await stopWorker(w, 'SIGTERM');
    await server?.close();
  });

  it("runs a client's session, moved from a killed worker with its snapshots: the frames of a local run; the client deletes the snapshots", async () => {
    const request = { seed: 6, blocks: 30, prompt: 'red ball moving left' };
    const cluster = await connect({ servers: server.url, auth: { user: 'client', pass: CLIENT_PASSWORD } });
    const local = await createRuntime({ lanes: 1, model: RANDOM_MODEL });
    try {
      expect((await cluster.workers()).map((w) => w.id).sort()).toEqual(['role-w1', 'role-w2']);
      const session = cluster.session(request);
      const frames: Frame[] = [];
      let killed = false;
      for await (const frame of session.frames) {
        frames.push(frame);
        if (killed || frame.index < 20 || !session.snapshots.some((s) => s.firstFrame <= frame.index)) continue;
        killed = true;
        await stopWorker(workers.get(session.worker as string) as WorkerProcess);
      }
      const want: Frame[] = [];
      for await (const frame of local.generate(request)) want.push(frame);
      expectSameFrames(frames, want);
      // The new worker fetched the snapshot (and the parts it refers to) as `worker`.
      expect(session.failovers[0]?.fromSnapshot).toBeGreaterThan(0);
      const names = new Set(session.snapshots.flatMap((s) => [s.name, ...s.parts]));
      await session.stop();
      await cluster.close();
      // Deleted by the client as it closed, under the client role.
      const nc = await natsConnect({ servers: server.url, user: 'worker', pass: WORKER_PASSWORD });
      try {
        const store = await new Objm(nc).open(SNAPSHOTS_BUCKET);
        for (;;) {
          const left = (await store.list()).filter((o) => !o.deleted && names.has(o.name));
          if (left.length === 0) break;
        }
      } finally {
        await nc.close();
      }
    } finally {
      await cluster.close();
      await local.close();
    }
  });

  it("refuses the client role a worker's subscriptions and a session's frames", async () => {
    for (const attempt of [
      (nc: NatsConnection) => void nc.subscribe('bc.worker.fake.open'),
      (nc: NatsConnection) => nc.publish('bc.session.someone-s1-a0.frame', new Uint8Array(4)),
      (nc: NatsConnection) => nc.publish('$KV.block_cascade_workers.fake', new Uint8Array(4)),
    ]) {
      const nc = await natsConnect({ servers: server.url, user: 'client', pass: CLIENT_PASSWORD });
      try {
        const said = violation(nc);
        attempt(nc);
        await nc.flush();
        expect(await said).toMatch(/Permissions Violation for (Subscription|Publish) to/i);
      } finally {
        await nc.close();
      }
    }
  });
});
