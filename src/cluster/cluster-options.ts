/**
 * The cluster API's options checked at the door, as `createRuntime` and `generate` check
 * theirs: `connect`, `startWorker` and a cluster session refuse an unknown field or a value of
 * the wrong kind with an `InvalidOptionError` naming the field, before anything connects,
 * loads or is placed.
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkFields, checkGenerateOptions, isPlainObject, resolveRequest } from '../core/options.js';
import type { GenerateRequest } from '../core/api-types.js';
import type { SessionOptions } from '../core/session-types.js';
import { checkId } from './subjects.js';

const CLUSTER_FIELDS = ['servers', 'auth', 'deadAfterMs', 'probeAfterMs', 'creditFrames', 'openTimeoutMs', 'failoverTimeoutMs', 'stallMs', 'staleAfterMs', 'snapshotEvery', 'keyframeEvery'] as const;
const WORKER_FIELDS = ['servers', 'auth', 'signal', 'lanes', 'maxSessions', 'id', 'model', 'heartbeatMs', 'registerMs', 'clientTimeoutMs', 'log'] as const;
/** Session options that stay on the worker's side of the wire: refused rather than ignored. */
const LOCAL_ONLY: Readonly<Record<string, string>> = {
  trace: "a cluster session's trace stays on its worker",
  snapshots: 'the workers take the snapshots (connect({ snapshotEvery }))',
  resumeFrom: 'a cluster session resumes on its own, from the snapshots in the store',
};

/** `servers`: one URL or a non-empty list of them. */
function checkServers(servers: unknown): void {
  const ok = typeof servers === 'string' ? servers !== '' : Array.isArray(servers) && servers.length > 0 && servers.every((s) => typeof s === 'string' && s !== '');
  if (!ok) throw new InvalidOptionError('servers', 'a NATS server URL or a non-empty list of them', servers);
}

/** Millisecond fields: positive numbers when given. */
function checkMs(options: Record<string, unknown>, fields: readonly string[]): void {
  for (const field of fields) {
    const value = options[field];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)) throw new InvalidOptionError(field, 'a positive number of milliseconds', value);
  }
}

/**
 * Checks `connect` options (the snapshot settings are checked with their defaults by `connect`).
 *
 * @throws {InvalidOptionError} naming the field.
 * @example
 * ```ts
 * checkClusterOptions({ servers: 'nats://127.0.0.1:4222', deadAfterMs: 1000 }); // passes
 * ```
 */
export function checkClusterOptions(options: unknown): void {
  if (!isPlainObject(options)) throw new InvalidOptionError('options', 'an object { servers, … }', options);
  checkFields(options, CLUSTER_FIELDS);
  checkServers(options['servers']);
  checkMs(options, ['deadAfterMs', 'probeAfterMs', 'openTimeoutMs', 'failoverTimeoutMs', 'stallMs', 'staleAfterMs']);
  const credit = options['creditFrames'];
  if (credit !== undefined && (!Number.isSafeInteger(credit) || (credit as number) < 1)) throw new InvalidOptionError('creditFrames', 'a positive integer', credit);
}

/**
 * Checks `startWorker` options (lanes, sessions and model are checked by `createRuntime`).
 *
 * @throws {InvalidOptionError} naming the field.
 * @example
 * ```ts
 * checkWorkerOptions({ servers: 'nats://127.0.0.1:4222', id: 'gpu-1' }); // passes
 * ```
 */
export function checkWorkerOptions(options: unknown): void {
  if (!isPlainObject(options)) throw new InvalidOptionError('options', 'an object { servers, … }', options);
  checkFields(options, WORKER_FIELDS);
  checkServers(options['servers']);
  checkMs(options, ['heartbeatMs', 'registerMs', 'clientTimeoutMs']);
  const id = options['id'];
  if (id !== undefined) {
    try {
      checkId(id as string, 'worker id');
    } catch {
      throw new InvalidOptionError('id', '1 to 64 letters, digits, "_" or "-" (a NATS subject token)', id);
    }
  }
  const log = options['log'];
  if (log !== undefined && typeof log !== 'function') throw new InvalidOptionError('log', 'a function', log);
  const signal = options['signal'];
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidOptionError('signal', 'an AbortSignal', signal);
}

/**
 * Checks a cluster session's request and its options' fields as a runtime does at the call;
 * what depends on the worker's model and lanes (the prompt's words, the steps a sampler allows,
 * an exec mode's lanes) is still the worker's to refuse, after placement.
 *
 * @throws {InvalidOptionError} naming the field.
 * @example
 * ```ts
 * checkClusterSession({ seed: 1, blocks: 8, prompt: 'red ball moving left' }, { steps: 8 }); // passes
 * ```
 */
export function checkClusterSession(request: GenerateRequest, options: SessionOptions): void {
  resolveRequest(request);
  checkGenerateOptions(options, 'session');
  for (const [field, why] of Object.entries(LOCAL_ONLY)) {
    const value = (options as Record<string, unknown>)[field];
    if (value !== undefined) throw new InvalidOptionError(field, `none on a cluster session (${why})`, value);
  }
}
