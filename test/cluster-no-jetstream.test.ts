/**
 * A worker pointed at a NATS server without JetStream cannot register or store snapshots: it
 * must say so and exit, not hang with its model loaded and its connection open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';

describe('a NATS server without JetStream', () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await startNatsServer({ jetStream: false });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a worker says JetStream is off and exits with status 1, its runtime and connection closed', async () => {
    // Before the fix the process stayed up (lane threads and connection open) until killed.
    const result = await runCli(['worker', '--nats', server.url, '--model', RANDOM_MODEL, '--id', 'no-js'], 30_000);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/jetstream is not enabled/i);
  });
});
