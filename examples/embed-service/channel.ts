/**
 * One viewer's generation session (a "channel"): a page opens it (`POST /sessions`), watches it
 * through its own stream and events, switches its prompt, and stops it by leaving. Sessions of
 * different viewers run concurrently on the runtime's memory sets (`maxSessions`), so no viewer
 * waits for another, and no viewer's switch reaches another's video.
 *
 * The {@link Channels} registry opens them: a session the runtime refuses (every set taken,
 * `RuntimeBusyError`) is never listed, and one that ends leaves the list.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodePng, type Frame, type GenerationSession, type Runtime } from 'block-cascade';
import type { ResolvedOptions } from './options.js';

/** How long an opened session waits for its first stream before it is stopped (`no viewers`). */
export const ATTACH_TIMEOUT_MS = 15_000;

/**
 * What a session reports to event listeners (the page's Server-Sent Events). `session`
 * numbers the service's sessions in the order they were opened.
 */
export type ChannelEvent = { readonly session: number } & (
  | { readonly type: 'start'; readonly prompt: string; readonly seed: number }
  /** A frame went out to the viewers; `prompt` is the one its block was generated under. */
  | { readonly type: 'frame'; readonly index: number; readonly block: number; readonly prompt: string }
  | { readonly type: 'switch'; readonly prompt: string; readonly fromBlock: number }
  /** Sequential mode re-cached the context under the new prompt before `beforeBlock`. */
  | { readonly type: 'recache'; readonly beforeBlock: number; readonly frames: number; readonly ms: number }
  | { readonly type: 'end'; readonly blocks: number; readonly reason: 'done' | 'no viewers' | 'stopped' | 'shutdown' | 'failed'; readonly error?: string }
);

/** One multipart stream: takes each frame as PNG bytes, or is ended with the session. */
export interface Viewer {
  /** Returns false when the frame was dropped because the viewer is still busy with an earlier one. */
  send(png: Buffer): boolean;
  end(): void;
}

/** A snapshot of one session, for `GET /sessions/:id` and `GET /status`. */
export interface ChannelStatus {
  readonly state: 'running' | 'stopping' | 'ended';
  /** The session's number, as in its events. */
  readonly session: number;
  /** Open streams of this session (the page's `<img>`: 1 while it is open). */
  readonly viewers: number;
  /** The prompt now in force (the last switch's, else the starting one). */
  readonly prompt: string;
  readonly block: number | null;
  readonly frames: number;
  readonly dropped: number;
}

/** The service-wide snapshot for `GET /status`. */
export interface ServiceStatus {
  /** Sessions that may run at once (`--max-viewers`, the runtime's `maxSessions`). */
  readonly maxViewers: number;
  /** Listed sessions (opened and not yet ended), oldest first. */
  readonly sessions: readonly ChannelStatus[];
}

/** Why a switch was refused; the server maps `code` to an HTTP status. */
export class ChannelError extends Error {
  constructor(readonly code: 'SESSION_ENDED' | 'TOO_MANY_SWITCHES', message: string) {
    super(message);
    this.name = 'ChannelError';
  }
}

type StopReason = 'no viewers' | 'stopped' | 'shutdown';

/**
 * One viewer's session: started at construction; {@link ready} settles once the runtime has
 * admitted it and made its first frame (or refused it). Frames go out only once a stream is
 * attached; the last stream leaving stops the session.
 *
 * @example
 * ```ts
 * const channel = new Channel(runtime, resolveOptions({ fps: 12 }), 1, 'red ball moving left');
 * await channel.ready; // RuntimeBusyError when every memory set is taken
 * const leave = channel.addViewer({ send: (png) => socket.write(png), end: () => socket.end() });
 * await channel.switchPrompt('blue square moving up'); // { fromBlock }
 * leave(); // the last viewer: the session stops
 * ```
 */
export class Channel {
  /** Unguessable: the page's handle on its own session (`/sessions/:id/…`). */
  readonly id = randomBytes(12).toString('base64url');
  readonly number: number;
  /** Resolves once the session runs (its first frame is made); rejects with why it could not. */
  readonly ready: Promise<void>;
  /** Resolves once the session has ended and its memory set and lanes are free. */
  readonly done: Promise<void>;
  readonly #options: ResolvedOptions;
  readonly #session: GenerationSession;
  readonly #controller = new AbortController();
  readonly #viewers = new Set<Viewer>();
  readonly #listeners = new Set<(event: ChannelEvent) => void>();
  /** Prompts by first block, in order: the starting prompt, then each switch. */
  readonly #segments: { fromBlock: number; prompt: string }[];
  #attached!: () => void;
  readonly #attach = new Promise<void>((resolve) => (this.#attached = resolve));
  #stopReason: StopReason | null = null;
  #ended = false;
  #block: number | null = null;
  #frames = 0;
  #dropped = 0;

