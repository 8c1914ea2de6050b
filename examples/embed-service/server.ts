/**
 * An embedding example: a small node:http service that streams a live generation to browser
 * pages and takes prompt switches from them (see README.md in this folder).
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
import { Channel } from './channel.js';
import { ServiceOptionError } from './errors.js';
import { parseCommandLine, resolveOptions, type ServiceOptions } from './options.js';
import { route, type RouteContext } from './routes.js';

export type { ServiceOptions } from './options.js';
export type { ChannelEvent, ChannelStatus } from './channel.js';

/** A running service. */
export interface Service {
  /** Base URL of the page, e.g. `http://127.0.0.1:40123/`. */
  readonly url: string;
  /** Stops the session, ends every stream, closes the server and then the runtime. Idempotent. */
  close(): Promise<void>;
}

function urlOf(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}/`;
}

/**
 * Loads the model, starts the lanes and listens. Nothing is generated until a page (or any
 * client of `GET /stream`) connects.
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
  const runtime = await createRuntime({ lanes: o.lanes, ...(o.model === undefined ? {} : { model: o.model }) });
  try {
    // The start prompt is checked like a posted one, before the service listens.
    checkPromptWords('prompt', o.prompt, runtime.manifest.text);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const channel = new Channel(runtime, o);
  // Pages see a failed session in its `end` event; the operator sees it here.
  channel.subscribe((event) => {
    if (event.type === 'end' && event.reason === 'failed') console.error(`embed-service: session ${event.session} failed: ${event.error}`);
  });
  const open = new Set<ServerResponse>();
  let closing = false;
  let bound = 0;
  // The inspector's policy (allowedHosts): loopback and named hosts answer only by their own
  // names; every interface (0.0.0.0, ::) answers any (the operator's choice).
  const hosts = () => allowedHosts(o.host, bound);
  const ctx: RouteContext = { channel, text: runtime.manifest.text, startPrompt: o.prompt, open, closing: () => closing, hosts };
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
        await channel.close(); // the session is stopped and its lanes are free
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
