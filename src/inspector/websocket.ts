/**
 * A minimal server-push WebSocket (RFC 6455) over node:http's `upgrade` event: the handshake,
 * unfragmented text frames out, and from the client only what the protocol obliges a server to
 * answer (close, ping). The inspector only pushes records to a page, so this is all it needs;
 * a couple of hundred hand-written lines keep the package free of another dependency (docs/inspector.md).
 * No extensions are negotiated: Chromium's `permessage-deflate` offer is simply not accepted.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** The GUID RFC 6455 appends to the client's key (section 1.3). */
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const OPCODE = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Status codes used here (RFC 6455 section 7.4.1). */
export const CLOSE_CODES = { normal: 1000, goingAway: 1001, protocolError: 1002, policy: 1008, tooBig: 1009 } as const;

/** Whether a close code may be sent on the wire (RFC 6455 section 7.4). */
function sendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

/** Largest frame a client may send: clients only ever send close and ping frames here. */
const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

/** A handshake that cannot be accepted, with the HTTP status to answer. */
export class WebSocketHandshakeError extends Error {
  override readonly name = 'WebSocketHandshakeError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A client frame the protocol forbids, with the close code to answer it. */
export class WebSocketFrameError extends Error {
  override readonly name = 'WebSocketFrameError';
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** One accepted connection that the server pushes text to. */
export interface PushSocket {
  /** Sends one text message; false (and the socket closed with 1008) when the client reads too slowly. */
  send(text: string): boolean;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  readonly closed: boolean;
  /** Called once when the connection is gone. */
  onClose(listener: () => void): void;
}

/**
 * The `Sec-WebSocket-Accept` value for a client's key.
 *
 * @example
 * ```ts
 * acceptKey('dGhlIHNhbXBsZSBub25jZQ=='); // 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' (RFC 6455's example)
 * ```
 */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + HANDSHAKE_GUID).digest('base64');
}

/**
 * One unfragmented, unmasked frame (servers never mask).
 *
 * @example
 * ```ts
 * socket.write(encodeFrame(0x1, Buffer.from('hello')));
 * ```
 */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode; // FIN: every message is one frame
  if (n < 126) head[1] = n;
  else if (n < 65536) {
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** A decoded client frame. */
interface ClientFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/**
 * Takes the complete frames off the front of `buffer`; returns them and the unread rest.
 *
 * @throws {WebSocketFrameError} for an unmasked or oversized frame.
 */
function readFrames(buffer: Buffer): { frames: ClientFrame[]; rest: Buffer } {
  const frames: ClientFrame[] = [];
  let at = 0;
  for (;;) {
    if (buffer.length - at < 2) break;
    const b0 = buffer[at] as number;
    const b1 = buffer[at + 1] as number;
    if ((b1 & 0x80) === 0) throw new WebSocketFrameError(CLOSE_CODES.protocolError, 'client frames must be masked');
    let length = b1 & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (buffer.length < offset + 2) break;
      length = buffer.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (buffer.length < offset + 8) break;
      const big = buffer.readBigUInt64BE(offset);
      length = big > BigInt(MAX_CLIENT_FRAME_BYTES) ? MAX_CLIENT_FRAME_BYTES + 1 : Number(big);
      offset += 8;
    }
    if (length > MAX_CLIENT_FRAME_BYTES) throw new WebSocketFrameError(CLOSE_CODES.tooBig, `client frame of ${length} bytes`);
    // Control frames (close, ping, pong) carry at most 125 bytes (RFC 6455 section 5.5).
    if ((b0 & 0x08) !== 0 && length > 125) throw new WebSocketFrameError(CLOSE_CODES.protocolError, `control frame of ${length} bytes (at most 125)`);
    if (buffer.length < offset + 4 + length) break;
    const mask = buffer.subarray(offset, offset + 4);
    const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length));
    for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
    frames.push({ opcode: b0 & 0x0f, payload });
    at = offset + 4 + length;
  }
  return { frames, rest: buffer.subarray(at) };
}

/**
 * Checks a WebSocket upgrade request.
 *
 * @throws {WebSocketHandshakeError} with the status to answer (400 for a malformed request,
 *   426 for another protocol version).
 */
