/**
 * The client's watch of the workers bucket (`src/cluster/worker-watch.ts`): a placement waiting
 * for capacity wakes at a worker's registration, not at its next poll. A real nats-server; the
 * waits under test are far longer than the test's own timeout, so a watch that did not wake
 * them fails the test instead of passing late.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNats } from '../src/cluster/nats-connection.js';
import { WorkerWatch } from '../src/cluster/worker-watch.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';

const NEVER_MS = 600_000;

describe('WorkerWatch', () => {
  let server: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await openNats({ servers: [server.url], name: 'worker-watch test' });
  }, 30_000);

  afterAll(async () => {
    await nc?.drain();
    await server?.close();
  });

  it('wakes every waiter at a put to the bucket, and again at the next one', async () => {
    const kv: KV = await new Kvm(nc).create('watch-test-a');
    const watch = new WorkerWatch(() => new Kvm(nc).open('watch-test-a'));
    try {
      for (const key of ['w1', 'w2']) {
        let woken = 0;
        const waits = [watch.changed(NEVER_MS), watch.changed(NEVER_MS)].map((p) => p.then(() => woken++));
        // Puts until the watch (opened by the first wait) sees one: it only reports updates after it opens.
        let puts = 0;
        while (woken < 2) {
          await kv.put(key, new TextEncoder().encode(String(++puts)));
          await Promise.race([Promise.all(waits), new Promise((resolve) => setTimeout(resolve, 50))]);
        }
        expect(woken).toBe(2);
      }
    } finally {
      watch.close();
    }
  }, 20_000);

  it('falls back to its timeout while the bucket does not exist, and close releases the waiters', async () => {
    const watch = new WorkerWatch(() => new Kvm(nc).open('watch-test-missing'));
    await watch.changed(20); // resolves by its timeout: there is nothing to watch
    let released = false;
    const pending = watch.changed(NEVER_MS).then(() => (released = true));
    await Promise.resolve();
    expect(released).toBe(false);
    watch.close();
    await pending;
    expect(released).toBe(true);
  }, 20_000);
});
