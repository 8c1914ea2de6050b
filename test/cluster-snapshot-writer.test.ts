/**
 * The worker's snapshot writer against a real nats-server's object store: what it keeps as the
 * client reports the frames it has, and what it tells the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import { SnapshotWriter } from '../src/cluster/snapshot-writer.js';
import { objectStoreStorage } from '../src/cluster/snapshot-storage.js';
import { snapshotName } from '../src/cluster/bucket.js';
import type { SnapshotNotice } from '../src/cluster/messages.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';

describe('SnapshotWriter', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let store: ObjectStore;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    store = await new Objm(nc).create('writer_test', { storage: StorageType.Memory });
  }, 30_000);

  afterAll(async () => {
    await nc?.drain();
    await server?.close();
  });

  const stored = async () => (await store.list()).filter((o) => !o.deleted).map((o) => o.name).sort();
  /** A snapshot of `block` (3 frames a block) with distinct bytes. */
  const snapshot = (block: number) => ({ block, firstFrame: 3 * block, bytes: new Uint8Array(2000).fill(block), captureMs: 1 });

  it('keeps every snapshot the client may resume from and deletes those behind the newest one at or below its frames', async () => {
    const notices: SnapshotNotice[] = [];
    let told: () => void = () => {};
    const writer = new SnapshotWriter(objectStoreStorage(store), 'k1', (n) => {
      notices.push(n);
      told();
    });
    for (const block of [4, 8, 12, 16]) {
      const next = new Promise<void>((resolve) => (told = resolve));
      writer.offer(snapshot(block));
      await next;
    }
    // The worker ran ahead: the client has nothing yet, so all four stay.
    expect(await stored()).toEqual([4, 8, 12, 16].map((b) => snapshotName('k1', b)).sort());
    expect(notices.map((n) => [n.block, n.firstFrame, n.bytes])).toEqual([[4, 12, 2000], [8, 24, 2000], [12, 36, 2000], [16, 48, 2000]]);
    expect(new Uint8Array((await store.getBlob(snapshotName('k1', 8))) as Uint8Array)).toEqual(new Uint8Array(2000).fill(8));
    // 30 frames: block 8's snapshot (frame 24) is the newest it could resume from; block 4's goes.
    writer.received(30);
    for (;;) if (!(await stored()).includes(snapshotName('k1', 4))) break;
    expect(await stored()).toEqual([8, 12, 16].map((b) => snapshotName('k1', b)).sort());
    writer.received(48);
    for (;;) if ((await stored()).length === 1) break;
    expect(await stored()).toEqual([snapshotName('k1', 16)]);
  });

  it('finish() resolves once the snapshot being stored is announced, and takes no more', async () => {
    const notices: SnapshotNotice[] = [];
    const writer = new SnapshotWriter(objectStoreStorage(store), 'k2', (n) => notices.push(n));
    writer.offer(snapshot(4));
    await writer.finish();
    expect(notices.map((n) => n.name)).toEqual([snapshotName('k2', 4)]);
    writer.offer(snapshot(8));
    await writer.finish();
    expect(notices.map((n) => n.name)).toEqual([snapshotName('k2', 4)]);
    expect(await stored()).not.toContain(snapshotName('k2', 8));
  });
});
