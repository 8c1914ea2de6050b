import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, GenerationAbortedError, SessionEndedError, type Frame, type Runtime, type SessionEvent } from '../src/index.js';

const request = { seed: 4, blocks: 8, prompt: 'green triangle moving right' };
const bytes = (frames: readonly Frame[]) => Buffer.concat(frames.map((f) => f.rgb));

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

describe('live sessions', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 2 });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  for (const cascade of [{ parallelism: 0 }, { parallelism: 4, attention: 'causal', exec: 'joint' }] as const) {
    it(`P${cascade.parallelism}: a live switch equals the same switch scheduled at the block it reports`, async () => {
      const before = runtime.stats();
      const session = runtime.session(request, { cascade });
      const events: SessionEvent[] = [];
      session.on((e) => events.push(e));
      const frames: Frame[] = [];
      let switched: Promise<{ fromBlock: number }> | null = null;
      for await (const frame of session.frames) {
        frames.push(frame);
        if (frame.index === 3) switched = session.switchPrompt('purple square moving down');
      }
      const after = runtime.stats();
      const { fromBlock } = await (switched as unknown as Promise<{ fromBlock: number }>);
      expect(fromBlock).toBeGreaterThan(1);
      expect(fromBlock).toBeLessThan(request.blocks);
      const scheduled = await collect(runtime.generate({ ...request, switches: [{ atBlock: fromBlock, prompt: 'purple square moving down' }] }, { cascade }));
      expect(bytes(frames).equals(bytes(scheduled))).toBe(true);
      const plain = await collect(runtime.generate(request, { cascade }));
      expect(bytes(frames).equals(bytes(plain))).toBe(false);
      expect(events.filter((e) => e.type === 'switch')).toEqual([{ type: 'switch', prompt: 'purple square moving down', fromBlock }]);
      // The session's own forwards: each block's four steps and cache step, and at P4 the
      // context-only members of the ticks that span the switch; nothing reused without caching.
      expect(events.at(-1)).toEqual({ type: 'end', blocks: request.blocks, stopped: false, forwards: after.forwards - before.forwards, reusedForwards: 0 });
      expect(after.forwards - before.forwards).toBeGreaterThanOrEqual(5 * request.blocks);
    });
  }

  it('an AbortSignal ends a cascade session with a typed error and frees every lane', async () => {
    const controller = new AbortController();
    const session = runtime.session({ ...request, blocks: 60 }, { signal: controller.signal, cascade: { parallelism: 4, exec: 'lanes' } });
    const events: SessionEvent[] = [];
    session.on((e) => events.push(e));
    let frames = 0;
    await expect(async () => {
      for await (const _frame of session.frames) if (++frames === 6) controller.abort();
    }).rejects.toBeInstanceOf(GenerationAbortedError);
    expect(frames).toBeLessThan(60 * 3);
    // The generation waits for the tasks already on a lane before it ends: nothing is left.
    expect(runtime.lanes.map((lane) => lane.pending)).toEqual([0, 0]);
    expect(events.at(-1)).toMatchObject({ type: 'end', stopped: false });
    await expect(session.switchPrompt('red ball moving left')).rejects.toThrow(/ended/);
    expect(await collect(runtime.generate({ ...request, blocks: 2 }))).toHaveLength(6);
  });

  it('stop ends the stream early, after the frames already decoded', async () => {
    const session = runtime.session({ ...request, blocks: 40 });
    const events: SessionEvent[] = [];
    session.on((e) => events.push(e));
    const frames: Frame[] = [];
    for await (const frame of session.frames) {
      frames.push(frame);
      if (frame.index === 4) session.stop();
    }
    expect(frames.length).toBeGreaterThanOrEqual(5);
    expect(frames.length).toBeLessThan(40 * 3);
    expect(frames.map((f) => f.index)).toEqual(frames.map((_, i) => i));
    expect(events.at(-1)).toMatchObject({ type: 'end', stopped: true });
    await expect(session.switchPrompt('red ball moving left')).rejects.toBeInstanceOf(SessionEndedError);
  });

  it('a slow consumer pauses generation: the unread buffer stays bounded, the video is unchanged', async () => {
    const session = runtime.session({ ...request, blocks: 12 }, { maxBufferedBlocks: 2 });
    const events: SessionEvent[] = [];
    let pausedOnce!: () => void;
    const paused = new Promise<void>((resolve) => (pausedOnce = resolve));
    session.on((e) => {
      events.push(e);
      if (e.type === 'paused') pausedOnce();
    });
    const frames: Frame[] = [];
    for await (const frame of session.frames) {
      frames.push(frame);
      // The consumer stalls after its first frame until generation has backed off.
      if (frames.length === 1) await paused;
    }
    expect(events).toContainEqual({ type: 'paused', reason: 'backpressure' });
    expect(events).toContainEqual({ type: 'resumed' });
    const buffered = events.flatMap((e) => (e.type === 'block' ? [e.bufferedBlocks] : []));
    // The limit, plus the blocks already past admission when the pause came (P0: one).
    expect(Math.max(...buffered)).toBeLessThanOrEqual(3);
    expect(bytes(frames).equals(bytes(await collect(runtime.generate({ ...request, blocks: 12 }))))).toBe(true);
  });

  it('pause admits no new block (blocks in flight finish); resume goes on; no frame lost or changed', async () => {
    const session = runtime.session(request);
    const events: SessionEvent[] = [];
    session.on((e) => events.push(e));
    const frames: Frame[] = [];
    const before = runtime.stats().forwards;
    let forwardsWhilePaused = -1;
    for await (const frame of session.frames) {
      frames.push(frame);
      if (frame.index === 2) {
        session.pause();
        // Block 0's frames come before its cache step (the lane decodes first), which the actor
        // counts once the lane reports it: wait for that, then let whatever else is on the lanes
        // finish, twice over (a tick may follow a tick).
        while (runtime.stats().forwards - before < 5) await new Promise((resolve) => setImmediate(resolve));
        for (let i = 0; i < 2; i++) await Promise.all(runtime.lanes.map((lane) => lane.settled()));
        forwardsWhilePaused = runtime.stats().forwards - before;
        session.resume();
      }
    }
    // Block 0 (5 forwards) and at most block 1, already admitted, out of 8 blocks.
    expect(forwardsWhilePaused).toBeGreaterThanOrEqual(5);
    expect(forwardsWhilePaused).toBeLessThanOrEqual(10);
    expect(events.filter((e) => e.type === 'paused' || e.type === 'resumed').map((e) => e.type)).toEqual(['paused', 'resumed']);
    expect(bytes(frames).equals(bytes(await collect(runtime.generate(request))))).toBe(true);
  });
});
