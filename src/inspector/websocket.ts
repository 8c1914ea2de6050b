/**
 * The inspector's server-push WebSocket, spoken by the `ws` package over node:http's `upgrade`
 * event. The inspector only pushes records to a page, so what is kept here is policy, not
 * protocol: how large a client frame may be, how much unread output a client may leave before
 * it is dropped, and how a refused upgrade is answered. No extension is negotiated
 * (`permessage-deflate` would cost memory per connection for records that are a few hundred
 * bytes).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';

/** Close codes the inspector sends itself (RFC 6455 section 7.4.1); `ws` sends 1002 and 1009 for bad frames. */
export const CLOSE_CODES = { normal: 1000, goingAway: 1001, policy: 1008 } as const;

/** Largest message a client may send: a page sends nothing, and close and ping frames are small. */
export const MAX_CLIENT_PAYLOAD_BYTES = 64 * 1024;

/** Output a client may leave unread before it is dropped (records, and pongs to its pings). */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** How long a closing client has to answer the close before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

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

/** Options of {@link createPushServer}. */
export interface PushServerOptions {
  /** Unread output after which a client is dropped; default {@link MAX_BUFFERED_BYTES}. */
  readonly maxBufferedBytes?: number;
  /** Largest client message; larger ones are closed with 1009. Default {@link MAX_CLIENT_PAYLOAD_BYTES}. */
  readonly maxPayload?: number;
}

/** Accepts upgrades handed over by an HTTP server's `upgrade` event. */
export interface PushServer {
  /**
   * Completes the handshake (or answers a malformed one with 400) and calls `onOpen` with the
   * connection. Check Host, Origin and path first: this accepts any well-formed handshake.
   */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, onOpen: (ws: PushSocket) => void): void;
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
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Wraps one `ws` connection with the buffer limit. */
function pushSocket(ws: WebSocket, maxBufferedBytes: number): PushSocket {
  // `ws` reports protocol faults (an oversized or unmasked frame, a bad close code) as an
  // 'error' after it has sent the close: without a listener it would crash the process.
  ws.on('error', () => undefined);
  // Pongs count against the same limit as records: a client that floods pings and never reads
  // the answers must not grow the server's memory. It cannot read a close frame either, so the
  // connection is dropped at once.
  ws.on('ping', (data) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > maxBufferedBytes) {
      ws.close(CLOSE_CODES.policy, 'client reads too slowly');
      ws.terminate();
    } else ws.pong(data);
  });
  return {
    send(text) {
      if (ws.readyState !== ws.OPEN) return false;
      if (ws.bufferedAmount > maxBufferedBytes) {
        // The close frame waits behind the unread output; the close timeout destroys the socket.
        ws.close(CLOSE_CODES.policy, 'client reads too slowly');
        return false;
      }
      ws.send(text);
      return true;
    },
    close(code = CLOSE_CODES.normal, reason = '') {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    },
    get closed() {
      return ws.readyState !== ws.OPEN;
    },
    onClose(listener) {
      if (ws.readyState === ws.CLOSED) listener();
      else ws.once('close', () => listener());
    },
  };
}

/**
 * A server-push WebSocket endpoint, with no listening socket of its own: hand it the upgrades
 * of an HTTP server.
 *
 * @example
 * ```ts
 * const push = createPushServer();
 * server.on('upgrade', (req, socket, head) => {
 *   push.accept(req, socket, head, (ws) => ws.send(JSON.stringify({ hello: 1 })));
 * });
 * ```
 */
export function createPushServer(options: PushServerOptions = {}): PushServer {
  const maxBufferedBytes = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  // `closeTimeout` is an option of the ws installed here (8.23); @types/ws 8.18 does not list it yet.
  const settings: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    maxPayload: options.maxPayload ?? MAX_CLIENT_PAYLOAD_BYTES,
    perMessageDeflate: false,
    // Pings are answered in pushSocket, where the buffer limit is checked first.
    autoPong: false,
    // The server's own set of pages is kept by its user; `ws` need not keep another.
    clientTracking: false,
    // A client that does not answer a close (ours, or ws's after a bad frame), or reads nothing,
    // must not hold the server open for ws's default 30 s.
    closeTimeout: CLOSE_GRACE_MS,
  };
  const wss = new WebSocketServer(settings);
  return {
    accept(req, socket, head, onOpen) {
      wss.handleUpgrade(req, socket, head, (ws) => onOpen(pushSocket(ws, maxBufferedBytes)));
    },
  };
}
