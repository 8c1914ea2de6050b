/**
 * The inspector's server without a browser: its routes and guards (Host, Origin, methods), the
 * port check, and the `/live` WebSocket — handshake, a pushed record arriving as one text
 * frame, the closing handshake, the frame and buffer limits — spoken from a raw socket, so the
 * bytes on the wire are checked, not what a client library makes of them.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InspectorServerError } from '../src/inspector/errors.js';
import type { TraceModel } from '../src/inspector/model.js';
import { startInspector, type Inspector } from '../src/inspector/server.js';
import { parseTrace } from '../src/inspector/trace-file.js';
import { createPushServer, MAX_CLIENT_PAYLOAD_BYTES, type PushSocket } from '../src/inspector/websocket.js';
import type { AddressInfo } from 'node:net';
import type { TraceRecord } from '../src/core/trace-records.js';

const FIXTURE = 'test/fixtures/p4-lanes.jsonl';
const records = parseTrace(readFileSync(FIXTURE, 'utf8'), FIXTURE);

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function get(inspector: Inspector, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: inspector.port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const KEY = Buffer.from('0123456789abcdef').toString('base64');

/** The `Sec-WebSocket-Accept` RFC 6455 (section 1.3) asks for a client's key. */
const acceptKey = (key: string): string => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

/** Opens a WebSocket by hand; resolves with the socket, or the refusal's status. */
function upgrade(inspector: Inspector, path: string, headers: Record<string, string> = {}): Promise<{ socket: Socket; accept: string } | { status: number }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: inspector.port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': KEY, ...headers },
    });
    req.on('upgrade', (res, socket: Socket) => resolve({ socket, accept: String(res.headers['sec-websocket-accept']) }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads server frames (unmasked, unfragmented) until `count` have come. */
function readFrames(socket: Socket, count: number): Promise<{ opcode: number; payload: Buffer }[]> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    const frames: { opcode: number; payload: Buffer }[] = [];
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (buffer.length < 2) break;
        let length = (buffer[1] as number) & 0x7f;
        let at = 2;
        if (length === 126) {
          if (buffer.length < 4) break;
          length = buffer.readUInt16BE(2);
          at = 4;
        } else if (length === 127) {
          if (buffer.length < 10) break;
          length = Number(buffer.readBigUInt64BE(2));
          at = 10;
        }
        if (buffer.length < at + length) break;
        frames.push({ opcode: (buffer[0] as number) & 0x0f, payload: buffer.subarray(at, at + length) });
        buffer = buffer.subarray(at + length);
      }
      if (frames.length >= count) {
        socket.off('data', onData);
        resolve(frames);
      }
    };
    socket.on('data', onData);
  });
}

/** A client frame: clients must mask. Any length, in the 7-, 16- or 64-bit form it needs. */
function masked(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i & 3] as number)));
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126) head[0] = 0x80 | opcode;
  if (n >= 126 && n < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, mask, body]);
}

describe('inspector server', () => {
  let inspector: Inspector;
  beforeAll(async () => {
    inspector = await startInspector({ records });
  });
  afterAll(async () => {
    await inspector?.close();
  });

  it('listens on 127.0.0.1 and serves the page, its script and style, with a strict CSP', async () => {
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(inspector, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).toContain('id="scrubber"');
    // Every reference is to the inspector itself.
    for (const [, ref] of page.body.matchAll(/(?:src|href)="([^"]*)"/g)) expect(ref?.startsWith('/')).toBe(true);
    const script = await get(inspector, '/inspector.js');
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(() => new Function(script.body)).not.toThrow();
    expect((await get(inspector, '/inspector.css')).status).toBe(200);
  });

  it('serves the records, the derived model and a Chrome trace', async () => {
    expect(JSON.parse((await get(inspector, '/trace')).body)).toEqual(records);
    const model = JSON.parse((await get(inspector, '/model')).body) as TraceModel;
    expect(model.forwards).toBe(32);
    const chrome = await get(inspector, '/chrome-trace.json');
    expect(chrome.headers['content-disposition']).toContain('attachment');
    expect(JSON.parse(chrome.body)).toHaveProperty('traceEvents');
  });

  it('answers only by its own name, only GET, and 404 elsewhere', async () => {
    expect((await get(inspector, '/trace', { Host: 'attacker.example:80' })).status).toBe(403);
    expect((await get(inspector, '/trace', { Host: `localhost:${inspector.port}` })).status).toBe(200);
    expect((await get(inspector, '/trace', {}, 'POST')).status).toBe(405);
    expect((await get(inspector, '/nothing')).status).toBe(404);
  });

  it('refuses a WebSocket when not live', async () => {
    expect(await upgrade(inspector, '/live')).toEqual({ status: 404 });
  });

  it('refuses a port out of range or taken', async () => {
    await expect(startInspector({ port: 70000 })).rejects.toThrow(InspectorServerError);
    await expect(startInspector({ port: inspector.port })).rejects.toThrow(/is taken/);
  });
});

