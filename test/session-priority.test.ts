/**
 * Session priority (`SessionOptions.priority`): on a lane shared by two sessions, the `'high'`
 * one's tasks leave first, so it finishes first even when it started later; with both
 * `'normal'` the lane takes turns and the one that started first finishes first. A block of the
 * `'normal'` session running its steps ahead on the lane stops for the `'high'` one's task and
 * goes on step by step. Frames do not depend on priority, for either session. Bad levels are refused naming the field.
 *
 * No sleeps: the second session starts when the first has delivered a frame.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, type Frame, type SessionPriority } from '../src/index.js';
import { oneAndTwoLanes } from './support/lane-runtimes.js';

const P0 = { cascade: { parallelism: 0 as const } };
const A = { seed: 1, blocks: 8, prompt: 'red ball moving left' };
const B = { seed: 2, blocks: 8, prompt: 'blue square moving up' };

describe('session priority', () => {
  const runtimes = oneAndTwoLanes();

  /** Runs A, then B once A has a frame; returns which finished last, both sessions' frames and the lane's yields. */
  async function race(second: SessionPriority): Promise<{ lastToFinish: 'A' | 'B'; a: Frame[]; b: Frame[]; yields: number }> {
    const finished: ('A' | 'B')[] = [];
    const yieldsBefore = runtimes.one.lanes[0]?.yields ?? 0;
    let started!: () => void;
    const aHasFrame = new Promise<void>((resolve) => (started = resolve));
    const a = runtimes.one.session(A, P0);
    const aFrames: Frame[] = [];
    const runA = (async () => {
      for await (const frame of a.frames) {
        aFrames.push(frame);
        started();
      }
      finished.push('A');
    })();
    await aHasFrame;
    const session = runtimes.one.session(B, { ...P0, priority: second });
    const b: Frame[] = [];
    for await (const frame of session.frames) b.push(frame);
    finished.push('B');
    await runA;
    return { lastToFinish: finished[1] as 'A' | 'B', a: aFrames, b, yields: (runtimes.one.lanes[0]?.yields ?? 0) - yieldsBefore };
  }
  const bytes = (frames: readonly Frame[]) => Buffer.concat(frames.map((f) => f.rgb));

  it("a 'high' session started second finishes first on a shared lane; 'normal' ones take turns", async () => {
    const normal = await race('normal');
    expect(normal.lastToFinish).toBe('B');
    expect(normal.yields).toBe(0);
    const high = await race('high');
    expect(high.lastToFinish).toBe('A');
    // A's blocks, running ahead on the lane, stopped for B's tasks and went on step by step.
    expect(high.yields).toBeGreaterThan(0);
    // The order of the lane's work is all that changed, for both sessions.
    expect(bytes(high.b).equals(bytes(normal.b))).toBe(true);
    expect(bytes(high.a).equals(bytes(normal.a))).toBe(true);
  });

  it('setPriority takes effect while the session runs, and a lane is back to taking turns after it', async () => {
    const session = runtimes.two.session(B, { ...P0, priority: 'high' });
    let n = 0;
    for await (const frame of session.frames) if (++n === 3) session.setPriority('normal');
    expect(n).toBe(B.blocks * runtimes.two.manifest.framesPerBlock);
    // The set the lanes read is empty again once the session has ended.
    expect(runtimes.two.lanes.every((lane) => lane.preferred.size === 0)).toBe(true);
  });

  it('refuses a priority other than high or normal, naming the field', () => {
    expect(() => runtimes.one.session(A, { priority: 'urgent' as SessionPriority })).toThrow(InvalidOptionError);
    expect(() => runtimes.one.session(A, { priority: 'urgent' as SessionPriority })).toThrow(/priority/);
    const session = runtimes.one.session(A, P0);
    expect(() => session.setPriority('later' as SessionPriority)).toThrow(/"priority"/);
  });
});
