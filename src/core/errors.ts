/**
 * Typed errors of the runtime. Each says what went wrong and where (lane, block, stage), so
 * that a failure deep in a worker reads like a sentence at the top.
 */
import type { Stage } from './domain.js';

/** A lane's worker failed a task or could not start. */
export class LaneError extends Error {
  readonly code = 'LANE_FAILED';
  constructor(
    readonly lane: number,
    readonly block: number | null,
    readonly stage: Stage | null,
    what: string,
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

/** Options given to `createRuntime` or `generate` are invalid. */
export class InvalidOptionError extends TypeError {
  readonly code = 'INVALID_OPTION';
  constructor(
    readonly option: string,
    /** What the option must be, as a phrase (`an integer from 0 to 4`). */
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`option "${option}": expected ${expected}, got ${JSON.stringify(got)}`);
    this.name = 'InvalidOptionError';
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