describe('live inspector WebSocket', () => {
  let inspector: Inspector;
  beforeAll(async () => {
    inspector = await startInspector({ live: true });
  });
  afterAll(async () => {
    await inspector?.close();
  });

  it("checks the handshake against RFC 6455's own example of the accept key", () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('pushes each record as one text frame, answers ping and closes cleanly', async () => {
    const opened = await upgrade(inspector, '/live', { Origin: inspector.url.slice(0, -1) });
    if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
    const { socket, accept } = opened;
    expect(accept).toBe(acceptKey(KEY));
    const incoming = readFrames(socket, 3);
    const pushed = records.slice(0, 2) as TraceRecord[];
    for (const r of pushed) inspector.push(r);
    socket.write(masked(0x9, Buffer.from('hi')));
    const frames = await incoming;
    expect(frames.slice(0, 2).map((f) => [f.opcode, JSON.parse(f.payload.toString('utf8'))])).toEqual(pushed.map((r) => [1, r]));
    expect(frames[2]).toEqual({ opcode: 0xa, payload: Buffer.from('hi') });
    expect(inspector.records()).toEqual(pushed);
    // A meta record starts a new generation.
    inspector.push(records[0] as TraceRecord);
    expect(inspector.records()).toHaveLength(1);
    await readFrames(socket, 1);
    const closing = readFrames(socket, 1);
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    socket.write(masked(0x8, code));
    const [close] = await closing;
    expect(close).toEqual({ opcode: 0x8, payload: code });
    await new Promise((resolve) => socket.on('close', resolve));
  });

  it('answers a close code it may not send, or a control frame over 125 bytes, with 1002', async () => {
    const open = async () => {
      const opened = await upgrade(inspector, '/live', { Origin: inspector.url.slice(0, -1) });
      if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
      return opened.socket;
    };
    const code = (n: number) => {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(n);
      return b;
    };
    for (const n of [1005, 1006, 1015, 999, 2000]) {
      const socket = await open();
      const reply = readFrames(socket, 1);
      socket.write(masked(0x8, code(n)));
      expect((await reply)[0]).toEqual({ opcode: 0x8, payload: Buffer.concat([code(1002), Buffer.from('')]) });
      socket.destroy();
    }
    // A ping of 126 bytes: the 16-bit length form, which only data frames may use.
    const socket = await open();
    const reply = readFrames(socket, 1);
    const mask = Buffer.from([1, 2, 3, 4]);
    socket.write(Buffer.concat([Buffer.from([0x89, 0x80 | 126, 0, 126]), mask, Buffer.alloc(126)]));
    const [close] = await reply;
    expect(close?.opcode).toBe(0x8);
    expect(close?.payload.readUInt16BE(0)).toBe(1002);
    socket.destroy();
  });

  it("refuses another site's page", async () => {
    expect(await upgrade(inspector, '/live', { Origin: 'http://attacker.example' })).toEqual({ status: 403 });
    expect(await upgrade(inspector, '/live', { Origin: inspector.url.slice(0, -1), 'Sec-Fetch-Site': 'cross-site' })).toEqual({ status: 403 });
  });

  it('closes a client frame over the payload limit with 1009, and goes on serving', async () => {
    const opened = await upgrade(inspector, '/live', { Origin: inspector.url.slice(0, -1) });
    if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
    const { socket } = opened;
    socket.on('error', () => undefined); // the server may drop us before the payload is all written
    const reply = readFrames(socket, 1);
    const gone = new Promise((resolve) => socket.on('close', resolve));
    socket.write(masked(0x2, Buffer.alloc(MAX_CLIENT_PAYLOAD_BYTES + 1, 7)));
    const [close] = await reply;
    expect(close?.opcode).toBe(0x8);
    expect(close?.payload.readUInt16BE(0)).toBe(1009);
    // Not answering the close: the server destroys the socket after its short grace, not ws's 30 s.
    await gone;
    expect((await get(inspector, '/trace')).status).toBe(200);
    const again = await upgrade(inspector, '/live', { Origin: inspector.url.slice(0, -1) });
    expect('socket' in again).toBe(true);
    if ('socket' in again) again.socket.destroy();
  });
});

/**
 * A live inspector in a child process that reports each server-side socket's close on stdout:
 * a process that an unhandled socket error would crash, and a way to know that the server has
 * seen a client's reset without waiting on a clock.
 */
const CHILD = `
import { subscribe } from 'node:diagnostics_channel';
import { startInspector } from './src/inspector/server.ts';
subscribe('net.server.socket', ({ socket }) => socket.on('close', () => console.log('closed')));
const inspector = await startInspector({ live: true });
console.log('port ' + inspector.port);
`;

describe('inspector against clients that reset', () => {
  it('survives a refused upgrade (Origin, Host, path) whose socket the client then resets', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const lines: string[] = [];
    const waiters: (() => void)[] = [];
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      lines.push(...s.split('\n').filter(Boolean));
      for (const w of waiters.splice(0)) w();
    });
    /** Resolves when stdout holds `count` lines matching `pattern`; rejects if the child exits first. */
    const until = (pattern: RegExp, count = 1): Promise<string> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const hits = lines.filter((l) => pattern.test(l));
          if (hits.length >= count) resolve(hits[count - 1] as string);
          else waiters.push(check);
        };
        void exited.then((code) => reject(new Error(`inspector exited (${code}): ${stderr}`)));
        check();
      });
    try {
      const port = Number((await until(/^port /)).slice(5));
      const host = `127.0.0.1:${port}`;
      const refusals = [
        { path: '/live', host, origin: 'http://attacker.example', status: 403 },
        { path: '/live', host: 'attacker.example', origin: `http://${host}`, status: 403 },
        { path: '/elsewhere', host, origin: `http://${host}`, status: 404 },
      ];
      for (const [i, r] of refusals.entries()) {
        const status = await new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () =>
            socket.write(`GET ${r.path} HTTP/1.1\r\nHost: ${r.host}\r\nOrigin: ${r.origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`),
          );
          socket.once('data', (d: Buffer) => {
            resolve(d.toString('latin1').split('\r\n')[0] as string);
            socket.resetAndDestroy();
          });
          socket.on('error', reject);
        });
        expect(status).toBe(`HTTP/1.1 ${r.status} Refused`);
        // The server has seen the reset: its side of the connection is closed, the process alive.
        await until(/^closed$/, i + 1);
      }
      const page = await fetch(`http://${host}/`);
      expect(page.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    await exited;
  });
});

