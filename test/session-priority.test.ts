/**
 * Session priority (`SessionOptions.priority`): on a lane shared by two sessions, the `'high'`
 * one's tasks leave first, so it finishes first even when it started later; with both
 * `'normal'` the lane takes turns and the one that started first finishes first. Frames do not
 * depend on priority. Bad levels are refused naming the field.
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

  /** Runs A, then B once A has a frame; returns which finished last and B's frames. */
  async function race(second: SessionPriority): Promise<{ lastToFinish: 'A' | 'B'; b: Frame[] }> {
    const finished: ('A' | 'B')[] = [];
    let started!: () => void;
    const aHasFrame = new Promise<void>((resolve) => (started = resolve));
    const a = runtimes.one.session(A, P0);
    const runA = (async () => {
      for await (const _ of a.frames) started();
      finished.push('A');
    })();
    await aHasFrame;
    const session = runtimes.one.session(B, { ...P0, priority: second });
    const b: Frame[] = [];
    for await (const frame of session.frames) b.push(frame);
    finished.push('B');
    await runA;
    return { lastToFinish: finished[1] as 'A' | 'B', b };
  }

  it("a 'high' session started second finishes first on a shared lane; 'normal' ones take turns", async () => {
    const normal = await race('normal');
    expect(normal.lastToFinish).toBe('B');
    const high = await race('high');
    expect(high.lastToFinish).toBe('A');
    // The order of the lane's work is all that changed.
    expect(Buffer.concat(high.b.map((f) => f.rgb)).equals(Buffer.concat(normal.b.map((f) => f.rgb)))).toBe(true);
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
