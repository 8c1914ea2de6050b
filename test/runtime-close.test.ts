/**
 * Closing a runtime: every call returns the same promise, generations started before finish
 * (or, with a closing signal that aborts, end with GenerationAbortedError, queued ones too),
 * and nothing starts after (RuntimeClosedError).
 */
import { describe, expect, it } from 'vitest';
import { createRuntime, GenerationAbortedError, RuntimeClosedError, type Frame, type Runtime } from '../src/index.js';
import { RANDOM_MODEL } from './support/models.js';

const request = { seed: 2, blocks: 6, prompt: 'red ball moving left' };
/** Long enough that it would run for minutes if close waited for it. */
const endless = { seed: 3, blocks: 1_000_000, prompt: 'blue square moving up' };

async function collect(frames: AsyncIterable<Frame>, onFrame: (n: number) => void = () => {}): Promise<{ frames: number; error: unknown }> {
  let n = 0;
  try {
    for await (const _ of frames) onFrame(++n);
    return { frames: n, error: null };
  } catch (error) {
    return { frames: n, error };
  }
}

describe('Runtime.close', () => {
  it('waits for a running generation to finish, returns one promise to every caller, then refuses new work', async () => {
    const runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 1 });
    let closing: Promise<void> | null = null;
    const run = collect(runtime.generate(request), (n) => {
      if (n === 1) closing = runtime.close();
    });
    const { frames, error } = await run;
    expect(error).toBeNull();
    expect(frames).toBe(request.blocks * runtime.manifest.framesPerBlock);
    expect(closing).not.toBeNull();
    expect(runtime.close()).toBe(closing);
    await closing;
    expect(() => runtime.session(request)).toThrow(RuntimeClosedError);
    await expect(collect(runtime.generate(request)).then((r) => r.error)).resolves.toBeInstanceOf(RuntimeClosedError);
  });

  it('with a signal that aborts, ends the running and the queued generations with GenerationAbortedError, and closes', async () => {
    const runtime: Runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 1, maxSessions: 1, maxQueuedSessions: 1 });
    const stop = new AbortController();
    let closing: Promise<void> | null = null;
    let queued: Promise<{ frames: number; error: unknown }> | null = null;
    const running = collect(runtime.session(endless).frames, (n) => {
      // Started once the endless one holds the only memory set: it waits in the queue.
      if (n === 1) queued = collect(runtime.generate(request));
      if (n === 3 && closing === null) {
        closing = runtime.close({ signal: stop.signal });
        stop.abort(new Error('shutting down'));
      }
    });
    const a = await running;
    const b = await (queued as unknown as Promise<{ frames: number; error: unknown }>);
    expect(a.error).toBeInstanceOf(GenerationAbortedError);
    expect(a.frames).toBeGreaterThanOrEqual(3);
    expect(b.error).toBeInstanceOf(GenerationAbortedError);
    expect(b.frames).toBe(0);
    await closing;
    expect(runtime.runningSessions()).toBe(0);
  });

  it('a signal already aborted stops what runs at once; a bad signal is refused by name', async () => {
    const runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 1 });
    expect(() => runtime.close({ signal: {} as AbortSignal })).toThrow(/option "signal": expected an AbortSignal/);
    let closing: Promise<void> | null = null;
    const run = await collect(runtime.generate(endless), (n) => {
      if (n === 1) closing = runtime.close({ signal: AbortSignal.abort() });
    });
    expect(run.error).toBeInstanceOf(GenerationAbortedError);
    await closing;
  });
});
