/**
 * The worker's snapshot writer against a real nats-server's object store: what it keeps as the
 * client reports the frames it has, and what it tells the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import { SnapshotWriter } from '../src/cluster/snapshot-writer.js';
import { objectStoreStorage } from '../src/cluster/snapshot-storage.js';
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
  /** Snapshot `seq` of `block` (3 frames a block) with distinct bytes, referring to `requires`. */
  const snapshot = (seq: number, block: number, requires: number[] = []) => ({ block, firstFrame: 3 * block, seq, requires, replays: 0, bytes: new Uint8Array(2000).fill(block), captureMs: 1 });

  it('keeps every snapshot the client may resume from, and those they refer to; deletes the rest', async () => {
    const notices: SnapshotNotice[] = [];
    let told: () => void = () => {};
    const writer = new SnapshotWriter(objectStoreStorage(store), 'k1', (n) => {
      notices.push(n);
      told();
    });
    // Seq 0 holds the sink's rows, which every later one refers to; seq 3 also refers to seq 2.
    for (const s of [snapshot(0, 4), snapshot(1, 8, [0]), snapshot(2, 12, [0]), snapshot(3, 16, [0, 2])]) {
      const next = new Promise<void>((resolve) => (told = resolve));
      writer.offer(s);
      expect(writer.kept(s.seq)).toBe(true);
      await next;
    }
    const name = (seq: number) => (notices[seq] as SnapshotNotice).name;
    // The worker ran ahead: the client has nothing yet, so all four stay.
    expect(await stored()).toEqual([0, 1, 2, 3].map(name).sort());
    expect(notices.map((n) => [n.block, n.firstFrame, n.bytes, n.parts])).toEqual([
      [4, 12, 2000, []],
      [8, 24, 2000, [name(0)]],
      [12, 36, 2000, [name(0)]],
      [16, 48, 2000, [name(0), name(2)]],
    ]);
    expect(new Uint8Array((await store.getBlob(name(1))) as Uint8Array)).toEqual(new Uint8Array(2000).fill(8));
    // 30 frames: block 8's snapshot (frame 24) is the oldest it could resume from; block 4's
    // stays, since the others refer to it.
    writer.received(30);
    writer.received(48);
    // 48 frames: only block 16's snapshot and the two it refers to are of use.
    for (;;) if ((await stored()).length === 3) break;
    expect(await stored()).toEqual([0, 2, 3].map(name).sort());
    expect([0, 1, 2, 3].map((seq) => writer.kept(seq))).toEqual([true, false, true, true]);
  });

  it('does not announce a snapshot that refers to one it could not store, and keeps that one no more', async () => {
    const notices: SnapshotNotice[] = [];
    const objects = objectStoreStorage(store);
    const lines: string[] = [];
    const failing = { put: (name: string, bytes: Uint8Array) => (name.endsWith('.s1') ? Promise.reject(new Error('store full')) : objects.put(name, bytes)), delete: objects.delete };
    let last: () => void = () => {};
    const lastTold = new Promise<void>((resolve) => (last = resolve));
    const writer = new SnapshotWriter(
      failing,
      'k3',
      (n) => {
        notices.push(n);
        if (n.block === 16) last();
      },
      (line) => lines.push(line),
    );
    writer.offer(snapshot(0, 4));
    writer.offer(snapshot(1, 8, [0]));
    writer.offer(snapshot(2, 12, [0, 1]));
    writer.offer(snapshot(3, 16, [0]));
    await lastTold;
    expect(notices.map((n) => n.block)).toEqual([4, 16]);
    expect(writer.kept(1)).toBe(false);
    expect(lines.join('\n')).toMatch(/s1: not stored \(store full\)[\s\S]*s2: stored but not announced/);
  });

  it('finish() resolves once the snapshot being stored is announced, and takes no more', async () => {
    const notices: SnapshotNotice[] = [];
    const writer = new SnapshotWriter(objectStoreStorage(store), 'k2', (n) => notices.push(n));
    writer.offer(snapshot(0, 4));
    await writer.finish();
    expect(notices.map((n) => n.block)).toEqual([4]);
    writer.offer(snapshot(1, 8));
    await writer.finish();
    expect(notices.map((n) => n.block)).toEqual([4]);
    expect((await stored()).filter((n) => n.startsWith('k2.'))).toEqual([(notices[0] as SnapshotNotice).name]);
  });
});
