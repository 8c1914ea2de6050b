/**
 * The cluster across two hosts: two network namespaces joined by a veth pair stand for two
 * machines. Host A runs nats-server (listening on its link address only) and the client, in its
 * own process; host B runs a `block-cascade worker` that reaches the server only over the link.
 * The session's frames are compared byte for byte with the same request on a local runtime, and
 * B's end of the link must have sent at least the frames' bytes. Then a second worker joins on
 * host A and the worker running a session is killed: the session moves across the link. Needs root (`ip netns add`):
 * where that fails the test is skipped with the command's error as the reason.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/api/runtime.js';
import type { Frame } from '../src/core/api-types.js';
import { collectOutput, ROOT } from './support/cli.js';
import { expectSameFrames, spawnWorker, stopWorker, type WorkerProcess } from './support/cluster-processes.js';
import { RANDOM_MODEL } from './support/models.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';
import { netnsUnavailable, twoHosts, type TwoHosts } from './support/netns.js';

const unavailable = netnsUnavailable();
if (unavailable) console.warn(`cluster-netns: skipped, network namespaces unavailable: ${unavailable}`);

describe.skipIf(unavailable !== null)(`cluster across two network namespaces${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let hosts: TwoHosts | undefined;
  let server: NatsServer | undefined;
  let worker: WorkerProcess | undefined;
  let local: Runtime | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bc-netns-'));
    hosts = twoHosts();
    server = await startNatsServer({ host: hosts.a.addr, port: 4222, prefix: hosts.exec(hosts.a.ns) });
    [worker, local] = await Promise.all([
      spawnWorker(server.url, 'host_b', { prefix: hosts.exec(hosts.b.ns) }),
      createRuntime({ lanes: 1, model: RANDOM_MODEL }),
    ]);
  }, 60_000);

  afterAll(async () => {
    // Each step runs even when an earlier one failed; the namespaces go last, with anything left in them.
    const steps = [
      async () => worker && (await stopWorker(worker, 'SIGTERM')),
      async () => server?.close(),
      async () => local?.close(),
      async () => hosts?.destroy(),
      async () => dir && rmSync(dir, { recursive: true, force: true }),
    ];
    const errors: unknown[] = [];
    for (const step of steps) await step().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors[0];
  }, 30_000);

  it('a client on host A runs a session on the worker of host B; frames byte-identical to a local run', async () => {
    const h = hosts as TwoHosts;
    const request = { seed: 11, blocks: 24, prompt: 'red ball moving left' };
    const options = { cascade: { parallelism: 2 } } as const;
    const want: Frame[] = [];
    for await (const frame of (local as Runtime).generate(request, options)) want.push(frame);

    const sentBefore = h.txBytes('b');
    const out = join(dir as string, 'client.json');
    const client = spawn(h.exec(h.a.ns)[0] as string, [...h.exec(h.a.ns).slice(1), process.execPath, '--conditions=block-cascade-source', '--import', 'tsx', 'test/support/cluster-client-run.ts', (server as NatsServer).url, JSON.stringify(request), JSON.stringify(options), out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const result = await collectOutput(client);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const got = JSON.parse(readFileSync(out, 'utf8')) as { worker: string; failovers: unknown[]; frames: { index: number; block: number; rgb: string }[] };
    expect(got.worker).toBe('host_b');
    expect(got.failovers).toEqual([]);
    expectSameFrames(got.frames.map((f) => ({ ...f, rgb: Buffer.from(f.rgb, 'base64') })), want);
    // The frames left host B over the link (it has no other way to the server).
    const frameBytes = want.reduce((n, f) => n + f.rgb.byteLength, 0);
    expect(h.txBytes('b') - sentBefore).toBeGreaterThanOrEqual(frameBytes);
  }, 30_000);

  it('a worker killed on one host: the session moves to the worker of the other host, frames byte-identical', async () => {
    const h = hosts as TwoHosts;
    // A second worker, on host A (the server's host): the session may land on either, and moves to the other.
    const onA = await spawnWorker((server as NatsServer).url, 'host_a', { prefix: h.exec(h.a.ns) });
    try {
      const request = { seed: 12, blocks: 300, prompt: 'blue square moving up' };
      const want: Frame[] = [];
      for await (const frame of (local as Runtime).generate(request)) want.push(frame);
      const out = join(dir as string, 'moved.json');
      const client = spawn(h.exec(h.a.ns)[0] as string, [...h.exec(h.a.ns).slice(1), process.execPath, '--conditions=block-cascade-source', '--import', 'tsx', 'test/support/cluster-client-run.ts', (server as NatsServer).url, JSON.stringify(request), '{}', out], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const firstFrameFrom = new Promise<string>((resolve) => {
        let text = '';
        client.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const found = /first frame from (\S+)/.exec(text);
          if (found) resolve(found[1] as string);
        });
      });
      const finished = collectOutput(client);
      const placedOn = await Promise.race([firstFrameFrom, finished.then((r) => Promise.reject(new Error(`the client ended before its first frame: ${r.stderr}`)))]);
      const placed = placedOn === 'host_a' ? onA : (worker as WorkerProcess);
      await stopWorker(placed);
      const result = await finished;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const got = JSON.parse(readFileSync(out, 'utf8')) as { worker: string; failovers: { from: string; to: string }[]; frames: { index: number; block: number; rgb: string }[] };
      const other = placed.id === 'host_a' ? 'host_b' : 'host_a';
      expect(got.failovers[0]).toMatchObject({ from: placed.id, to: other });
      expect(got.worker).toBe(other);
      expectSameFrames(got.frames.map((f) => ({ ...f, rgb: Buffer.from(f.rgb, 'base64') })), want);
      if (placed === worker) worker = undefined;
    } finally {
      await stopWorker(onA, 'SIGTERM');
    }
  }, 60_000);
});
