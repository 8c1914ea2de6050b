/**
 * The inspector's HTTP server on 127.0.0.1: the page, the records, the derived model, a Chrome
 * trace download and, in live mode, a WebSocket that pushes each record as it is traced.
 *
 * Routes: `GET /` page · `/inspector.js`, `/inspector.css` its script and style · `/trace` the
 * records so far (JSON array) · `/model` the views derived from the last generation's
 * (model.ts; `?session=ID` for another shown one) · `/sessions` every shown generation's views on
 * one clock (sessions-model.ts) · `/chrome-trace.json` (chrome-trace.ts, the last generation) ·
 * `/live` WebSocket (live mode): one text message per record, in order.
 *
 * Several generations are shown together when they ran at the same time (sessions sharing one
 * runtime's lanes and one sink): the page then shows them as swimlanes and filters by session.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TraceRecord } from '../core/trace-records.js';
import { chromeTrace } from './chrome-trace.js';
import { InspectorServerError } from './errors.js';
import { deriveModel, type TraceModel } from './model.js';
import { concurrentGroup } from './session-groups.js';
import { deriveSessionsModel, type SessionsModel } from './sessions-model.js';
import { pageHtml, PAGE_SCRIPT, PAGE_STYLE } from './page/index.js';
import { generations } from './trace-file.js';
import { allowedHosts, checkOrigin } from './origin-policy.js';
import { CLOSE_CODES, createPushServer, refuseUpgrade, type PushSocket } from './websocket.js';

/** Where the inspector listens: loopback only, the page is for the person at this machine. */
export const INSPECTOR_HOST = '127.0.0.1';

/** Options of {@link startInspector}. */
export interface InspectorOptions {
  /**
   * Records to start with (a recorded trace). Of several generations, the last is shown with
   * those that ran at the same time as it (`concurrentGroup`), or all with `allGenerations`.
   */
  readonly records?: readonly TraceRecord[];
  /** Show every generation of `records` on one clock, not only the last and its concurrent ones. */
  readonly allGenerations?: boolean;
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Serve `/live` and have the page follow pushed records as they come. */
  readonly live?: boolean;
}

/** A running inspector. */
export interface Inspector {
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string;
  readonly port: number;
  /**
   * Adds a record (and, live, sends it to every connected page). A `meta` record starts a new
   * generation: the generations before it that have ended (or have no session id, or the same
   * one) are dropped, so the page shows the running sessions together and memory stays bounded.
   * A plain function, safe to pass as is (`trace: inspector.push`).
   */
  readonly push: (record: TraceRecord) => void;
  /** The records of the generations shown. */
  records(): readonly TraceRecord[];
  /** Closes the pages' connections and the server. */
  close(): Promise<void>;
}

/**
 * The generations of `records` a new generation (id `session`) is shown with: those still
 * running (no `end` record yet) under another id. A generation without id cannot be told from
 * the new one's records, so it goes, as before ids.
 */
function stillRunning(records: readonly TraceRecord[], session: number | undefined): TraceRecord[][] {
  if (session === undefined) return [];
  return generations(records).filter((g) => {
    const id = g[0]?.session;
    return id !== undefined && id !== session && !g.some((r) => r.kind === 'end');
  });
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...headers,
  });
  res.end(body);
}

/**
 * Starts an inspector.
 *
 * @throws {InspectorServerError} when the port is taken or out of range.
 *
 * @example
 * ```ts
 * // A recorded trace:
 * const inspector = await startInspector({ records: await readTraceFile('run.jsonl') });
 * console.log(`inspector: ${inspector.url}`);
 *
 * // Live, while generating:
 * const live = await startInspector({ live: true });
 * for await (const frame of runtime.generate(request, { trace: live.push })) use(frame);
 * ```
 */
