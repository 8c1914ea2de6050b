/**
 * NATS subject names of the cluster. Every subject is built here so that a worker and a client
 * can never disagree on one; ids are checked so that a dot or a wildcard in an id cannot make a
 * subject address more (or other) tokens than meant.
 */

/** Prefix of every subject and the KV bucket's name: one place to change if two clusters share a server. */
export const SUBJECT_PREFIX = 'bc';

/** The JetStream KV bucket where workers register capacity and health. */
export const WORKERS_BUCKET = 'block_cascade_workers';

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks a worker or session id: letters, digits, `_` and `-` only (1–64), since an id is one
 * subject token and one KV key.
 *
 * @example
 * ```ts
 * checkId('w1', 'worker id'); // 'w1'
 * checkId('a.b', 'worker id'); // throws TypeError
 * ```
 */
export function checkId(id: string, what: string): string {
  if (!ID.test(id)) throw new TypeError(`${what} "${id}" must be 1 to 64 letters, digits, "_" or "-" (it is a NATS subject token)`);
  return id;
}

/**
 * Subjects of one worker.
 *
 * @example
 * ```ts
 * workerSubjects('w1').open; // 'bc.worker.w1.open'
 * ```
 */
export function workerSubjects(workerId: string): { readonly open: string; readonly alive: string; readonly ping: string } {
  const base = `${SUBJECT_PREFIX}.worker.${checkId(workerId, 'worker id')}`;
  // `ping` is answered while the worker's connection lives: once it is gone the server answers
  // "no responders" at once, which tells a dead worker from a slow one faster than silence.
  return { open: `${base}.open`, alive: `${base}.alive`, ping: `${base}.ping` };
}

/**
 * Subjects of one placed session (one attempt: a failover opens a new session id, so frames of
 * the old attempt can never mix with the new one's).
 *
 * @example
 * ```ts
 * sessionSubjects('c1-s1-a0').frame; // 'bc.session.c1-s1-a0.frame'
 * ```
 */
export function sessionSubjects(sessionId: string): { readonly frame: string; readonly event: string; readonly control: string } {
  const base = `${SUBJECT_PREFIX}.session.${checkId(sessionId, 'session id')}`;
  return { frame: `${base}.frame`, event: `${base}.event`, control: `${base}.control` };
}