  constructor(runtime: Runtime, options: ResolvedOptions, number: number, prompt: string) {
    this.#options = options;
    this.number = number;
    const { seed, blocks, maxBufferedBlocks } = options;
    this.#segments = [{ fromBlock: 0, prompt }];
    this.#session = runtime.session({ seed, blocks, prompt }, { maxBufferedBlocks, signal: this.#controller.signal });
    // The runtime reports a switch before any block at or after `fromBlock` is decoded, so
    // every frame can be tagged with the prompt that conditioned its block.
    this.#session.on((event) => {
      if (event.type === 'switch') {
        this.#segments.push({ fromBlock: event.fromBlock, prompt: event.prompt });
        this.#emit({ session: number, ...event });
      } else if (event.type === 'recache') {
        this.#emit({ session: number, ...event });
      }
    });
    let admitted!: () => void;
    let refused!: (error: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => ((admitted = resolve), (refused = reject)));
    this.ready.catch(() => {}); // a caller that never awaits it must not see an unhandled rejection
    this.done = this.#pump(admitted, refused);
  }

  /** Adds a stream; returns the function that removes it. A stream added after the end is ended at once. */
  addViewer(viewer: Viewer): () => void {
    if (this.#ended || this.#stopReason !== null) {
      viewer.end();
      return () => {};
    }
    this.#viewers.add(viewer);
    this.#attached();
    return () => {
      if (!this.#viewers.delete(viewer)) return;
      if (this.#viewers.size === 0) this.stop('no viewers');
    };
  }

  /** Subscribes to the session's events; returns the unsubscribe function. */
  subscribe(listener: (event: ChannelEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Switches this session's prompt; resolves with the first block made under it.
   *
   * @throws {ChannelError} when the session ended (or ends meanwhile), or too many switches are in flight.
   */
  async switchPrompt(prompt: string): Promise<{ readonly fromBlock: number }> {
    if (this.#stopReason !== null || this.#ended) throw new ChannelError('SESSION_ENDED', 'the session has ended: reload the page to open a new one');
    try {
      return await this.#session.switchPrompt(prompt);
    } catch (error) {
      if (this.#stopReason !== null || this.#ended) throw new ChannelError('SESSION_ENDED', 'the session ended before the switch could take effect');
      // The runtime has one context slot per prompt still in use (8 in all); it says so in prose.
      if (/no free prompt slot/.test((error as Error).message)) throw new ChannelError('TOO_MANY_SWITCHES', 'too many prompt switches in flight; retry in a moment');
      throw error;
    }
  }

  status(): ChannelStatus {
    return {
      state: this.#ended ? 'ended' : this.#stopReason === null ? 'running' : 'stopping',
      session: this.number,
      viewers: this.#viewers.size,
      prompt: (this.#segments.at(-1) as { prompt: string }).prompt,
      block: this.#block,
      frames: this.#frames,
      dropped: this.#dropped,
    };
  }

  /** Stops the session (idempotent); {@link done} resolves once its lanes are free. */
  stop(reason: StopReason): void {
    if (this.#stopReason !== null || this.#ended) return;
    this.#stopReason = reason;
    // Aborting (rather than `session.stop()`) skips the frames already decoded: nobody is
    // left to watch them, and the lanes come free sooner.
    this.#controller.abort(new Error(reason));
  }

  #emit(event: ChannelEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Runs the session: admission, the wait for a stream, then frames paced out to the viewers. */
  async #pump(admitted: () => void, refused: (error: unknown) => void): Promise<void> {
    const signal = this.#controller.signal;
    const interval = this.#options.fps > 0 ? 1000 / this.#options.fps : 0;
    const frames = this.#session.frames[Symbol.asyncIterator]();
    let error: unknown = null;
    let finished = false;
    let started = false;
    try {
      // The first frame: the runtime has admitted the session (or refused it: RuntimeBusyError).
      const first = await frames.next();
      started = true;
      admitted();
      this.#emit({ session: this.number, type: 'start', prompt: (this.#segments[0] as { prompt: string }).prompt, seed: this.#options.seed });
      if (first.done) finished = true;
      else {
        // An opened session nobody streams (a page closed right after opening it) gives its set back.
        const timer = setTimeout(() => this.stop('no viewers'), ATTACH_TIMEOUT_MS);
        const aborted = signal.aborted ? Promise.resolve() : new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        await Promise.race([this.#attach, aborted]);
        clearTimeout(timer);
        let due = performance.now();
        let next: IteratorResult<Frame> = first;
        while (!signal.aborted && !next.done) {
          if (interval > 0) {
            const wait = due - performance.now();
            if (wait > 0) await sleep(wait, undefined, { signal });
            // A late frame does not make the next ones bunch up to catch up.
            due = Math.max(due, performance.now() - interval) + interval;
          }
          this.#broadcast(next.value);
          next = await frames.next();
        }
        finished = next.done === true;
      }
    } catch (e) {
      if (!signal.aborted) error = e;
    } finally {
      // Ends the generator if we left it suspended (stopped while waiting for a stream or
      // pacing): its cleanup frees the memory set and waits for the session's lane tasks.
      if (!finished) await frames.return?.(undefined).catch(() => {});
    }
    this.#ended = true;
    if (!started) {
      // Refused or failed before it ran: the opener is told (`open` rejects); it never had viewers or events.
      refused(this.#stopReason === null ? error : new Error(`the session was stopped (${this.#stopReason})`));
      return;
    }
    // The video is over for everyone watching it; the page offers to open a new one.
    for (const viewer of this.#viewers) viewer.end();
    this.#viewers.clear();
    const reason = error !== null ? 'failed' : (this.#stopReason ?? 'done');
    const blocks = this.#block === null ? 0 : this.#block + 1;
    this.#emit({ session: this.number, type: 'end', blocks, reason, ...(error === null ? {} : { error: (error as Error).message ?? String(error) }) });
  }

  #broadcast(frame: Frame): void {
    const png = encodePng(frame);
    for (const viewer of this.#viewers) if (!viewer.send(png)) this.#dropped++;
    this.#block = frame.block;
    this.#frames++;
    let prompt = (this.#segments[0] as { prompt: string }).prompt;
    for (const segment of this.#segments) if (segment.fromBlock <= frame.block) prompt = segment.prompt;
    this.#emit({ session: this.number, type: 'frame', index: frame.index, block: frame.block, prompt });
  }
}

/**
 * The service's sessions, one per viewer, by id. The cap is the runtime's own: it is created
 * with `maxSessions` = `--max-viewers` and no queue, so a session beyond the cap is refused
 * with `RuntimeBusyError` (its `retryAfterMs` becomes the 503's `Retry-After`).
 *
 * @example
 * ```ts
 * const channels = new Channels(runtime, options);
 * const channel = await channels.open('blue square moving up'); // or throws RuntimeBusyError
 * channels.get(channel.id) === channel; // until it ends
 * ```
 */
export class Channels {
  readonly #runtime: Runtime;
  readonly #options: ResolvedOptions;
  readonly #byId = new Map<string, Channel>();
  /** Every session not yet wound down, listed or not, so `close` can stop and wait for all of them. */
  readonly #live = new Set<Channel>();
  readonly #onEnd: (event: Extract<ChannelEvent, { type: 'end' }>) => void;
  #count = 0;
  #closed = false;

  constructor(runtime: Runtime, options: ResolvedOptions, onEnd: (event: Extract<ChannelEvent, { type: 'end' }>) => void = () => {}) {
    this.#runtime = runtime;
    this.#options = options;
    this.#onEnd = onEnd;
  }

  /** Sessions that may run at once: the runtime's `maxSessions`. */
  get maxViewers(): number {
    return this.#runtime.maxSessions;
  }

  /**
   * Opens a session under `prompt` (default `--prompt`); resolves once it runs.
   *
   * @throws {RuntimeBusyError} when `maxViewers` sessions run already.
   */
  async open(prompt: string = this.#options.prompt): Promise<Channel> {
    if (this.#closed) throw new Error('the service is closed');
    const channel = new Channel(this.#runtime, this.#options, ++this.#count, prompt);
    channel.subscribe((event) => {
      if (event.type === 'end') this.#onEnd(event);
    });
    this.#live.add(channel);
    void channel.done.finally(() => {
      this.#live.delete(channel);
      this.#byId.delete(channel.id);
    });
    await channel.ready;
    // Listed only once it runs, and not after it ended meanwhile.
    if (channel.status().state === 'running') this.#byId.set(channel.id, channel);
    return channel;
  }

  get(id: string): Channel | undefined {
    return this.#byId.get(id);
  }

  status(): ServiceStatus {
    return { maxViewers: this.maxViewers, sessions: [...this.#byId.values()].map((c) => c.status()) };
  }

  /** Stops every session, waits until their lanes are free (their streams are ended). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const channel of this.#live) channel.stop('shutdown');
    await Promise.all([...this.#live].map((c) => c.done));
  }
}
