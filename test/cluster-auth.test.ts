/**
 * A cluster whose nats-server requires a user, a password and TLS (a self-signed certificate made
 * here with openssl): a worker started with the CLI's flags, a client with `auth`, snapshots
 * stored by the worker's store thread on its own authenticated connection; and the refusals
 * (no credentials, a wrong password, settings that cannot work) said clearly.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../src/api/runtime.js';
import { connect } from '../src/cluster/client.js';
import { checkNatsAuth } from '../src/cluster/nats-auth.js';
import type { Frame } from '../src/core/api-types.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { ClusterConnectError } from '../src/cluster/errors.js';
import { NATS_PASSWORD_ENV } from '../src/cli/nats-flags.js';
import { runCli } from './support/cli.js';
import { expectSameFrames, spawnWorker, stopWorker, type WorkerProcess } from './support/cluster-processes.js';
import { RANDOM_MODEL } from './support/models.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';

const USER = 'bc-worker';
const PASS = 'not-on-the-command-line';

describe('a cluster behind NATS credentials and TLS', () => {
  let dir: string;
  let cert: string;
  let server: NatsServer;
  let worker: WorkerProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bc-nats-tls-'));
    cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    // Self-signed for 127.0.0.1: the certificate is its own authority (the clients' caFile).
    // The NATS client checks the name "localhost" for 127.0.0.1, so the certificate names both.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    server = await startNatsServer({ args: ['--user', USER, '--pass', PASS, '--tls', '--tlscert', cert, '--tlskey', key] });
    worker = await spawnWorker(server.url, 'secure-w1', { args: ['--nats-user', USER, '--nats-tls-ca', cert], env: { [NATS_PASSWORD_ENV]: PASS } });
  }, 60_000);

  afterAll(async () => {
    if (worker) await stopWorker(worker, 'SIGTERM');
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a session with snapshots: the frames of a local run, snapshots stored by the authenticated store thread', async () => {
    const request = { seed: 5, blocks: 6, prompt: 'red ball moving left' };
    const cluster = await connect({ servers: server.url, auth: { user: USER, pass: PASS, tls: { caFile: cert } }, snapshotEvery: 1 });
    const local = await createRuntime({ lanes: 1, model: RANDOM_MODEL });
    try {
      const session = cluster.session(request);
      const frames: Frame[] = [];
      for await (const frame of session.frames) frames.push(frame);
      const want: Frame[] = [];
      for await (const frame of local.generate(request)) want.push(frame);
      expectSameFrames(frames, want);
      expect(session.worker).toBe('secure-w1');
      expect(session.snapshots.length).toBeGreaterThan(0);
    } finally {
      await cluster.close();
      await local.close();
    }
  });

  it('refuses a client without credentials, with a wrong password or unable to verify the server\'s certificate, saying why; a worker refused so exits', async () => {
    const refusal = (options: Parameters<typeof connect>[0]) => connect(options).then(() => null, (err: unknown) => err);
    for (const [auth, said] of [
      [{ tls: { caFile: cert } }, /Authorization Violation/],
      [{ user: USER, pass: 'wrong', tls: { caFile: cert } }, /Authorization Violation/],
      // Without the CA, the client cannot verify the server's certificate.
      [{ user: USER, pass: PASS }, /certificate/],
    ] as const) {
      const err = await refusal({ servers: server.url, auth });
      expect(err).toBeInstanceOf(ClusterConnectError);
      expect((err as Error).message).toMatch(said);
      expect((err as Error).message).toContain(server.url);
    }
    // A worker refused the same way says so and exits, rather than retrying for ever.
    const refused = await runCli(['worker', '--nats', server.url, '--nats-user', USER, '--model', RANDOM_MODEL, '--quiet'], 60_000, undefined, { [NATS_PASSWORD_ENV]: PASS });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/cannot connect to NATS at .*certificate/);
  });

  it('run --nats takes the same flags (the password from the environment) and makes the local run\'s video', async () => {
    const out = join(dir, 'remote.gif');
    const local = join(dir, 'local.gif');
    const args = ['run', '--prompt', 'red ball moving left', '--seed', '2', '--blocks', '3', '--quiet', '--no-stdin'];
    const remote = await runCli([...args, '--nats', server.url, '--nats-user', USER, '--nats-tls-ca', cert, '--out', out], 60_000, undefined, { [NATS_PASSWORD_ENV]: PASS });
    expect(remote.code, remote.stderr).toBe(0);
    const here = await runCli([...args, '--model', RANDOM_MODEL, '--lanes', '1', '--out', local]);
    expect(here.code, here.stderr).toBe(0);
    expect(execFileSync('cmp', [out, local]).length).toBe(0);
    const noPassword = await runCli([...args, '--nats', server.url, '--nats-user', USER, '--nats-tls-ca', cert, '--out', out], 60_000, undefined, { [NATS_PASSWORD_ENV]: undefined });
    expect(noPassword.code).not.toBe(0);
    expect(noPassword.stderr).toContain(`--nats-user ${USER} needs its password in $${NATS_PASSWORD_ENV}`);
  });
});

describe('checkNatsAuth', () => {
  const field = (f: () => void) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidOptionError);
      return (err as InvalidOptionError).option;
    }
    return null;
  };

  it('names the field of settings that cannot work', () => {
    expect(field(() => checkNatsAuth({ user: 'u' }))).toBe('auth.pass');
    expect(field(() => checkNatsAuth({ pass: 'p' }))).toBe('auth.user');
    expect(field(() => checkNatsAuth({ user: 'u', pass: 'p', token: 't' }))).toBe('auth');
    expect(field(() => checkNatsAuth({ token: '' }))).toBe('auth.token');
    expect(field(() => checkNatsAuth({ credsFile: '/no/such.creds' }))).toBe('auth.credsFile');
    expect(field(() => checkNatsAuth({ tls: { certFile: '/etc/hostname' } }))).toBe('auth.tls.keyFile');
    expect(field(() => checkNatsAuth({ tls: { caFile: '/no/ca.pem' } }))).toBe('auth.tls.caFile');
    expect(field(() => checkNatsAuth({ user: 'u', pass: 'p', tls: {} }))).toBeNull();
  });
});