export async function startInspector(options: InspectorOptions = {}): Promise<Inspector> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InspectorServerError(`port must be an integer in [0, 65535], got ${port}`);
  const live = options.live ?? false;
  const given = generations(options.records ?? []);
  const shown = options.allGenerations === true || given.length === 0 ? given : concurrentGroup(given, given.length - 1).map((i) => given[i] as TraceRecord[]);
  let records: TraceRecord[] = shown.flat();
  // The models are derived on demand and kept until the next record: a live page asks at most
  // once per animation frame, a recorded one once.
  let sessions: SessionsModel | null = null;
  let model: TraceModel | null = null;
  const sessionsModel = (): SessionsModel => (sessions ??= deriveSessionsModel(generations(records)));
  const sockets = new Set<PushSocket>();
  let bound = 0;

  // Loopback alone does not keep out a web page elsewhere: the shared policy (origin-policy.ts)
  // answers only requests addressed to this server by its own name, from its own page.
  const policy = (req: IncomingMessage) => checkOrigin(req.headers, allowedHosts(INSPECTOR_HOST, bound));
  const push = createPushServer();

  const server = createServer((req, res) => {
    const refusal = policy(req);
    if (refusal) return send(res, 403, 'text/plain', `${refusal.message}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET\n', { Allow: 'GET, HEAD' });
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    switch (path) {
      case '/':
      case '/index.html':
        return send(res, 200, 'text/html', pageHtml({ live }), {
          'Content-Security-Policy': `default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws://${INSPECTOR_HOST}:${bound} ws://localhost:${bound}; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        });
      case '/inspector.js':
        return send(res, 200, 'text/javascript', PAGE_SCRIPT);
      case '/inspector.css':
        return send(res, 200, 'text/css', PAGE_STYLE);
      case '/trace':
        return send(res, 200, 'application/json', JSON.stringify(records));
      case '/model': {
        const id = url.searchParams.get('session');
        if (id === null) {
          model ??= deriveModel(generations(records).at(-1) ?? []);
          return send(res, 200, 'application/json', JSON.stringify(model));
        }
        const view = sessionsModel().sessions.find((s) => String(s.id) === id);
        if (view === undefined) return send(res, 404, 'text/plain', `no session ${id.slice(0, 20)} here\n`);
        return send(res, 200, 'application/json', JSON.stringify(view.model));
      }
      case '/sessions':
        return send(res, 200, 'application/json', JSON.stringify(sessionsModel()));
      case '/chrome-trace.json':
        return send(res, 200, 'application/json', JSON.stringify(chromeTrace(generations(records).at(-1) ?? [])), { 'Content-Disposition': 'attachment; filename="chrome-trace.json"' });
      case '/favicon.ico':
        res.writeHead(204).end();
        return;
      default:
        return send(res, 404, 'text/plain', `no ${path} here\n`);
    }
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // node:http hands an upgrade's socket over without an 'error' listener: a peer that resets
    // it (refused or accepted) would otherwise crash the inspector and the run it serves.
    socket.on('error', () => socket.destroy());
    const refusal = policy(req);
    if (refusal) return refuseUpgrade(socket, 403, refusal.message);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/live' || !live) return refuseUpgrade(socket, 404, live ? `no WebSocket at ${path}` : 'not a live inspector');
    push.accept(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.onClose(() => sockets.delete(ws));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new InspectorServerError(err.code === 'EADDRINUSE' ? `port ${port} on ${INSPECTOR_HOST} is taken: pick another with --port, or 0 for any` : `cannot listen on ${INSPECTOR_HOST}:${port}: ${err.message}`, { cause: err })),
    );
    server.listen(port, INSPECTOR_HOST, () => resolve());
  });
  bound = (server.address() as AddressInfo).port;

  return {
    url: `http://${INSPECTOR_HOST}:${bound}/`,
    port: bound,
    push: (record) => {
      if (record.kind === 'meta') records = stillRunning(records, record.session).flat();
      records.push(record);
      model = null;
      sessions = null;
      if (sockets.size === 0) return;
      const text = JSON.stringify(record);
      for (const ws of sockets) ws.send(text);
    },
    records: () => records,
    async close() {
      for (const ws of sockets) ws.close(CLOSE_CODES.goingAway, 'inspector closing');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
