/**
 * The thread a worker stores its sessions' snapshots from (one Piscina thread, its own NATS
 * connection): putting a 12 MiB snapshot into the object store costs tens of milliseconds of
 * chunking, hashing and writing, which on the worker's main thread would hold up the runtime's
 * actors between ticks.
 *
 * Tasks: `{ op: 'put', name, bytes }` → the put's milliseconds; `{ op: 'delete', name }` → 0.
 */
import { workerData } from 'node:worker_threads';
import { Objm, setSha256Backend } from '@nats-io/obj';
import { SNAPSHOTS_BUCKET, SNAPSHOTS_STORE_OPTIONS } from './bucket.js';
import type { NatsAuth } from './nats-auth.js';
import { openNats } from './nats-connection.js';
import { objectStoreStorage, type SnapshotStorage } from './snapshot-storage.js';

const { servers, auth } = workerData as { servers: string[]; auth?: NatsAuth };
// Node's own SHA-256 for the object store's digests: the library's default is pure JavaScript.
setSha256Backend('native');
let storage: Promise<SnapshotStorage> | null = null;
const opened = (): Promise<SnapshotStorage> =>
  (storage ??= openNats({ servers, name: 'block-cascade snapshot store', auth, waitForServer: true })
    .then((nc) => new Objm(nc).create(SNAPSHOTS_BUCKET, SNAPSHOTS_STORE_OPTIONS))
    .then(objectStoreStorage));

export default async function storeTask(task: { readonly op: 'put'; readonly name: string; readonly bytes: Uint8Array } | { readonly op: 'delete'; readonly name: string }): Promise<number> {
  const objects = await opened();
  if (task.op === 'put') return objects.put(task.name, task.bytes);
  await objects.delete(task.name);
  return 0;
}
