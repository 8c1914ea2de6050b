/**
 * The handle of a live session: controls that reach the running generation once it has
 * started (calls made before wait for it), and its events.
 */
import { InvalidOptionError, SessionEndedError } from '../core/errors.js';
import type { Frame } from '../core/api-types.js';
import { ASYNC_DISPOSE } from '../core/dispose.js';
import type { GenerationSession, LiveControls, SessionEvent, SessionLink, SessionPriority } from '../core/session-types.js';

/** Decoded blocks a consumer may leave unread before the generation pauses, by default. */
export const DEFAULT_MAX_BUFFERED_BLOCKS = 4;

/**
 * Builds a session around a generation that `start` runs with the link it is given.
 *
 * @example
 * ```ts
 * const session = liveSession(4, (link) => new Generation(host, resolved, options, link).run(), 1, (level) => priority.set(level));
 * ```
 */
export function liveSession(maxBufferedBlocks: number, start: (link: SessionLink) => AsyncGenerator<Frame, void, undefined>, id: number, setPriority: (level: SessionPriority) => void): GenerationSession {
  if (!Number.isInteger(maxBufferedBlocks) || maxBufferedBlocks < 1) throw new InvalidOptionError('maxBufferedBlocks', 'a positive integer', maxBufferedBlocks);
  const listeners = new Set<(event: SessionEvent) => void>();
  let controls: LiveControls | null = null;
  let ended = false;
  let waiting: { resolve: (c: LiveControls) => void; reject: (e: unknown) => void }[] = [];
  const link: SessionLink = {
    maxBufferedBlocks,
    attach: (c) => {
      controls = c;
      for (const w of waiting) w.resolve(c);
      waiting = [];
    },
    detach: () => {
      controls = null;
      ended = true;
      for (const w of waiting) w.reject(new SessionEndedError());
      waiting = [];
    },
    emit: (event) => listeners.forEach((listener) => listener(event)),
  };
  const live = (): Promise<LiveControls> => {
    if (controls) return Promise.resolve(controls);
    if (ended) return Promise.reject(new SessionEndedError());
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
  const frames = start(link);
  return {
    id,
    frames,
    switchPrompt: async (prompt) => {
      if (typeof prompt !== 'string') throw new InvalidOptionError('prompt', 'a string', prompt);
      return (await live()).switchPrompt(prompt);
    },
    pause: () => void live().then((c) => c.pause(), () => {}),
    resume: () => void live().then((c) => c.resume(), () => {}),
    stop: () => void live().then((c) => c.stop(), () => {}),
    setPriority,
    on: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    [ASYNC_DISPOSE]: async () => {
      // stop() ends a running generation at its next block; return() ends the iterator (and,
      // when iteration never began, keeps the generation from ever starting).
      if (controls) controls.stop();
      await frames.return(undefined);
    },
  };
}
