/**
 * The service's one shared generation session (a "channel", like a live broadcast): it starts
 * when the first viewer connects, every viewer sees the same frames, a prompt switch from any
 * page applies to all of them, and it stops — freeing the lanes — when the last viewer leaves.
 *
 * Why shared, not one session per connection: a runtime runs one generation at a time, so a
 * second per-connection session would wait, frozen, until the first ended.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodePng, type Frame, type GenerationSession, type Runtime } from 'block-cascade';
import type { ResolvedOptions } from './options.js';

/**
 * What the channel reports to event listeners (the page's Server-Sent Events). `session`
 * numbers the sessions: a stopped one may report its end after the next one started.
 */
export type ChannelEvent = { readonly session: number } & (
  | { readonly type: 'start'; readonly prompt: string; readonly seed: number }
  /** A frame went out to the viewers; `prompt` is the one its block was generated under. */
  | { readonly type: 'frame'; readonly index: number; readonly block: number; readonly prompt: string }
  | { readonly type: 'switch'; readonly prompt: string; readonly fromBlock: number }
  /** Sequential mode re-cached the context under the new prompt before `beforeBlock`. */
  | { readonly type: 'recache'; readonly beforeBlock: number; readonly frames: number; readonly ms: number }
  | { readonly type: 'end'; readonly blocks: number; readonly reason: 'done' | 'no viewers' | 'shutdown' | 'failed'; readonly error?: string }
);

/** One multipart stream: takes each frame as PNG bytes, or is ended with the session. */
export interface Viewer {
  /** Returns false when the frame was dropped because the viewer is still busy with an earlier one. */
  send(png: Buffer): boolean;
  end(): void;
}

/** A snapshot for `GET /status`. `idle` also means the last session's lanes are free. */
export interface ChannelStatus {
  readonly state: 'idle' | 'running' | 'stopping';
  /** Number of the current (or last) session, as in the events. */
  readonly session: number;
  readonly viewers: number;
  readonly prompt: string | null;
  readonly block: number | null;
  readonly frames: number;
  readonly dropped: number;
}

/** Why a switch was refused; the server maps `code` to an HTTP status. */
export class ChannelError extends Error {
  constructor(readonly code: 'NO_SESSION' | 'SESSION_ENDED' | 'TOO_MANY_SWITCHES', message: string) {
    super(message);
    this.name = 'ChannelError';
  }
}

interface Run {
  readonly id: number;
  readonly session: GenerationSession;
  readonly controller: AbortController;
  /** Prompts by first block, in order: the starting prompt, then each switch. */
  readonly segments: { fromBlock: number; prompt: string }[];
  stopReason: 'no viewers' | 'shutdown' | null;
  block: number | null;
  frames: number;
  dropped: number;
  done: Promise<void>;
}

/**
 * The shared session and its viewers and listeners.
 *
 * @example
 * ```ts
 * const channel = new Channel(runtime, resolveOptions({ fps: 12 }));
 * channel.subscribe((e) => console.log(e.type));
 * const leave = channel.addViewer({ send: (png) => socket.write(png), end: () => socket.end() });
 * await channel.switchPrompt('blue square moving up'); // { fromBlock }
 * leave(); // the last viewer: the session stops
 * ```
 */
export class Channel {
  readonly #runtime: Runtime;
  readonly #options: ResolvedOptions;
  readonly #viewers = new Set<Viewer>();
  readonly #listeners = new Set<(event: ChannelEvent) => void>();
  /** Every run not yet wound down, so `close` can wait for all of them. */
  readonly #pending = new Set<Promise<void>>();
  #run: Run | null = null;
  #sessions = 0;
  #closed = false;

  constructor(runtime: Runtime, options: ResolvedOptions) {
    this.#runtime = runtime;
    this.#options = options;
  }

