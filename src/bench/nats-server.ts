/**
 * A private nats-server with JetStream for `bench --cluster`: a free port on 127.0.0.1 and a
 * temporary store, removed on close. The cluster tests' support (test/support/nats-server.ts)
 * finds and waits for its servers with the functions here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** No nats-server binary at /usr/sbin/nats-server or on PATH. */
export class NatsServerNotFoundError extends Error {
  readonly code = 'NATS_SERVER_NOT_FOUND';
  constructor(readonly searched: readonly string[]) {
    super('nats-server not found (/usr/sbin/nats-server or on PATH): install it (`apt-get install nats-server`, or a release from https://github.com/nats-io/nats-server) and try again');
    this.name = 'NatsServerNotFoundError';
  }
}

/** The server exited, or did not accept connections in time. */
export class NatsServerStartError extends Error {
  readonly code = 'NATS_SERVER_START';
  constructor(message: string) {
    super(message);
    this.name = 'NatsServerStartError';
  }
}

/**
 * The server binary: /usr/sbin/nats-server (Debian; `fixed`) or the first `nats-server` on `path` (PATH).
 *
 * @throws {NatsServerNotFoundError} when there is none.
 * @example
 * ```ts
 * natsServerBinary(); // '/usr/sbin/nats-server'
 * ```
 */
export function natsServerBinary(path = process.env.PATH ?? '', fixed: readonly string[] = ['/usr/sbin/nats-server']): string {
  const candidates = [...fixed, ...path.split(delimiter).filter((d) => d !== '').map((dir) => join(dir, 'nats-server'))];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new NatsServerNotFoundError(candidates);
  return found;
}

/**
 * A TCP port free on 127.0.0.1 now (the OS picks it).
 *
 * @example
 * ```ts
 * const port = await freePort();
 * ```
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once something accepts TCP connections on the port of 127.0.0.1 (tries every 50 ms).
 *
 * @throws {NatsServerStartError} after `timeoutMs`.
 * @example
 * ```ts
 * await accepting(4222, 10_000);
 * ```
 */
export async function accepting(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new NatsServerStartError(`nats-server did not accept connections on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A running private server. */
export interface LocalNatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM) and removes its store. */
  close(): Promise<void>;
}

/**
 * Starts `nats-server -js` on a free port of 127.0.0.1 with a temporary store.
 *
 * @throws {NatsServerNotFoundError} without a binary; {@link NatsServerStartError} when it does not come up.
 * @example
 * ```ts
 * const server = await startLocalNatsServer();
 * const cluster = await connect({ servers: server.url });
 * await server.close();
 * ```
 */
export async function startLocalNatsServer(timeoutMs = 10_000): Promise<LocalNatsServer> {
  const binary = natsServerBinary();
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'bc-bench-nats-'));
  let log = '';
  const child: ChildProcess = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new NatsServerStartError(`nats-server exited (${code}): ${log.trim()}`))));
  exited.catch(() => undefined);
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(store, { recursive: true, force: true });
  };
  try {
    await Promise.race([accepting(port, timeoutMs), exited]);
  } catch (err) {
    await close();
    throw err;
  }
  return { url: `nats://127.0.0.1:${port}`, port, close };
}
