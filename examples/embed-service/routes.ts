/**
 * The service's HTTP routes. Every viewer (a page) has its own session, named by the id
 * `POST /sessions` returns:
 *
 * - `GET /`                     the viewer page; it opens its own session (`?prompt=` sets the starting prompt)
 * - `POST /sessions`            `{}` or `{"prompt": "…"}` → 201 `{ id, session, prompt, maxViewers }` once the
 *   session runs; 503 `RUNTIME_BUSY` with `Retry-After` (seconds) when `maxViewers` sessions run already
 * - `GET /sessions/:id`         the session's status; `DELETE` stops it
 * - `GET /sessions/:id/stream`  its frames as a `multipart/x-mixed-replace` PNG stream (`<img src>`); the
 *   session stops when its last stream closes
 * - `GET /sessions/:id/events`  Server-Sent Events: `hello` (the status), then `frame`, `switch`, `recache`, `end`
 * - `POST /sessions/:id/prompt` `{"prompt": "…"}` → `{ prompt, fromBlock }`, for this session only; a word the
 *   model does not know is refused (400 `UNKNOWN_WORDS` with `unknownWords` and `vocabulary`), as is a prompt
 *   over the model's token limit (400 `PROMPT_TOO_LONG` with `maxTokens`), by the library's tokenizer
 * - `GET /status`               `{ maxViewers, sessions: [status, …] }` (no ids: those are the viewers' own)
 *
 * Errors are JSON: `{ "error": { "code", "message", "field"? } }`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkOrigin, checkPromptWords, GenerationAbortedError, PromptTooLongError, RuntimeBusyError, UnknownWordsError, type PromptVocabulary } from 'block-cascade';
import { ChannelError, type Channel, type ChannelEvent, type Channels } from './channel.js';
import { HttpError } from './errors.js';
import { parseOpenBody, parseSwitchBody, readJsonText, sendJson } from './http.js';
import { renderPage } from './page.js';

const BOUNDARY = 'frame';
/** Keeps idle proxies and load balancers from closing the events stream. */
const HEARTBEAT_MS = 15_000;

/** What the routes need from the service. */
export interface RouteContext {
  /** The viewers' sessions. */
  readonly channels: Channels;
  /** The model's vocabulary and token limit (`runtime.manifest.text`): prompts are checked against them. */
  readonly text: PromptVocabulary;
  readonly startPrompt: string;
  /** Open long-lived responses (streams, events), ended when the service closes. */
  readonly open: Set<ServerResponse>;
  readonly closing: () => boolean;
  /**
   * The `Host` values this service answers (`127.0.0.1:PORT`, `localhost:PORT`, …), or null to
   * answer any (listening on every interface, where the names it is reached by are unknown):
   * `allowedHosts` of the address it listens on.
   */
  readonly hosts?: () => readonly string[] | null;
}

/**
 * The guard in front of every route: the inspector's Host and Origin policy (`checkOrigin`), so
 * that a web page elsewhere cannot reach the service through a rebound DNS name, call it from its
 * scripts, or open or watch a session by embedding its stream in an `<img>`.
 *
 * @throws {HttpError} 403 `FORBIDDEN_HOST` or `FORBIDDEN_ORIGIN`.
 */
function guard(req: IncomingMessage, ctx: RouteContext): void {
  const refusal = checkOrigin(req.headers, ctx.hosts?.() ?? null);
  if (refusal) throw new HttpError(403, refusal.code, refusal.message);
}

type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext, id: string) => void | Promise<void>;

/**
 * The listed session `id`.
 *
 * @throws {HttpError} 404 `NO_SESSION` for an id never given out, or of a session that ended.
 */
function channelOf(ctx: RouteContext, id: string): Channel {
  const channel = ctx.channels.get(id);
  if (channel === undefined) throw new HttpError(404, 'NO_SESSION', 'no such session (it ended, or never existed): reload the page, or POST /sessions, to open one');
  return channel;
}

