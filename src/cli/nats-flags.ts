/**
 * The NATS credential and TLS flags that `worker` and `run --nats` share. Secrets come from the
 * environment, never from the command line, where `ps` shows them to every user of the machine:
 * a password with `--nats-user`, or a token on its own.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { NatsAuth } from '../cluster/nats-auth.js';

/** The password that goes with `--nats-user`. */
export const NATS_PASSWORD_ENV = 'BLOCK_CASCADE_NATS_PASSWORD';
/** A token the server requires (`nats-server --auth`). */
export const NATS_TOKEN_ENV = 'BLOCK_CASCADE_NATS_TOKEN';

/** The flags, as commander parses them. */
export interface NatsFlags {
  readonly natsUser?: string;
  readonly natsCreds?: string;
  readonly natsTlsCa?: string;
  readonly natsTlsCert?: string;
  readonly natsTlsKey?: string;
}

/** A flag's file argument, read once here so that a wrong path is a usage error naming the flag. */
function readableFile(path: string): string {
  try {
    readFileSync(path);
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return path;
}

/**
 * Adds `--nats-user`, `--nats-creds`, `--nats-tls-ca`, `--nats-tls-cert` and `--nats-tls-key`.
 *
 * @example
 * ```ts
 * withNatsFlags(program.command('worker').requiredOption('--nats <url>', '…'));
 * ```
 */
export function withNatsFlags(command: Command): Command {
  return command
    .option('--nats-user <name>', `NATS user; the password is read from $${NATS_PASSWORD_ENV} (a token the server asks for from $${NATS_TOKEN_ENV})`)
    .option('--nats-creds <file>', 'NATS credentials file (JWT and NKey seed, as nsc writes it)', readableFile)
    .option('--nats-tls-ca <file>', 'CA certificate that signed the NATS server\'s (turns TLS on)', readableFile)
    .option('--nats-tls-cert <file>', 'client certificate, for a server that verifies clients (with --nats-tls-key)', readableFile)
    .option('--nats-tls-key <file>', 'the client certificate\'s key', readableFile);
}

/**
 * The {@link NatsAuth} the flags and the environment describe; undefined when they describe none.
 *
 * @throws {InvalidArgumentError} naming the flag or variable that is missing or in conflict.
 * @example
 * ```ts
 * const auth = natsAuthFromFlags(options, process.env);
 * ```
 */
export function natsAuthFromFlags(flags: NatsFlags, env: NodeJS.ProcessEnv): NatsAuth | undefined {
  const pass = env[NATS_PASSWORD_ENV];
  const token = env[NATS_TOKEN_ENV];
  if (flags.natsUser !== undefined && !pass) throw new InvalidArgumentError(`--nats-user ${flags.natsUser} needs its password in $${NATS_PASSWORD_ENV}`);
  const ways = [flags.natsUser !== undefined && '--nats-user', flags.natsCreds !== undefined && '--nats-creds', !!token && `$${NATS_TOKEN_ENV}`].filter((w): w is string => typeof w === 'string');
  if (ways.length > 1) throw new InvalidArgumentError(`give one way to authenticate to NATS, not ${ways.join(' and ')}`);
  if ((flags.natsTlsCert === undefined) !== (flags.natsTlsKey === undefined)) throw new InvalidArgumentError('--nats-tls-cert and --nats-tls-key go together');
  const tls = flags.natsTlsCa !== undefined || flags.natsTlsCert !== undefined
    ? { ...(flags.natsTlsCa === undefined ? {} : { caFile: flags.natsTlsCa }), ...(flags.natsTlsCert === undefined ? {} : { certFile: flags.natsTlsCert, keyFile: flags.natsTlsKey as string }) }
    : undefined;
  const auth: NatsAuth = {
    ...(flags.natsUser === undefined ? {} : { user: flags.natsUser, pass: pass as string }),
    ...(flags.natsCreds === undefined ? {} : { credsFile: flags.natsCreds }),
    ...(token ? { token } : {}),
    ...(tls === undefined ? {} : { tls }),
  };
  return Object.keys(auth).length === 0 ? undefined : auth;
}