function checkHandshake(req: IncomingMessage): string {
  const header = (name: string): string => String(req.headers[name] ?? '').toLowerCase();
  if (req.method !== 'GET') throw new WebSocketHandshakeError(400, 'a WebSocket handshake must be a GET');
  if (!header('upgrade').split(/\s*,\s*/).includes('websocket')) throw new WebSocketHandshakeError(400, 'expected "Upgrade: websocket"');
  if (header('sec-websocket-version') !== '13') throw new WebSocketHandshakeError(426, 'only WebSocket version 13 is spoken here');
  const key = String(req.headers['sec-websocket-key'] ?? '');
  if (Buffer.from(key, 'base64').length !== 16) throw new WebSocketHandshakeError(400, 'missing or malformed Sec-WebSocket-Key');
  return key;
}

/**
 * Answers a refused upgrade with a plain HTTP response and drops the connection.
 *
 * @example
 * ```ts
 * server.on('upgrade', (req, socket) => refuseUpgrade(socket, 404, 'no such endpoint'));
 * ```
 */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  // A client reset after the refusal (ECONNRESET) must not become an unhandled 'error' that
  // takes the whole process down; nor may a client that never closes keep the socket.
  if (socket.listenerCount('error') === 0) socket.on('error', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${status === 426 ? 'Upgrade Required' : 'Refused'}\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Completes the handshake of an upgrade request and returns the connection.
 *
 * @param maxBufferedBytes Output the client may leave unread before it is dropped: a page that
 *   stops reading must not grow the server's memory without bound.
 * @throws {WebSocketHandshakeError} for a request that is not a version-13 WebSocket handshake
 *   (answer it with {@link refuseUpgrade}).
 *
 * @example
 * ```ts
 * server.on('upgrade', (req, socket) => {
 *   const ws = acceptWebSocket(req, socket);
 *   ws.send(JSON.stringify({ hello: 1 }));
 * });
 * ```
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, maxBufferedBytes = 8 * 1024 * 1024): PushSocket {
  const key = checkHandshake(req);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
  let closed = false;
  let closeSent = false;
  const listeners: (() => void)[] = [];
  const gone = (): void => {
    if (closed) return;
    closed = true;
    for (const listener of listeners.splice(0)) listener();
  };
  const close = (code: number = CLOSE_CODES.normal, reason = ''): void => {
    if (closed || closeSent) return;
    closeSent = true;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    socket.end(encodeFrame(OPCODE.close, payload));
    // A client that never answers the close must not keep the server from shutting down.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    try {
      const { frames, rest } = readFrames(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const frame of frames) {
        if (frame.opcode === OPCODE.close) {
          // Echo the status code (the first two bytes), as the closing handshake asks: only a
          // code an endpoint may send (1005, 1006, 1015 and unassigned ones may not be) — any
          // other, or a one-byte payload, is answered as a protocol error.
          const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : CLOSE_CODES.normal;
          close(frame.payload.length === 1 || !sendableCloseCode(code) ? CLOSE_CODES.protocolError : code);
        } else if (frame.opcode === OPCODE.ping && !closeSent) {
          // Pongs count against the same limit as records: a client that floods pings and never
          // reads the answers must not grow the server's memory. It cannot read a close frame
          // either, so the connection is dropped at once.
          if (socket.writableLength > maxBufferedBytes) {
            close(CLOSE_CODES.policy, 'client reads too slowly');
            socket.destroy();
            return;
          }
          socket.write(encodeFrame(OPCODE.pong, frame.payload));
        }
        // Text, binary and pong frames from the page carry nothing the server needs.
      }
    } catch (err) {
      close(err instanceof WebSocketFrameError ? err.code : CLOSE_CODES.protocolError, (err as Error).message);
    }
  });
  socket.on('close', gone);
  socket.on('error', () => socket.destroy());
  return {
    send(text) {
      if (closed || closeSent) return false;
      if (socket.writableLength > maxBufferedBytes) {
        close(CLOSE_CODES.policy, 'client reads too slowly');
        return false;
      }
      socket.write(encodeFrame(OPCODE.text, Buffer.from(text, 'utf8')));
      return true;
    },
    close,
    get closed() {
      return closed || closeSent;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
}
