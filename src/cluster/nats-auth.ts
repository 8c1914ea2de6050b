/**
 * How the cluster's connections authenticate to a NATS server and check its TLS certificate:
 * the client's, the worker's and the worker's snapshot-store thread's (which is why the
 * settings are plain data, file paths rather than file contents or functions: they cross to
 * that thread). The NATS client does the work (`user`/`pass`, `token`, `credsAuthenticator`,
 * `tls`); this module only checks the settings at the door and turns them into its options.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { InvalidOptionError } from '../core/errors.js';

/**
 * Credentials and TLS for a cluster's NATS connections. At most one way to authenticate: `user`
 * with `pass`, a `token`, or a `credsFile` (a JWT and NKey seed, as `nsc` writes it).
 *
 * @example
 * ```ts
 * const cluster = await connect({ servers: 'tls://nats.example:4222', auth: { credsFile: 'worker.creds', tls: { caFile: 'ca.pem' } } });
 * ```
 */
export interface NatsAuth {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  readonly credsFile?: string;
  /**
   * TLS: `caFile`, the authority that signed the server's certificate (for a private one);
   * `certFile` and `keyFile`, this side's certificate when the server verifies clients. Given
   * at all (even `{}`), the connection must be TLS.
   */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
}

const FILE_FIELDS = [['credsFile'], ['tls', 'caFile'], ['tls', 'certFile'], ['tls', 'keyFile']] as const;

/**
 * Refuses settings the server could only reject later, or that a thread could not read: a user
 * without a password (or the other way round), two ways to authenticate at once, an empty
 * string, a certificate without its key, a file that cannot be read.
 *
 * @throws {InvalidOptionError} naming the field (`auth.pass`, `auth.tls.caFile`, …).
 * @example
 * ```ts
 * checkNatsAuth({ user: 'worker' }); // throws: option "auth.pass": expected a password with auth.user …
 * ```
 */
export function checkNatsAuth(auth: NatsAuth | undefined, field = 'auth'): void {
  if (auth === undefined) return;
  if (auth === null || typeof auth !== 'object') throw new InvalidOptionError(field, 'an object ({ user, pass } | { token } | { credsFile }, and tls)', auth);
  for (const key of ['user', 'pass', 'token', 'credsFile'] as const) {
    const value = auth[key];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) throw new InvalidOptionError(`${field}.${key}`, 'a non-empty string', value);
  }
  if ((auth.user === undefined) !== (auth.pass === undefined)) {
    const missing = auth.user === undefined ? 'user' : 'pass';
    throw new InvalidOptionError(`${field}.${missing}`, missing === 'user' ? `a user name with ${field}.pass` : `a password with ${field}.user`, undefined);
  }
  const ways = [auth.user, auth.token, auth.credsFile].filter((v) => v !== undefined).length;
  if (ways > 1) throw new InvalidOptionError(field, 'one way to authenticate: user and pass, a token, or a credentials file', Object.keys(auth).filter((k) => k !== 'tls'));
  const tls = auth.tls;
  if (tls !== undefined) {
    if (tls === null || typeof tls !== 'object') throw new InvalidOptionError(`${field}.tls`, 'an object ({ caFile, certFile, keyFile })', tls);
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw new InvalidOptionError(`${field}.tls.${tls.certFile === undefined ? 'certFile' : 'keyFile'}`, 'a client certificate and its key together', undefined);
  }
  for (const path of FILE_FIELDS) {
    const value = path.length === 1 ? auth[path[0]] : auth.tls?.[path[1]];
    if (value === undefined) continue;
    const name = `${field}.${path.join('.')}`;
    if (typeof value !== 'string' || value.length === 0) throw new InvalidOptionError(name, 'a file path', value);
    try {
      readFileSync(value);
    } catch (err) {
      throw new InvalidOptionError(name, `a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, value);
    }
  }
}

/**
 * The NATS client's connection options for `auth` (the credentials file read now).
 *
 * @example
 * ```ts
 * const nc = await connect({ servers, ...natsAuthOptions({ user: 'worker', pass: process.env.NATS_PASS }) });
 * ```
 */
export function natsAuthOptions(auth: NatsAuth | undefined): Partial<ConnectionOptions> {
  if (auth === undefined) return {};
  return {
    ...(auth.user === undefined ? {} : { user: auth.user, pass: auth.pass }),
    ...(auth.token === undefined ? {} : { token: auth.token }),
    ...(auth.credsFile === undefined ? {} : { authenticator: credsAuthenticator(readFileSync(auth.credsFile)) }),
    ...(auth.tls === undefined ? {} : { tls: { ...auth.tls } }),
  };
}