  /** Adds a viewer, starting a session if none runs; returns the function that removes it. */
  addViewer(viewer: Viewer): () => void {
    if (this.#closed) throw new Error('the channel is closed');
    this.#viewers.add(viewer);
    if (this.#run === null || this.#run.stopReason !== null) this.#start();
    return () => {
      if (!this.#viewers.delete(viewer)) return;
      if (this.#viewers.size === 0) this.#stop('no viewers');
    };
  }

  /** Subscribes to channel events; returns the unsubscribe function. */
  subscribe(listener: (event: ChannelEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Switches the running session's prompt; resolves with the first block made under it.
   *
   * @throws {ChannelError} when no session runs, it ended meanwhile, or too many switches are in flight.
   */
  async switchPrompt(prompt: string): Promise<{ readonly fromBlock: number }> {
    const run = this.#run;
    if (run === null || run.stopReason !== null) throw new ChannelError('NO_SESSION', 'no session is running: open the page (or GET /stream) to start one');
    try {
      return await run.session.switchPrompt(prompt);
    } catch (error) {
      if (this.#run !== run || run.stopReason !== null) throw new ChannelError('SESSION_ENDED', 'the session ended before the switch could take effect');
      // The runtime has one context slot per prompt still in use (8 in all); it says so in prose.
      if (/no free prompt slot/.test((error as Error).message)) throw new ChannelError('TOO_MANY_SWITCHES', 'too many prompt switches in flight; retry in a moment');
      throw error;
    }
  }

  status(): ChannelStatus {
    const run = this.#run;
    return {
      state: run === null ? 'idle' : run.stopReason === null ? 'running' : 'stopping',
      session: this.#sessions,
      viewers: this.#viewers.size,
      prompt: run === null ? null : (run.segments.at(-1) as Run['segments'][number]).prompt,
      block: run?.block ?? null,
      frames: run?.frames ?? 0,
      dropped: run?.dropped ?? 0,
    };
  }

  /** Stops the session, waits until its lanes are free and ends every viewer's stream. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop('shutdown');
    await Promise.all(this.#pending);
    for (const viewer of this.#viewers) viewer.end();
    this.#viewers.clear();
  }

  #emit(event: ChannelEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #start(): void {
    const { seed, blocks, prompt, maxBufferedBlocks } = this.#options;
    const controller = new AbortController();
    // A session left behind by the previous viewers may still be winding down: the runtime
    // runs one generation at a time, so this one simply starts after it.
    const session = this.#runtime.session({ seed, blocks, prompt }, { maxBufferedBlocks, signal: controller.signal });
    const run: Run = { id: ++this.#sessions, session, controller, segments: [{ fromBlock: 0, prompt }], stopReason: null, block: null, frames: 0, dropped: 0, done: Promise.resolve() };
    // The runtime reports a switch before any block at or after `fromBlock` is decoded, so
    // every frame can be tagged with the prompt that conditioned its block.
    session.on((event) => {
      if (event.type === 'switch') {
        run.segments.push({ fromBlock: event.fromBlock, prompt: event.prompt });
        this.#emit({ session: run.id, ...event });
      } else if (event.type === 'recache') {
        this.#emit({ session: run.id, ...event });
      }
    });
    this.#run = run;
    this.#emit({ session: run.id, type: 'start', prompt, seed });
    run.done = this.#pump(run);
    this.#pending.add(run.done);
    void run.done.finally(() => this.#pending.delete(run.done));
  }

  #stop(reason: 'no viewers' | 'shutdown'): void {
    const run = this.#run;
    if (run === null || run.stopReason !== null) return;
    run.stopReason = reason;
    // Aborting (rather than `session.stop()`) skips the frames already decoded: nobody is
    // left to watch them, and the lanes come free sooner.
    run.controller.abort(new Error(reason));
  }

  /** Paces the session's frames out to the viewers; returns once its lanes are free. */
  async #pump(run: Run): Promise<void> {
    const interval = this.#options.fps > 0 ? 1000 / this.#options.fps : 0;
    let due = performance.now();
    let error: unknown = null;
    try {
      for await (const frame of run.session.frames) {
        if (interval > 0) {
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait, undefined, { signal: run.controller.signal });
          // A late frame does not make the next ones bunch up to catch up.
          due = Math.max(due, performance.now() - interval) + interval;
        }
        this.#broadcast(run, frame);
      }
    } catch (e) {
      if (!run.controller.signal.aborted) error = e;
    }
    // Leaving the loop, by end, throw or abort, has run the generator's cleanup: lanes are free.
    if (this.#run === run) this.#run = null;
    const reason = error !== null ? 'failed' : (run.stopReason ?? 'done');
    if (reason === 'done' || reason === 'failed') {
      // The video is over for everyone watching it; a new viewer starts a new session.
      for (const viewer of this.#viewers) viewer.end();
      this.#viewers.clear();
    }
    const blocks = run.block === null ? 0 : run.block + 1;
    this.#emit({ session: run.id, type: 'end', blocks, reason, ...(error === null ? {} : { error: (error as Error).message ?? String(error) }) });
  }

  #broadcast(run: Run, frame: Frame): void {
    const png = encodePng(frame);
    for (const viewer of this.#viewers) if (!viewer.send(png)) run.dropped++;
    run.block = frame.block;
    run.frames++;
    let prompt = (run.segments[0] as Run['segments'][number]).prompt;
    for (const segment of run.segments) if (segment.fromBlock <= frame.block) prompt = segment.prompt;
    this.#emit({ session: run.id, type: 'frame', index: frame.index, block: frame.block, prompt });
  }
}
