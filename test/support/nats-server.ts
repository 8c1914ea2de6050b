/**
 * A real nats-server with JetStream for the cluster tests: a free port, a temporary store, and
 * stop/restart on the same port and store (a server restart keeps the KV bucket). No server
 * binary is a failure with the way to get one, never a skip: these tests are the cluster's proof.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepting, freePort, natsServerBinary } from '../../src/bench/nats-server.js';

/** Where {@link startNatsServer} runs the server; by default 127.0.0.1 on a free port, in this process's network namespace. */
export interface NatsServerOptions {
  /** The address it listens on. Default 127.0.0.1. */
  readonly host?: string;
  /** The port. Default: a free one (found in this process's network namespace). */
  readonly port?: number;
  /**
   * A command the server is run through, e.g. `['ip', 'netns', 'exec', 'ns-a']` (which execs it,
   * so the child is the server itself). The test process may not reach such a server: it is
   * taken for ready when it logs "Server is ready", not by connecting to it.
   */
  readonly prefix?: readonly string[];
}

/** A running test server. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGKILL: an outage; SIGTERM: a clean stop) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
  /** Stops it for good and removes its store. */
  close(): Promise<void>;
}

/**
 * Starts `nats-server -js` on a free port with a temporary store.
 *
 * @example
 * ```ts
 * const server = await startNatsServer();
 * const cluster = await connect({ servers: server.url });
 * ```
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const prefix = options.prefix ?? [];
  const store = mkdtempSync(join(tmpdir(), 'bc-nats-'));
  let child: ChildProcess | null = null;
  let log = '';
  const start = async () => {
    log = '';
    const args = [binary, '-a', host, '-p', String(port), '-js', '-sd', store];
    const c = spawn(prefix[0] ?? binary, [...prefix.slice(1), ...(prefix.length > 0 ? args : args.slice(1))], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logged: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (logged = () => log.includes('Server is ready') && resolve()));
    c.stdout?.on('data', (d: Buffer) => ((log += d.toString()), logged()));
    c.stderr?.on('data', (d: Buffer) => ((log += d.toString()), logged()));
    child = c;
    const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`))));
    exited.catch(() => undefined);
    await Promise.race([prefix.length > 0 ? ready : accepting(port), exited]);
  };
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((resolve) => c.once('exit', resolve));
    c.kill(signal);
    await gone;
  };
  await start();
  return {
    url: `nats://${host}:${port}`,
    port,
    stop,
    restart: start,
    async close() {
      await stop('SIGTERM');
      rmSync(store, { recursive: true, force: true });
    },
  };
}