/** A push server on a bare HTTP server, and a raw client that has sent the handshake and reads nothing. */
async function unreadClient(maxBufferedBytes: number) {
  const server = createServer();
  const push = createPushServer({ maxBufferedBytes });
  const accepted = new Promise<{ ws: PushSocket; socket: import('node:stream').Duplex }>((resolve) =>
    server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => push.accept(req, socket, head, (ws) => resolve({ ws, socket }))),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const client = connect(port, '127.0.0.1');
  client.on('error', () => undefined); // the server drops us: EPIPE / ECONNRESET expected
  await new Promise((resolve) => client.on('connect', resolve));
  client.write(`GET /live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`);
  client.pause(); // never read: not the 101, not a pong, not a record
  const { ws, socket } = await accepted;
  const gone = new Promise<void>((resolve) => ws.onClose(resolve));
  const stop = async (): Promise<void> => {
    client.destroy();
    socket.destroy(); // an upgraded socket is no longer the HTTP server's to close
    await new Promise((resolve) => server.close(resolve));
  };
  return { ws, socket, client, gone, stop };
}

describe('WebSocket buffer limit', () => {
  const LIMIT = 256 * 1024;
  const CAP = 64 * 1024 * 1024; // far past the limit plus both sides' kernel buffers

  it('drops a client that floods pings and never reads the pongs', async () => {
    const { ws, socket, client, gone, stop } = await unreadClient(LIMIT);
    try {
      const batch = Buffer.concat(Array.from({ length: 1024 }, () => masked(0x9, Buffer.alloc(125, 7))));
      let sent = 0;
      while (sent < CAP && !socket.destroyed && !client.destroyed) {
        sent += batch.length;
        if (!client.write(batch)) await Promise.race([new Promise((resolve) => client.once('drain', resolve)), gone]);
      }
      // The client can run ahead of the server's reading only by the kernel's buffers (a few MB):
      // a server that keeps the limit has dropped it long before CAP; one that does not still
      // holds the connection, with tens of MB of pongs queued.
      expect(socket.destroyed).toBe(true);
      await gone;
      expect(ws.closed).toBe(true);
      expect(sent).toBeLessThan(CAP);
    } finally {
      await stop();
    }
  });

  it('cuts off a page that stops reading the records at the limit', async () => {
    const { ws, socket, gone, stop } = await unreadClient(LIMIT);
    try {
      const record = JSON.stringify({ kind: 'filler', text: 'x'.repeat(64 * 1024) });
      let sent = 0;
      let refused = false;
      while (sent < CAP) {
        if (!ws.send(record)) {
          refused = true;
          break;
        }
        sent += record.length;
        // Let the socket hand what it can to the kernel, as between records of a real run.
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Refused once the kernel's buffers are full and LIMIT more is queued: long before CAP.
      expect(refused).toBe(true);
      expect(sent).toBeLessThan(CAP);
      expect(ws.closed).toBe(true);
      expect(ws.send(record)).toBe(false);
      // The close frame waits behind output the client never reads: the grace ends it.
      await gone;
      expect(socket.destroyed).toBe(true);
    } finally {
      await stop();
    }
  });
});