function page(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): void {
  const nonce = randomBytes(16).toString('base64');
  // The page's script opens its session under `?prompt=` itself (checked then); this only picks the form's suggestion.
  const wanted = new URL(req.url ?? '/', 'http://localhost').searchParams.get('prompt')?.trim();
  const html = renderPage(nonce, wanted || ctx.startPrompt);
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    // Nothing but this service: proves the page needs no external network.
    'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self'; connect-src 'self'; form-action 'self'`,
  });
  res.end(html);
}

function stream(_req: IncomingMessage, res: ServerResponse, ctx: RouteContext, id: string): void {
  const channel = channelOf(ctx, id);
  res.writeHead(200, {
    'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
  });
  res.write(`--${BOUNDARY}\r\n`);
  ctx.open.add(res);
  const leave = channel.addViewer({
    send: (png) => {
      // A viewer still busy with an earlier frame skips this one ("replace" semantics):
      // one slow browser must not hold the others back or grow the server's memory.
      if (res.destroyed || res.writableEnded || res.writableNeedDrain) return false;
      res.write(`Content-Type: image/png\r\nContent-Length: ${png.length}\r\n\r\n`);
      res.write(png);
      // The boundary goes right after the part, not before the next one: a browser may hold a
      // part back until the boundary that ends it arrives, which would show every frame late.
      res.write(`\r\n--${BOUNDARY}\r\n`);
      return true;
    },
    end: () => res.end(),
  });
  // A closed tab or a dropped connection: the viewer leaves; the last one stops the session.
  res.on('close', () => {
    ctx.open.delete(res);
    leave();
  });
}

function events(_req: IncomingMessage, res: ServerResponse, ctx: RouteContext, id: string): void {
  const channel = channelOf(ctx, id);
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
  const send = (type: string, data: unknown) => {
    if (!res.destroyed && !res.writableEnded) res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  res.write('retry: 2000\n\n');
  // A page that connects mid-session learns which session the frames it gets belong to.
  send('hello', channel.status());
  const off = channel.subscribe((event: ChannelEvent) => send(event.type, event));
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  ctx.open.add(res);
  res.on('close', () => {
    ctx.open.delete(res);
    off();
    clearInterval(heartbeat);
  });
}

const SWITCH_ERROR_STATUS: Record<ChannelError['code'], number> = { SESSION_ENDED: 409, TOO_MANY_SWITCHES: 503 };

/**
 * Refuses a prompt the model cannot read as written, before the switch, with the library's
 * tokenizer check (the one the runtime applies), so a client learns which words to change.
 *
 * @throws {HttpError} 400 `UNKNOWN_WORDS` (with `unknownWords`, `vocabulary`) or `PROMPT_TOO_LONG` (with `maxTokens`).
 */
function checkWords(prompt: string, text: PromptVocabulary): void {
  try {
    checkPromptWords('prompt', prompt, text);
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/^option "prompt"/, 'field "prompt"') : String(error);
    if (error instanceof UnknownWordsError) throw new HttpError(400, 'UNKNOWN_WORDS', message, 'prompt', {}, { unknownWords: error.unknownWords, vocabulary: error.vocabulary });
    if (error instanceof PromptTooLongError) throw new HttpError(400, 'PROMPT_TOO_LONG', message, 'prompt', {}, { maxTokens: error.maxTokens });
    throw error;
  }
}

async function prompt(req: IncomingMessage, res: ServerResponse, ctx: RouteContext, id: string): Promise<void> {
  const channel = channelOf(ctx, id);
  const text = parseSwitchBody(await readJsonText(req));
  checkWords(text, ctx.text);
  try {
    const { fromBlock } = await channel.switchPrompt(text);
    sendJson(res, 200, { prompt: text, fromBlock });
  } catch (error) {
    if (!(error instanceof ChannelError)) throw error;
    throw new HttpError(SWITCH_ERROR_STATUS[error.code], error.code, error.message, undefined, error.code === 'TOO_MANY_SWITCHES' ? { 'Retry-After': '1' } : {});
  }
}

/**
 * Opens the viewer's own session under its prompt (or `--prompt`); answers once it runs.
 *
 * @throws {HttpError} 503 `RUNTIME_BUSY` with `Retry-After` when `maxViewers` sessions run (the
 * runtime's `RuntimeBusyError`), 503 `SHUTTING_DOWN` when the service closes meanwhile.
 */
async function open(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> {
  const text = parseOpenBody(await readJsonText(req));
  if (text !== undefined) checkWords(text, ctx.text);
  let channel: Channel;
  try {
    channel = await ctx.channels.open(text);
  } catch (error) {
    if (error instanceof RuntimeBusyError) {
      const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
      throw new HttpError(503, 'RUNTIME_BUSY', `all ${error.running} viewer sessions are taken (maxViewers); retry in about ${seconds} s`, undefined, { 'Retry-After': String(seconds) }, { retryAfterMs: error.retryAfterMs, maxViewers: error.running });
    }
    if (error instanceof GenerationAbortedError || ctx.closing()) throw new HttpError(503, 'SHUTTING_DOWN', 'the service is shutting down');
    throw error;
  }
  const { session, prompt } = channel.status();
  sendJson(res, 201, { id: channel.id, session, prompt, maxViewers: ctx.channels.maxViewers }, { Location: `/sessions/${channel.id}` });
}

function sessionStatus(_req: IncomingMessage, res: ServerResponse, ctx: RouteContext, id: string): void {
  sendJson(res, 200, channelOf(ctx, id).status());
}

async function stopSession(_req: IncomingMessage, res: ServerResponse, ctx: RouteContext, id: string): Promise<void> {
  const channel = channelOf(ctx, id);
  channel.stop('stopped');
  await channel.done; // its memory set is free once this answers
  sendJson(res, 200, channel.status());
}

function status(_req: IncomingMessage, res: ServerResponse, ctx: RouteContext): void {
  sendJson(res, 200, ctx.channels.status());
}

/** Browsers ask for it unprompted; "no content" keeps their consoles free of 404s. */
function noIcon(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(204, { 'Cache-Control': 'max-age=86400' });
  res.end();
}

type Methods = Partial<Record<string, Handler>>;

const ROUTES: Record<string, Methods> = {
  '/': { GET: page },
  '/favicon.ico': { GET: noIcon },
  '/sessions': { POST: open },
  '/status': { GET: status },
};

/** Routes of one session, under `/sessions/:id`. */
const SESSION_ROUTES: Record<string, Methods> = {
  '': { GET: sessionStatus, DELETE: stopSession },
  '/stream': { GET: stream },
  '/events': { GET: events },
  '/prompt': { POST: prompt },
};

/** The methods of `path` and the session id it names (`''` for none), or undefined for no route. */
function match(path: string): { methods: Methods; id: string } | undefined {
  const fixed = ROUTES[path];
  if (fixed !== undefined) return { methods: fixed, id: '' };
  const m = /^\/sessions\/([A-Za-z0-9_-]{1,64})(\/[a-z]+)?$/.exec(path);
  const methods = m === null ? undefined : SESSION_ROUTES[m[2] ?? ''];
  return methods === undefined ? undefined : { methods, id: (m as RegExpExecArray)[1] as string };
}

/**
 * The path of a request target. A target that is no URL path (`//`, `//[`, which `new URL`
 * reads as a host and refuses) is the client's mistake: a 400, not a 500.
 *
 * @throws {HttpError} 400 `BAD_REQUEST`.
 */
