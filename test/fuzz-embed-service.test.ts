/**
 * Fuzzing the embed service's HTTP inputs (examples/embed-service): the body of
 * `POST /sessions/:id/prompt` through `parseSwitchBody` (and of `POST /sessions` through
 * `parseOpenBody`), and whole requests (method, target, Host, Origin, Content-Type,
 * body) sent raw to `route`, with a stand-in for the sessions, on an ephemeral port. A bad input is a 4xx with a JSON error that
 * names its code (and, for a body, the field); never a 500, never a hang. See docs/fuzzing.md.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RuntimeBusyError } from 'block-cascade';
import { ChannelError, type Channel, type Channels, type ChannelStatus } from '../examples/embed-service/channel.js';
import { HttpError } from '../examples/embed-service/errors.js';
import { MAX_BODY_BYTES, MAX_PROMPT_CHARS, parseOpenBody, parseSwitchBody } from '../examples/embed-service/http.js';
import { route, type RouteContext } from '../examples/embed-service/routes.js';
import { hostileJson, outcome, params } from './support/fuzz.js';

const BODY_CODES = ['INVALID_JSON', 'INVALID_BODY', 'INVALID_FIELD'];

function parsesOrRefuses(text: string): void {
  const result = outcome(() => parseSwitchBody(text), [HttpError], /./);
  if (result.ok) {
    expect(result.value).toBe(result.value.trim());
    expect(result.value.length).toBeGreaterThan(0);
    expect(result.value.length).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
  } else {
    const error = result.error as HttpError;
    expect(error.status).toBe(400);
    expect(BODY_CODES).toContain(error.code);
    expect(typeof error.field).toBe('string');
    // The field at fault is named in the message as well as in `field`.
    if (error.field !== '') expect(error.message).toContain(JSON.stringify(error.field));
  }
}

const bodyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  hostileJson.map((v) => JSON.stringify(v) ?? ''),
  fc.record({ prompt: fc.oneof(hostileJson, fc.string({ maxLength: 250 }), fc.nat(300).map((n) => ` ${'a'.repeat(n)} `)) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom('prompt', 'promt', '__proto__', 'constructor', ''), hostileJson, { maxKeys: 3 }).map((v) => JSON.stringify(v)),
  fc.tuple(fc.string({ maxLength: 40 }), fc.nat()).map(([p, n]) => {
    const t = JSON.stringify({ prompt: p });
    return t.slice(0, n % (t.length + 1));
  }),
);

describe('fuzz: embed service request bodies', () => {
  it('parseSwitchBody returns the trimmed prompt or a 400 naming the field', () => {
    fc.assert(fc.property(bodyText, parsesOrRefuses), params(3000));
  });

  it('parseOpenBody takes an empty body or {} as "the default prompt", anything else as a switch body', () => {
    expect(parseOpenBody('')).toBeUndefined();
    expect(parseOpenBody(' {} ')).toBeUndefined();
    expect(parseOpenBody('{"prompt": " blue "}')).toBe('blue');
    fc.assert(
      fc.property(bodyText, (text) => {
        const result = outcome(() => parseOpenBody(text), [HttpError], /./);
        if (!result.ok) expect((result.error as HttpError).status).toBe(400);
        else if (result.value !== undefined) parsesOrRefuses(text);
      }),
      params(1000),
    );
  });

  it('refuses a prompt nested far deeper than any body with a 400 naming the field (regression: a RangeError)', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    for (const text of [deep, `{"prompt":${deep}}`, `{"x":${deep}}`]) parsesOrRefuses(text);
    expect(() => parseSwitchBody(`{"prompt":${deep}}`)).toThrow('field "prompt": expected a string, got [[[');
  });
});

describe('fuzz: embed service requests', () => {
  let server: Server;
  let port = 0;
  let switches = 0;
  let opens = 0;
  let busyNext = false;
  /** Every request's handling, in arrival order. */
  const handled: Promise<void>[] = [];
  const status: ChannelStatus = { state: 'running', session: 1, viewers: 0, prompt: 'red ball moving left', block: 3, frames: 9, dropped: 0 };
  // What the routes use of a session (`s1`, the one listed); a third of the switches are refused
  // as a busy session refuses them.
  const channel = {
    id: 's1',
    number: 1,
    done: Promise.resolve(),
    stop: () => {},
    status: () => status,
    addViewer: (viewer: { end: () => void }) => {
      setImmediate(() => viewer.end());
      return () => {};
    },
    subscribe: () => () => {},
    switchPrompt: async () => {
      if (++switches % 3 === 0) throw new ChannelError('TOO_MANY_SWITCHES', 'too many switches in flight');
      return { fromBlock: 4 };
    },
  } as unknown as Channel;
  // What the routes use of the sessions: every other open is refused as a full runtime refuses it.
  const channels = {
    maxViewers: 2,
    get: (id: string) => (id === 's1' ? channel : undefined),
    status: () => ({ maxViewers: 2, sessions: [status] }),
    open: async () => {
      if (busyNext || ++opens % 2 === 0) {
        busyNext = false;
        throw new RuntimeBusyError(2, 0, 1500);
      }
      return channel;
    },
  } as unknown as Channels;

  beforeAll(async () => {
    const open = new Set<import('node:http').ServerResponse>();
    const ctx: RouteContext = { channels, text: { vocabulary: ['<pad>', '<unk>', 'red', 'ball'], maxTokens: 8 }, startPrompt: 'red ball', open, closing: () => false, hosts: () => [`127.0.0.1:${port}`, `localhost:${port}`] };
    server = createServer((req, res) => {
      handled.push(route(req, res, ctx));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
  });

  /** Sends `raw`, returns the status and the body when it is JSON of a known length (within 2 s). */
  function send(raw: Buffer): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let data = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no response within 2 s to ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`));
      }, 2000);
      const done = (result: { status: number; body: unknown }) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      };
      socket.on('error', () => {}); // a reset after the response
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = data.subarray(0, end).toString('latin1');
        const statusCode = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? NaN);
        const length = /\r\ncontent-length: (\d+)/i.exec(head)?.[1];
        const json = /\r\ncontent-type: application\/json/i.test(head);
        if (!json || length === undefined) return done({ status: statusCode, body: undefined });
        const body = data.subarray(end + 4);
        if (body.length < Number(length)) return;
        done({ status: statusCode, body: JSON.parse(body.subarray(0, Number(length)).toString('utf8')) });
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const m = /^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'));
        if (m) resolve({ status: Number(m[1]), body: undefined });
        else reject(new Error(`connection closed without a response to ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`));
      });
      socket.end(raw);
    });
  }

  const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=:@%/?#[]'.split('')), maxLength: 24 });
  /** Mostly `good`, sometimes anything: enough requests pass each check to reach the next. */
  const mostly = <T>(good: fc.Arbitrary<T>, other: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: other });
  const request = fc.record({
    method: mostly(fc.constantFrom('GET', 'POST'), fc.oneof(fc.constantFrom('PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'), token.filter((t) => /^[A-Z]+$/.test(t)))),
    target: mostly(
      fc.constantFrom('/sessions/s1/prompt', '/sessions/s1/prompt', '/sessions', '/sessions', '/status', '/', '/?prompt=blue', '/favicon.ico', '/sessions/s1', '/sessions/s1/stream', '/sessions/s1/events', '/sessions/s1/prompt?x=1', 'http://localhost/sessions/s1/prompt', '/sessions/nope/prompt'),
      fc.oneof(fc.constantFrom('/nope', '/prompt', '/stream', '/sessions/', '/sessions/s1/', '/sessions/s1/nope', '/sessions/%2F/prompt', '//', '///', '//:99999', '//[', '*', '/%00', '/%ZZ', '/..%2F'), token.map((t) => `/sessions/${t}`), token.map((t) => `/${t}`), token),
    ),
    host: mostly(fc.constantFrom('own', 'localhost-own'), fc.oneof(fc.constantFrom('evil.example', '', 'none'), token)),
    origin: mostly(fc.constantFrom(undefined, 'own'), fc.oneof(fc.constantFrom('http://evil.example', 'null'), token)),
    site: mostly(fc.constantFrom(undefined, 'same-origin', 'none'), fc.constantFrom('cross-site', 'same-site')),
    contentType: mostly(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'), fc.constantFrom(undefined, 'text/plain', '')),
    // Prompts the stub model knows (switched), and any string (mostly refused for its words).
    body: mostly(fc.oneof(fc.constantFrom('red ball', 'ball', 'Red, ball!'), fc.string({ maxLength: 40 })).map((prompt) => JSON.stringify({ prompt })), fc.oneof(bodyText, fc.nat(MAX_BODY_BYTES + 200).map((n) => JSON.stringify({ prompt: 'a'.repeat(n) })))),
  });

  it('refuses a prompt with words the model does not know, naming them and listing the vocabulary (the library tokenizer), and one over the token limit', async () => {
    const post = (prompt: string) => {
      const body = Buffer.from(JSON.stringify({ prompt }), 'utf8');
      return send(Buffer.concat([Buffer.from(`POST /sessions/s1/prompt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'latin1'), body]));
    };
    const before = switches;
    const unknown = await post('Red squirrel, ball and Squirrel');
    expect(unknown.status).toBe(400);
    expect((unknown.body as { error: unknown }).error).toMatchObject({ code: 'UNKNOWN_WORDS', field: 'prompt', unknownWords: ['squirrel', 'and'], vocabulary: ['red', 'ball'] });
    expect((unknown.body as { error: { message: string } }).error.message).toMatch(/^field "prompt": the model does not know the words "squirrel", "and"; it knows: red ball/);
    const long = await post('red ball red ball red ball red ball red');
    expect(long.status).toBe(400);
    expect((long.body as { error: unknown }).error).toMatchObject({ code: 'PROMPT_TOO_LONG', field: 'prompt', maxTokens: 8 });
    // Refused before the channel was asked to switch.
    expect(switches).toBe(before);
  });

  it('a session beyond the cap is a 503 RUNTIME_BUSY with Retry-After in whole seconds from the runtime\'s retryAfterMs', async () => {
    busyNext = true;
    const body = Buffer.from('{"prompt": "red ball"}');
    const raw = Buffer.concat([Buffer.from(`POST /sessions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'latin1'), body]);
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1').on('data', (d: string) => (text += d));
    socket.end(raw);
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(text).toMatch(/\r\nRetry-After: 2\r\n/i);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'RUNTIME_BUSY', retryAfterMs: 1500, maxViewers: 2 } });
  });

  it('a client that aborts its POST body is let go quietly: no stack trace, the next request is answered', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const arrived = once(server, 'request');
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST /sessions/s1/prompt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":`);
      await arrived;
      socket.destroy();
      await handled.at(-1);
      expect(logged).not.toHaveBeenCalled();
      const next = await send(Buffer.from(`GET /status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
      expect(next.status).toBe(200);
    } finally {
      logged.mockRestore();
    }
  });

  it('answers every request with a status other than 500, errors as JSON with their code (regression: a target such as "//" was a 500)', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const hostHeader = r.host === 'own' ? `127.0.0.1:${port}` : r.host === 'localhost-own' ? `localhost:${port}` : r.host;
        const originHeader = r.origin === 'own' ? `http://127.0.0.1:${port}` : r.origin;
        const body = Buffer.from(r.body, 'utf8');
        const lines = [
          `${r.method} ${r.target} HTTP/1.1`,
          ...(r.host === 'none' ? [] : [`Host: ${hostHeader}`]),
          ...(originHeader === undefined ? [] : [`Origin: ${originHeader}`]),
          ...(r.site === undefined ? [] : [`Sec-Fetch-Site: ${r.site}`]),
          ...(r.contentType === undefined ? [] : [`Content-Type: ${r.contentType}`]),
          `Content-Length: ${body.length}`,
          'Connection: close',
        ];
        const { status: code, body: answer } = await send(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
        seen.add(code);
        expect(code).not.toBe(500);
        expect(code).toBeGreaterThanOrEqual(200);
        expect(code).toBeLessThan(600);
        if (code >= 400 && answer !== undefined) {
          const error = (answer as { error: { code: unknown; message: unknown } }).error;
          expect(typeof error.code).toBe('string');
          expect(typeof error.message).toBe('string');
        }
      }),
      params(600),
    );
    // The cases reach every answer: switches, refusals of each kind, and Node's own 400.
    if (params(600).numRuns! >= 600) for (const code of [200, 400, 403, 404, 405, 413, 415, 503]) expect(seen).toContain(code);
  });
});
