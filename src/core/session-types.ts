/**
 * Live sessions: a generation the caller steers while its frames stream (prompt switches,
 * pause, resume, stop), with typed events.
 */
import type { Frame, GenerateOptions } from './api-types.js';
import type { ASYNC_DISPOSE } from './dispose.js';

/** Options of {@link Runtime.session}, beyond those of `generate`. */
export interface SessionOptions extends GenerateOptions {
  /**
   * Decoded blocks the consumer may leave unread before generation pauses (backpressure): a
   * slow consumer slows generation down instead of growing memory. Default 4.
   */
  readonly maxBufferedBlocks?: number;
  /**
   * Where this session's lane work queues among the runtime's other sessions: a `'high'`
   * session's queued tasks leave a shared lane before any `'normal'` one's (each session's own
   * tasks keep their order). Frames do not depend on it. Default `'normal'`.
   */
  readonly priority?: SessionPriority;
}

/** The levels of {@link SessionOptions.priority}, the one list the option check and the cluster wire read. */
export const SESSION_PRIORITIES = ['high', 'normal'] as const;

/** A session's place in the lanes' queues ({@link SessionOptions.priority}). */
export type SessionPriority = (typeof SESSION_PRIORITIES)[number];

/** What a session reports, in order. */
export type SessionEvent =
  | { readonly type: 'switch'; readonly prompt: string; readonly fromBlock: number }
  /** Sequential mode re-cached the cached frames under the new prompt before `beforeBlock`. */
  | { readonly type: 'recache'; readonly beforeBlock: number; readonly frames: number; readonly ms: number }
  | { readonly type: 'block'; readonly block: number; readonly elapsedMs: number; readonly bufferedBlocks: number }
  | { readonly type: 'paused'; readonly reason: 'user' | 'backpressure' }
  | { readonly type: 'resumed' }
  /** A lane crashed too often and was taken out of service; the generation goes on without it. */
  | { readonly type: 'lane-retired'; readonly lane: number; readonly crashes: number; readonly message: string }
  /**
   * The generation ended (`stopped`: by `stop()`). `forwards`: its forwards (denoising and cache
   * steps, replays included), of which `reusedForwards` reused a block's cached features
   * (feature caching) instead of running the layers: this session's share of `Runtime.stats()`.
   */
  | { readonly type: 'end'; readonly blocks: number; readonly stopped: boolean; readonly forwards: number; readonly reusedForwards: number };

/**
 * A running generation. Iterate `frames` to run it; the controls work once iteration started
 * (calls made before wait for it).
 *
 * @example
 * ```ts
 * const session = runtime.session({ seed: 1, blocks: 100, prompt: 'red ball moving left' });
 * session.on((e) => console.log(e.type));
 * setTimeout(() => session.switchPrompt('blue ball moving up'), 500);
 * for await (const frame of session.frames) show(frame);
 * ```
 */
export interface GenerationSession {
  /**
   * The generation's id on its runtime (from 1, in the order `generate` and `session` were
   * called): the `session` field of its trace's meta record, to tell concurrent sessions' traces apart.
   */
  readonly id: number;
  readonly frames: AsyncIterable<Frame>;
  /**
   * Switches the prompt for every block admitted from now on (and, in a cascade, the blocks in
   * flight). Resolves with the first block made under the new prompt.
   */
  switchPrompt(prompt: string): Promise<{ readonly fromBlock: number }>;
  /** Admits no new block until `resume()`; blocks in flight finish. */
  pause(): void;
  resume(): void;
  /** Ends the video: frames already decoded are still delivered, then `frames` ends. */
  stop(): void;
  /**
   * Changes the session's {@link SessionOptions.priority} from now on, e.g. to let a session
   * that fell behind catch up on lanes it shares with others.
   *
   * @example
   * ```ts
   * const session = runtime.session({ seed: 1, blocks: 64, prompt: 'red ball moving left' }, { priority: 'high' });
   * for await (const frame of session.frames) if (frame.index === 12) session.setPriority('normal');
   * ```
   */
  setPriority(priority: SessionPriority): void;
  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (event: SessionEvent) => void): () => void;
  /**
   * For `await using`: stops the session and ends `frames` (frames not yet read are dropped),
   * so the runtime is free for the next generation when the block that holds the session ends.
   *
   * @example
   * ```ts
   * {
   *   await using session = runtime.session({ seed: 1, blocks: 100, prompt: 'red ball moving left' });
   *   for await (const frame of session.frames) if (frame.index === 20) break;
   * } // stopped here
   * ```
   */
  [ASYNC_DISPOSE](): Promise<void>;
}

/** The controls a running generation hands to its session. @internal */
export interface LiveControls {
  switchPrompt(prompt: string): Promise<{ readonly fromBlock: number }>;
  pause(): void;
  resume(): void;
  stop(): void;
}

/** Connects a session handle to the generation behind it. @internal */
export interface SessionLink {
  readonly maxBufferedBlocks: number;
  attach(controls: LiveControls): void;
  detach(): void;
  emit(event: SessionEvent): void;
}
