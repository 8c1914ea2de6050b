/**
 * Typed errors of the runtime. Each says what went wrong and where (lane, block, stage), so
 * that a failure deep in a worker reads like a sentence at the top.
 */
import type { Stage } from './domain.js';
import { describeValue } from './describe-value.js';

/** A lane's worker failed a task or could not start. */
export class LaneError extends Error {
  readonly code = 'LANE_FAILED';
  constructor(
    readonly lane: number,
    readonly block: number | null,
    readonly stage: Stage | null,
    /** What failed, without the place (e.g. `tick failed: the worker died`). */
    readonly what: string,
    cause: unknown,
    /** The worker thread died (exit, uncaught error, out of memory), rather than its task failing. */
    readonly crashed = false,
  ) {
    const where = [`lane ${lane}`, block === null ? null : `block ${block}`, stage === null ? null : `stage ${stage}`]
      .filter(Boolean)
      .join(', ');
    super(`${where}: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'LaneError';
  }
}

/** The caller's AbortSignal stopped a generation. */
export class GenerationAbortedError extends Error {
  readonly code = 'ABORTED';
  constructor(reason?: unknown) {
    super(`generation aborted${reason instanceof Error ? `: ${reason.message}` : ''}`, { cause: reason });
    this.name = 'AbortError';
  }
}

/**
 * The runtime runs `maxSessions` generations and `maxQueuedSessions` more wait for a memory set:
 * this one was refused rather than queued without bound. Retry after about `retryAfterMs`.
 *
 * @example
 * ```ts
 * try {
 *   for await (const frame of runtime.generate({ seed: 1, blocks: 4, prompt: 'red ball moving left' })) send(frame);
 * } catch (error) {
 *   if (error instanceof RuntimeBusyError) reply(503, { retryAfterMs: error.retryAfterMs });
 * }
 * ```
 */
export class RuntimeBusyError extends Error {
  readonly code = 'RUNTIME_BUSY';
  constructor(
    /** Generations running now (the runtime's `maxSessions`). */
    readonly running: number,
    /** Generations waiting for a memory set (the runtime's `maxQueuedSessions`). */
    readonly queued: number,
    /** A hint: milliseconds after which a set is likely free (from the sessions seen so far). */
    readonly retryAfterMs: number,
  ) {
    super(`the runtime is busy: ${running} session(s) running (maxSessions) and ${queued} waiting (maxQueuedSessions); retry in about ${retryAfterMs} ms`);
    this.name = 'RuntimeBusyError';
  }
}

/** Options given to `createRuntime` or `generate` are invalid. */
export class InvalidOptionError extends TypeError {
  readonly code = 'INVALID_OPTION';
  constructor(
    readonly option: string,
    /** What the option must be, as a phrase (`an integer from 0 to 4`). */
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`option "${option}": expected ${expected}, got ${describeValue(got)}`);
    this.name = 'InvalidOptionError';
  }
}

/**
 * The runtime was closed (`runtime.close()`): it starts no generation any more.
 *
 * @example
 * ```ts
 * try { runtime.session(request); } catch (error) { if (error instanceof RuntimeClosedError) reply(503); }
 * ```
 */
export class RuntimeClosedError extends Error {
  readonly code = 'RUNTIME_CLOSED';
  constructor() {
    super('the runtime is closed: it starts no generation any more');
    this.name = 'RuntimeClosedError';
  }
}

/**
 * A live session's control (`switchPrompt`, `setPriority`) was asked of a session that has
 * ended (finished, stopped, aborted, or refused before it ran): nothing is left to steer.
 *
 * @example
 * ```ts
 * await session.switchPrompt('blue ball moving up').catch((e) => { if (!(e instanceof SessionEndedError)) throw e; });
 * ```
 */
export class SessionEndedError extends Error {
  readonly code = 'SESSION_ENDED';
  constructor() {
    super('the session has ended');
    this.name = 'SessionEndedError';
  }
}

/** A block failed; the message says which block, lane and stage. */
export class GenerationFailedError extends Error {
  readonly code = 'GENERATION_FAILED';
  constructor(readonly block: number, message: string) {
    super(block >= 0 ? `block ${block}: ${message}` : message);
    this.name = 'GenerationFailedError';
  }
}

/**
 * A prompt has words the model's vocabulary lacks. The model would read each as "unknown", so
 * the prompt is refused before any work; `allowUnknownWords: true` (generate or session options)
 * lets it through.
 *
 * @example
 * ```ts
 * try {
 *   for await (const frame of runtime.generate({ seed: 1, blocks: 4, prompt: 'red squirrel moving left' }));
 * } catch (error) {
 *   if (error instanceof UnknownWordsError) console.log(error.unknownWords, error.vocabulary); // ['squirrel'], ['ball', …]
 * }
 * ```
 */
export class UnknownWordsError extends InvalidOptionError {
  constructor(
    option: string,
    /** The words of the prompt that are not in the vocabulary, each once, in prompt order. */
    readonly unknownWords: readonly string[],
    /** The words the model knows (its vocabulary without the padding and unknown entries). */
    readonly vocabulary: readonly string[],
  ) {
    super(option, `words of the model's vocabulary (${vocabulary.join(' ')})`, unknownWords);
    const quoted = unknownWords.map((w) => `"${w}"`).join(', ');
    this.message = `option "${option}": the model does not know ${unknownWords.length === 1 ? 'the word' : 'the words'} ${quoted}; it knows: ${vocabulary.join(' ')} (allowUnknownWords: true reads unknown words as <unk>)`;
    this.name = 'UnknownWordsError';
  }
}

/**
 * A prompt has more words than the model's text encoder takes (`text.maxTokens`); the rest
 * would be cut, so the prompt is refused instead.
 *
 * @example
 * ```ts
 * new PromptTooLongError('prompt', 11, 8).message; // 'option "prompt": expected at most 8 words (the model's token limit), got 11 words'
 * ```
 */
export class PromptTooLongError extends InvalidOptionError {
  constructor(
    option: string,
    /** Words (tokens) in the prompt. */
    readonly tokens: number,
    /** The model's token limit (`text.maxTokens`). */
    readonly maxTokens: number,
  ) {
    super(option, `at most ${maxTokens} words (the model's token limit)`, `${tokens} words`);
    this.message = `option "${option}": expected at most ${maxTokens} words (the model's token limit), got ${tokens} words`;
    this.name = 'PromptTooLongError';
  }
}

/**
 * A cluster (`connect`) found no worker with a free session: every registered worker is full,
 * unhealthy, silent or refused. Retry later, or start more workers.
 *
 * @example
 * ```ts
 * try {
 *   for await (const frame of cluster.session({ seed: 1, blocks: 8, prompt: 'red ball moving left' }).frames) send(frame);
 * } catch (error) {
 *   if (error instanceof NoCapacityError) reply(503, { workers: error.workers });
 * }
 * ```
 */
export class NoCapacityError extends Error {
  readonly code = 'NO_CAPACITY';
  constructor(
    /** Workers registered and fresh when the session was placed. */
    readonly workers: number,
    /** Why each one tried did not take the session (`w1: full`, `w2: no reply in 2000 ms`). */
    readonly refusals: readonly string[],
  ) {
    super(`no worker has a free session: ${workers === 0 ? 'no worker is registered' : `${workers} worker(s) registered${refusals.length > 0 ? `; ${refusals.join('; ')}` : ', all full'}`}`);
    this.name = 'NoCapacityError';
  }
}

/**
 * Snapshot bytes (`resumeFrom`) that cannot be read: truncated, not a snapshot, or a field that
 * is missing or out of range. `where` names the place (`snapshot: meta.blocks[2].stage`).
 *
 * @example
 * ```ts
 * try {
 *   for await (const frame of runtime.generate(request, { resumeFrom: bytes })) send(frame);
 * } catch (error) {
 *   if (error instanceof CorruptSnapshotError) console.error(error.where);
 * }
 * ```
 */
export class CorruptSnapshotError extends Error {
  readonly code = 'SNAPSHOT_CORRUPT';
  constructor(
    readonly where: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${where}: ${problem}`, options);
    this.name = 'CorruptSnapshotError';
  }
}

/**
 * Snapshot bytes written by a format version this runtime does not read.
 *
 * @example
 * ```ts
 * new SnapshotVersionError(7, 2).message; // 'snapshot format version 7 is not supported (this runtime reads versions 1 to 2)'
 * ```
 */
export class SnapshotVersionError extends Error {
  readonly code = 'SNAPSHOT_VERSION';
  constructor(
    readonly version: unknown,
    readonly supported: number,
  ) {
    super(`snapshot format version ${JSON.stringify(version)} is not supported (this runtime reads versions 1 to ${supported})`);
    this.name = 'SnapshotVersionError';
  }
}

/**
 * A snapshot taken of another model or another request: resuming it would not make the frames
 * of the run it came from. `field` names what differs (`model`, `seed`, `steps`, `cascade.exec` …).
 *
 * @example
 * ```ts
 * new SnapshotMismatchError('seed', 7, 8).message; // 'resumeFrom: the snapshot was taken with seed 7, this generation has seed 8'
 * ```
 */
export class SnapshotMismatchError extends Error {
  readonly code = 'SNAPSHOT_MISMATCH';
  constructor(
    readonly field: string,
    readonly snapshot: unknown,
    readonly requested: unknown,
  ) {
    super(`resumeFrom: the snapshot was taken with ${field} ${JSON.stringify(snapshot)}, this generation has ${field} ${JSON.stringify(requested)}`);
    this.name = 'SnapshotMismatchError';
  }
}

/**
 * Snapshots or a resume asked of a generation whose options they cannot be honoured with
 * (`cascade.exec: 'stale'`, whose store of last tick's K/V is not in a snapshot), or a resume
 * whose request cannot continue the snapshot (`switches` needing more prompt slots than there
 * are). `option` names the field.
 *
 * @example
 * ```ts
 * new SnapshotUnsupportedError('cascade.exec', 'stale execution keeps K/V of the tick before outside the snapshot').code; // 'SNAPSHOT_UNSUPPORTED'
 * ```
 */
export class SnapshotUnsupportedError extends Error {
  readonly code = 'SNAPSHOT_UNSUPPORTED';
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`option "${option}": ${reason}`);
    this.name = 'SnapshotUnsupportedError';
  }
}

/**
 * An incremental snapshot given alone (`resumeFrom`), or merged without every earlier snapshot
 * of its chain that holds rows it refers to. `missing` lists their `seq`; merge the snapshot
 * with them first (`mergeSnapshots`).
 *
 * @example
 * ```ts
 * new SnapshotIncompleteError(5, [0, 3]).message;
 * // 'snapshot 5 refers to the K/V rows of snapshots 0, 3 of its chain: merge it with them (mergeSnapshots) before resuming'
 * ```
 */
export class SnapshotIncompleteError extends Error {
  readonly code = 'SNAPSHOT_INCOMPLETE';
  constructor(
    readonly seq: number,
    readonly missing: readonly number[],
  ) {
    super(`snapshot ${seq} refers to the K/V rows of snapshots ${missing.join(', ')} of its chain: merge it with them (mergeSnapshots) before resuming`);
    this.name = 'SnapshotIncompleteError';
  }
}
