/**
 * The symbol `await using` calls. Node 20 defines `Symbol.asyncDispose` (as
 * `Symbol.for('nodejs.asyncDispose')`); the fallback keeps older runtimes and bundlers that
 * lack it working with an explicit call.
 */
export const ASYNC_DISPOSE: typeof Symbol.asyncDispose = (Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')) as typeof Symbol.asyncDispose;
