/** Typed errors of the cluster's wire and remote sessions. */

/**
 * A message received from NATS is not what its subject carries: not msgpack, or a field missing
 * or of the wrong type. Names the subject and the field, so a bad peer is found from one line.
 *
 * @example
 * ```ts
 * try { decodeOpenRequest(bytes, subject); } catch (e) { if (e instanceof ClusterMessageError) log(e.field); }
 * ```
 */
export class ClusterMessageError extends Error {
  readonly code = 'CLUSTER_MESSAGE';
  constructor(
    readonly subject: string,
    /** The field path (`request.seed`), or `message` when the bytes did not decode at all. */
    readonly field: string,
    /** What was expected, as a phrase. */
    readonly expected: string,
    options?: ErrorOptions,
  ) {
    super(`malformed message on ${subject}: field "${field}": expected ${expected}`, options);
    this.name = 'ClusterMessageError';
  }
}

/**
 * A session failed on its worker (a refused request, an unknown word, a lane error): the
 * worker's error, by name and code, with its message.
 */
export class ClusterSessionError extends Error {
  readonly code = 'CLUSTER_SESSION_FAILED';
  constructor(
    readonly worker: string,
    /** The worker-side error's name and code (`InvalidOptionError`, `INVALID_OPTION`). */
    readonly remoteName: string,
    readonly remoteCode: string | undefined,
    message: string,
  ) {
    super(`worker ${worker}: ${message}`);
    this.name = 'ClusterSessionError';
  }
}

/**
 * A connection to the cluster's NATS server was refused for good: its credentials (a wrong
 * password, a token the server does not know) or its TLS (a certificate the client cannot
 * verify, TLS asked for by one side only). Names the servers and says what NATS said.
 *
 * @example
 * ```ts
 * try { await connect({ servers }); } catch (e) { if (e instanceof ClusterConnectError) console.error(e.message); }
 * ```
 */
export class ClusterConnectError extends Error {
  readonly code = 'CLUSTER_CONNECT';
  constructor(readonly servers: readonly string[], reason: string, options?: ErrorOptions) {
    super(`cannot connect to NATS at ${servers.join(', ')}: ${reason}`, options);
    this.name = 'ClusterConnectError';
  }
}

/**
 * Another worker already answers under this id on the server. Two workers with one id would
 * share its subjects and its registry entry: each would take sessions meant for the other, and
 * the first to leave would remove both from the registry. A worker that died frees its id at
 * once (its connection is gone), so a restart under the same id is never refused.
 *
 * @example
 * ```ts
 * try { await startWorker({ servers, id: 'gpu-1' }); } catch (e) { if (e instanceof WorkerIdInUseError) console.error(e.message); }
 * ```
 */
export class WorkerIdInUseError extends Error {
  readonly code = 'WORKER_ID_IN_USE';
  constructor(readonly id: string) {
    super(`worker id "${id}" is in use: a running worker answers under it (give each worker its own id)`);
    this.name = 'WorkerIdInUseError';
  }
}

/**
 * The cluster connection was closed (`cluster.close()`): it places no session and lists no
 * worker any more.
 *
 * @example
 * ```ts
 * try { cluster.session(request); } catch (e) { if (e instanceof ClusterClosedError) reconnect(); }
 * ```
 */
export class ClusterClosedError extends Error {
  readonly code = 'CLUSTER_CLOSED';
  constructor() {
    super('the cluster connection is closed: it places no session any more');
    this.name = 'ClusterClosedError';
  }
}
