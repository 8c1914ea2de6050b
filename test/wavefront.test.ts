import { describe, expect, it } from 'vitest';
import { toPromise } from 'xstate';
import { createGenerationSystem } from '../src/actors/system.js';
import { cacheStage, cascadeSchedule, tickMembers, tickOf } from '../src/core/schedule.js';
import type { TickExecutor, TickPlan } from '../src/core/tick.js';
import type { Frame, Runtime } from '../src/index.js';
import type { CascadeOptions } from '../src/core/cascade-options.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { frameDrift } from '../src/quality/drift.js';
import { oneAndTwoLanes } from './support/lane-runtimes.js';

describe('member dispatch (the wavefront) in the tick barrier', () => {
  const schedule = cascadeSchedule(4, 4);
  const blocks = 10;
  const cache = cacheStage(schedule);

  /** Runs the real actors; each forward ends on a later turn of the event loop, so several can be out at once. */
  async function dispatched() {
    const events: { kind: 'start' | 'end'; plan: TickPlan; running: number }[] = [];
    let running = 0;
    const executor: TickExecutor = {
      async run(plan) {
        events.push({ kind: 'start', plan, running: ++running });
        await new Promise((resolve) => setImmediate(resolve));
        events.push({ kind: 'end', plan, running: --running });
        return { forwards: 1, calls: 1, runMs: 0, workerMs: 0, taskMs: 0 };
      },
      recache: async () => {
        throw new Error('no switches here');
      },
    };
    const ticks: number[] = [];
    const { actor } = createGenerationSystem({
      seed: 1, blocks, schedule, attention: 'causal', recache: false, executor, window: { frames: 9, sinkFrames: 3 }, dispatch: 'member', concurrency: 2,
      port: { encodePrompts: async () => {}, decode: async () => {} },
      framesPerBlock: 3, latentSlots: 8, prompts: [{ fromBlock: 0, contextSlot: 0 }], kv: { capacity: 27, sinkFrames: 3, windowFrames: 9 },
      onTick: (tick) => ticks.push(tick),
    });
    actor.start();
    await toPromise(actor);
    return { events, ticks };
  }

  it('runs every block of every tick once, one per forward, each after what it attends to, ticks overlapping', async () => {
    const { events, ticks } = await dispatched();
    const key = (p: TickPlan) => `${p.tick}/${p.members[0]!.block}`;
    const ended = new Set<string>();
    let overlapped = false;
    for (const e of events) {
      const member = e.plan.members[0]!;
      const tick = e.plan.tick;
      if (e.kind === 'end') {
        ended.add(key(e.plan));
        continue;
      }
      expect(e.plan.members).toHaveLength(1);
      expect(e.running).toBeLessThanOrEqual(2);
      const entries = tickMembers(schedule, tick, blocks);
      // The older blocks of its tick, the previous tick's cache step, all of the tick before that.
      for (const older of entries.filter((b) => b.block < member.block)) expect(ended.has(`${tick}/${older.block}`)).toBe(true);
      const previousCache = tickMembers(schedule, tick - 1, blocks).find((b) => b.stage === cache);
      if (tick > 0 && previousCache) expect(ended.has(`${tick - 1}/${previousCache.block}`)).toBe(true);
      if (tick >= 2) for (const b of tickMembers(schedule, tick - 2, blocks)) expect(ended.has(`${tick - 2}/${b.block}`)).toBe(true);
      // It attends to the older blocks of its tick that are not caching, within its window (3 blocks).
      expect(e.plan.attendsTo?.map((m) => m.block)).toEqual(entries.filter((b) => b.block < member.block && b.stage !== cache && b.block >= member.block - 3).map((b) => b.block));
      // Its past: committed by this tick at the latest, and inside its window or the sink.
      const start = member.positions[0]!;
      for (const position of e.plan.window!.pastPositions) {
        expect(position < 3 || position >= start - 9).toBe(true);
        expect(tickOf(schedule, Math.floor(position / 3), cache)).toBeLessThanOrEqual(tick);
      }
      if (events.some((o) => o.kind === 'start' && o.plan.tick === tick - 1 && !ended.has(key(o.plan)))) overlapped = true;
    }
    expect(events.filter((e) => e.kind === 'start')).toHaveLength(blocks * 5);
    expect(overlapped).toBe(true);
    expect(ticks).toEqual(Array.from({ length: blocks + 4 }, (_, k) => k));
  });
});

