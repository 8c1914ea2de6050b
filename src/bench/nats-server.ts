/**
 * A private nats-server with JetStream, for `bench --cluster` and the cluster tests: a free port
 * on 127.0.0.1 (or an address and a command to run it through, such as a network namespace's)
 * and a temporary store, removed on close; stop and restart on the same port and store.
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

/** Where {@link startNatsServer} runs the server; by default 127.0.0.1 on a free port, in this process's network namespace. */
export interface NatsServerOptions {
  /** The address it listens on. Default 127.0.0.1. */
  readonly host?: string;
  /** The port. Default: a free one (found in this process's network namespace). */
  readonly port?: number;
  /**
   * A command the server is run through, e.g. `['ip', 'netns', 'exec', 'ns-a']` (which execs it,
   * so the child is the server itself). This process may not reach such a server: it is taken
   * for ready when it logs "Server is ready", not by connecting to it.
   */
  readonly prefix?: readonly string[];
  /** How long it may take to come up. Default 10 s. */
  readonly timeoutMs?: number;
  /** More arguments for the server, e.g. `['--user', 'u', '--pass', 'p', '--tls', …]`. */
  readonly args?: readonly string[];
  /** JetStream on (`-js` with the temporary store). Default true; false: a server the cluster cannot use. */
  readonly jetStream?: boolean;
}

/** A running server with its own temporary store. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGKILL: an outage; SIGTERM: a clean stop) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store (the JetStream KV bucket survives). */
  restart(): Promise<void>;
  /** Stops it for good (SIGTERM) and removes its store. */
  close(): Promise<void>;
}

/**
 * Starts `nats-server -js` with a temporary store (127.0.0.1 on a free port unless told;
 * without `-js` when `jetStream` is false).
 *
 * @throws {NatsServerNotFoundError} without a binary; {@link NatsServerStartError} when it does not come up.
 * @example
 * ```ts
 * const server = await startNatsServer();
 * const cluster = await connect({ servers: server.url });
 * await server.close();
 * ```
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const prefix = options.prefix ?? [];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const store = mkdtempSync(join(tmpdir(), 'bc-nats-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    let log = '';
    const args = [binary, '-a', host, '-p', String(port), ...(options.jetStream === false ? [] : ['-js', '-sd', store]), ...(options.args ?? [])];
    const c = spawn(prefix[0] ?? binary, [...prefix.slice(1), ...(prefix.length > 0 ? args : args.slice(1))], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logged: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (logged = () => log.includes('Server is ready') && resolve()));
    c.stdout?.on('data', (d: Buffer) => ((log += d.toString()), logged()));
    c.stderr?.on('data', (d: Buffer) => ((log += d.toString()), logged()));
    child = c;
    const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new NatsServerStartError(`nats-server exited (${code}): ${log.trim()}`))));
    exited.catch(() => undefined);
    await Promise.race([prefix.length > 0 ? ready : accepting(port, timeoutMs), exited]);
  };
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((resolve) => c.once('exit', resolve));
    c.kill(signal);
    await gone;
  };
  const close = async () => {
    await stop('SIGTERM');
    rmSync(store, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (err) {
    await close();
    throw err;
  }
  return { url: `nats://${host}:${port}`, port, stop, restart: start, close };
}