function pathOf(target: string): string {
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', `request target ${JSON.stringify(target.slice(0, 60))} is not a path such as /status`);
  }
}

/**
 * Routes one request; every failure becomes a JSON error response.
 *
 * @example
 * ```ts
 * createServer((req, res) => void route(req, res, ctx));
 * ```
 */
export async function route(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> {
  try {
    guard(req, ctx);
    const path = pathOf(req.url ?? '/');
    const found = match(path);
    if (found === undefined) throw new HttpError(404, 'NOT_FOUND', `no route ${path}; try ${Object.keys(ROUTES).join(', ')}, /sessions/:id${Object.keys(SESSION_ROUTES).join(', /sessions/:id')}`);
    const { methods, id } = found;
    const handler = methods[req.method ?? 'GET'];
    if (handler === undefined) {
      const allow = Object.keys(methods).join(', ');
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} ${path} is not supported; use ${allow}`, undefined, { Allow: allow });
    }
    if (ctx.closing()) throw new HttpError(503, 'SHUTTING_DOWN', 'the service is shutting down');
    await handler(req, res, ctx, id);
  } catch (error) {
    // The client went away (e.g. it aborted its body): nobody is left to answer, nothing to log.
    if (req.destroyed && !req.complete) return;
    if (res.headersSent) {
      res.destroy(error as Error);
      return;
    }
    if (error instanceof HttpError) {
      // An oversized body is left unread: close the connection rather than read it to the end.
      const headers = error.status === 413 ? { ...error.headers, Connection: 'close' } : error.headers;
      sendJson(res, error.status, error.toBody(), headers);
    } else {
      console.error('embed-service:', error);
      sendJson(res, 500, { error: { code: 'INTERNAL', message: (error as Error).message ?? String(error) } });
    }
  }
}