describe('wavefront execution on real lanes', () => {
  const request = { seed: 3, blocks: 9, prompt: 'green triangle moving right' };
  const wave = { parallelism: 4, attention: 'causal', cascadeWindow: 'trained', exec: 'wavefront' } as const;
  const runtimes = oneAndTwoLanes();
  const collect = async (runtime: Runtime, cascade: Partial<CascadeOptions>, switches: { atBlock: number; prompt: string }[] = []) => {
    const out: Frame[] = [];
    for await (const frame of runtime.generate({ ...request, switches }, { cascade })) out.push(frame);
    return out;
  };
  const bytes = (frames: Frame[]) => Buffer.concat(frames.map((f) => f.rgb));

  it('equals joint under the trained window to float rounding, byte for byte on 1 and 2 lanes and again', async () => {
    const joint = await collect(runtimes.two, { ...wave, exec: 'joint' });
    const a = await collect(runtimes.two, wave);
    const b = await collect(runtimes.two, wave);
    const c = await collect(runtimes.one, wave);
    const drift = frameDrift(a, joint);
    expect(drift.maxAbs).toBeLessThanOrEqual(1);
    expect(drift.psnrDb).toBeGreaterThan(70);
    expect(bytes(b).equals(bytes(a))).toBe(true);
    expect(bytes(c).equals(bytes(a))).toBe(true);
    expect(runtimes.two.stats().forwards).toBeGreaterThanOrEqual(3 * request.blocks * 5);
  });

  it('a prompt switch: the blocks before it as without the switch, the blocks from it changed, on 1 and 2 lanes alike', async () => {
    const switches = [{ atBlock: 5, prompt: 'purple square moving down' }];
    const plain = await collect(runtimes.two, wave);
    const switched = await collect(runtimes.two, wave, switches);
    const part = (frames: Frame[], before: boolean) => bytes(frames.filter((f) => f.block < 5 === before));
    expect(part(switched, true).length).toBeGreaterThan(0);
    expect(part(switched, true).equals(part(plain, true))).toBe(true);
    expect(part(switched, false).equals(part(plain, false))).toBe(false);
    expect(bytes(await collect(runtimes.one, wave, switches)).equals(bytes(switched))).toBe(true);
  });

  it('refuses what it cannot run, naming the setting', async () => {
    const refused = async (cascade: Partial<CascadeOptions>) => {
      const error = await collect(runtimes.two, cascade).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      return (error as Error).message;
    };
    expect(await refused({ ...wave, attention: 'bidirectional' })).toMatch(/option "attention": expected "causal" with exec "wavefront"/);
    expect(await refused({ ...wave, cascadeWindow: 'extended' })).toMatch(/option "cascadeWindow": expected "trained" with exec "wavefront"/);
    expect(await refused({ ...wave, switchMode: 'in-flight' })).toMatch(/option "switchMode": expected "at-block" with exec "wavefront"/);
    const snapshot = await (async () => {
      for await (const _ of runtimes.two.generate(request, { cascade: wave, snapshots: { every: 2, onSnapshot: () => {} } })) void _;
    })().catch((e: unknown) => e as Error);
    expect(snapshot?.message).toMatch(/"wavefront" execution overlaps consecutive ticks/);
    // At P0 the mode is the sequential pipeline: nothing to require.
    expect(bytes(await collect(runtimes.two, { parallelism: 0, exec: 'wavefront' })).equals(bytes(await collect(runtimes.two, { parallelism: 0 })))).toBe(true);
  });
});
