/**
 * Opening a cluster connection to NATS, with what the client, the worker and the snapshot store
 * all ask of it: reconnecting forever once connected (a server restart is survived), and a first
 * connection that fails with a {@link ClusterConnectError} when the server refuses its
 * credentials or its TLS, instead of retrying them forever.
 */
import { connect, ConnectionError, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { ClusterConnectError } from './errors.js';
import { natsAuthOptions, type NatsAuth } from './nats-auth.js';

/** What {@link openNats} needs. */
export interface OpenNatsOptions {
  readonly servers: string | readonly string[];
  /** The connection's name, as the server's monitoring shows it. */
  readonly name: string;
  readonly auth?: NatsAuth | undefined;
  /**
   * Wait for a server that is not up yet (connection refused, unreachable), trying again every
   * 250 ms, instead of failing: a worker may start before its server. Default false.
   */
  readonly waitForServer?: boolean;
  /** Ends the wait for the server. */
  readonly signal?: AbortSignal | undefined;
  /** Called once when the first attempt finds no server and the wait begins. */
  readonly onWait?: (reason: string) => void;
}

const RETRY_MS = 250;

/**
 * Connects to one of `servers`.
 *
 * @throws {ClusterConnectError} when the server refuses the credentials or the TLS settings (or,
 *   without `waitForServer`, when no server answers).
 * @example
 * ```ts
 * const nc = await openNats({ servers: ['nats://127.0.0.1:4222'], name: 'block-cascade client' });
 * ```
 */
export async function openNats(options: OpenNatsOptions): Promise<NatsConnection> {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
  const connectOptions: ConnectionOptions = { servers, name: options.name, maxReconnectAttempts: -1, reconnectTimeWait: RETRY_MS, ...natsAuthOptions(options.auth) };
  let waiting = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return await connect(connectOptions);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // Refused or unreachable: the server may yet come. Anything else (authorization, TLS) it
      // would say again on every attempt.
      if (!(options.waitForServer === true && err instanceof ConnectionError)) throw new ClusterConnectError(servers, reason, { cause: err });
      if (!waiting) options.onWait?.(reason);
      waiting = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RETRY_MS);
        options.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}
