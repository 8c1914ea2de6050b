/**
 * An embedding example: a small node:http service that gives each browser page its own live
 * generation session, streams it to that page and takes the page's prompt switches (see
 * README.md in this folder).
 *
 *   npx tsx --conditions=block-cascade-source examples/embed-service/server.ts --port 8080
 *
 * Uses only the package's public API (`src/index.ts` is what `import … from 'block-cascade'`
 * gives an installed package), node:http and no other dependency.
 */
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowedHosts, checkPromptWords, createRuntime } from 'block-cascade';
import { Channels } from './channel.js';
import { ServiceOptionError } from './errors.js';
import { parseCommandLine, resolveOptions, type ServiceOptions } from './options.js';
import { route, type RouteContext } from './routes.js';

export type { ServiceOptions } from './options.js';
export type { ChannelEvent, ChannelStatus, ServiceStatus } from './channel.js';

/** A running service. */
export interface Service {
  /** Base URL of the page, e.g. `http://127.0.0.1:40123/`. */
  readonly url: string;
  /** Stops every session, ends every stream, closes the server and then the runtime. Idempotent. */
  close(): Promise<void>;
}

function urlOf(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}/`;
}

/**
 * Loads the model, starts the lanes and listens. Nothing is generated until a page (or any
 * client of `POST /sessions`) opens a session; at most `maxViewers` run at once.
 *
 * @throws {ServiceOptionError} for a bad option, before the model is loaded.
 *
 * @example
 * ```ts
 * const service = await startService({ port: 0, fps: 12 });
 * console.log(`open ${service.url}`);
 * process.once('SIGINT', () => void service.close());
 * ```
 */
export async function startService(options: ServiceOptions = {}): Promise<Service> {
  const o = resolveOptions(options);
  // The viewer cap is the runtime's own: one memory set per viewer, and no queue (a viewer
  // beyond the cap is told to come back, not left watching a frozen page).
  const runtime = await createRuntime({
    lanes: o.lanes,
    maxQueuedSessions: 0,
    ...(o.maxViewers === undefined ? {} : { maxSessions: o.maxViewers }),
    ...(o.model === undefined ? {} : { model: o.model }),
  });
  try {
    // The start prompt is checked like a posted one, before the service listens.
    checkPromptWords('prompt', o.prompt, runtime.manifest.text);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  // Pages see a failed session in its `end` event; the operator sees it here.
  const channels = new Channels(runtime, o, (event) => {
    if (event.reason === 'failed') console.error(`embed-service: session ${event.session} failed: ${event.error}`);
  });
  const open = new Set<ServerResponse>();
  let closing = false;
  let bound = 0;
  // The inspector's policy (allowedHosts): loopback and named hosts answer only by their own
  // names; every interface (0.0.0.0, ::) answers any (the operator's choice).
  const hosts = () => allowedHosts(o.host, bound);
  const ctx: RouteContext = { channels, text: runtime.manifest.text, startPrompt: o.prompt, open, closing: () => closing, hosts };
  const server = createServer((req, res) => void route(req, res, ctx));
  try {
    server.listen(o.port, o.host);
    await once(server, 'listening');
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  bound = port;
  let closed: Promise<void> | null = null;
  return {
    url: urlOf(o.host, port),
    close: () =>
      (closed ??= (async () => {
        closing = true;
        await channels.close(); // every session is stopped and the lanes are free
        for (const res of open) res.end();
        server.close();
        server.closeAllConnections(); // idle keep-alive sockets would hold `close` open
        await runtime.close();
      })()),
  };
}

async function main(): Promise<void> {
  let options: ServiceOptions;
  try {
    options = parseCommandLine(process.argv.slice(2), process.env);
    resolveOptions(options);
  } catch (error) {
    if (!(error instanceof ServiceOptionError)) throw error;
    console.error(`embed-service: ${error.message}`);
    process.exit(2);
  }
  const service = await startService(options);
  console.log(`embed-service: open ${service.url} (Ctrl-C stops)`);
  const stop = () => {
    console.log('embed-service: stopping');
    void service.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Run as a program, not when imported (the test imports `startService`).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error('embed-service:', error);
    process.exit(1);
  });
}
