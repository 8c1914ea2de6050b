/**
 * The cluster API checks its options at the door, as `createRuntime` and `generate` do: an
 * unknown field or a value of the wrong kind is an `InvalidOptionError` naming the field, thrown
 * before anything connects, loads or is placed; and a closed connection says so.
 */
import { describe, expect, it } from 'vitest';
import { checkClusterOptions, checkClusterSession, checkWorkerOptions } from '../src/cluster/cluster-options.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { ClusterClosedError, connect, startWorker } from '../src/index.js';
import { startNatsServer } from './support/nats-server.js';
import type { GenerateRequest } from '../src/core/api-types.js';
import type { SessionOptions } from '../src/core/session-types.js';

/** Nothing listens here: a check that ran after connecting would fail with a connection error instead. */
const NOWHERE = 'nats://127.0.0.1:1';
const refusal = (check: () => unknown): InvalidOptionError => {
  try {
    check();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionError);
    return err as InvalidOptionError;
  }
  throw new Error('not refused');
};

describe('cluster options at the door', () => {
  it('connect: servers, milliseconds, credit and unknown fields, refused before connecting', async () => {
    const cases: [unknown, string][] = [
      [null, 'options'],
      [{ servers: 5 }, 'servers'],
      [{ servers: [] }, 'servers'],
      [{ servers: NOWHERE, deadAfterMs: 'x' }, 'deadAfterMs'],
      [{ servers: NOWHERE, probeAfterMs: 0 }, 'probeAfterMs'],
      [{ servers: NOWHERE, creditFrames: 1.5 }, 'creditFrames'],
      [{ servers: NOWHERE, deadAfterMS: 100 }, 'deadAfterMS'],
    ];
    for (const [options, field] of cases) {
      expect(refusal(() => checkClusterOptions(options)).option).toBe(field);
      await expect(connect(options as never)).rejects.toBeInstanceOf(InvalidOptionError);
    }
    expect(() => checkClusterOptions({ servers: [NOWHERE], deadAfterMs: 500, creditFrames: 8, snapshotEvery: 0 })).not.toThrow();
  });

  it('startWorker: id, milliseconds, log, signal and unknown fields, refused before loading or connecting', async () => {
    const cases: [unknown, string][] = [
      [{ servers: NOWHERE, id: '' }, 'id'],
      [{ servers: NOWHERE, id: 'a b' }, 'id'],
      [{ servers: NOWHERE, heartbeatMs: -1 }, 'heartbeatMs'],
      [{ servers: NOWHERE, log: 5 }, 'log'],
      [{ servers: NOWHERE, signal: {} }, 'signal'],
      [{ servers: NOWHERE, maxsessions: 2 }, 'maxsessions'],
    ];
    for (const [options, field] of cases) {
      expect(refusal(() => checkWorkerOptions(options)).option).toBe(field);
      await expect(startWorker(options as never)).rejects.toBeInstanceOf(InvalidOptionError);
    }
  });

  it('a cluster session: the request and options a worker would refuse, and what stays on the worker\'s side', () => {
    const request: GenerateRequest = { seed: 1, blocks: 4, prompt: 'red ball moving left' };
    const cases: [GenerateRequest, SessionOptions, string][] = [
      [{ ...request, blocks: 0 }, {}, 'blocks'],
      [{ ...request, seed: -1 }, {}, 'seed'],
      [request, { priority: 'urgent' } as never, 'priority'],
      [request, { bogus: 1 } as never, 'bogus'],
      [request, { trace: () => {} }, 'trace'],
      [request, { resumeFrom: new Uint8Array(4) }, 'resumeFrom'],
    ];
    for (const [r, options, field] of cases) expect(refusal(() => checkClusterSession(r, options)).option).toBe(field);
    expect(refusal(() => checkClusterSession(request, { trace: () => {} })).message).toMatch(/none on a cluster session \(a cluster session's trace stays on its worker\)/);
    expect(() => checkClusterSession(request, { steps: 8, priority: 'high', cascade: { parallelism: 4 }, featureCache: { policy: 'bwcache' } })).not.toThrow();
  });

  it('a closed cluster connection: one promise for every close, then ClusterClosedError instead of "no capacity"', async () => {
    const server = await startNatsServer();
    try {
      const cluster = await connect({ servers: server.url });
      const closing = cluster.close();
      expect(cluster.close()).toBe(closing);
      await closing;
      expect(() => cluster.session({ seed: 1, blocks: 2, prompt: 'red ball moving left' })).toThrow(ClusterClosedError);
      await expect(cluster.workers()).rejects.toBeInstanceOf(ClusterClosedError);
    } finally {
      await server.close();
    }
  });
});
