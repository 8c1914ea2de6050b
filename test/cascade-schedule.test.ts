import { describe, expect, it } from 'vitest';
import { toPromise } from 'xstate';
import { initialKvPool, commit, reserve, release } from '../src/actors/kv-pool.js';
import { createGenerationSystem } from '../src/actors/system.js';
import { assertStillHeld } from '../src/actors/tick-barrier.js';
import type { Parallelism } from '../src/core/cascade-options.js';
import { stageNames } from '../src/core/domain.js';
import { admissionStage, cacheStage, cascadeSchedule, lagFor, maxInFlight, tickCount, tickMembers, type CascadeSchedule } from '../src/core/schedule.js';
import type { TickExecutor, TickPlan } from '../src/core/tick.js';

const fmt = (entries: readonly { block: number; stage: number }[], steps = 4) => entries.map((e) => `B${e.block}@${stageNames(steps)[e.stage]}`).join(' ');

/** Runs the real supervisor and block actors; the executor only records what each tick holds. */
async function runActors(schedule: CascadeSchedule, blocks: number) {
  const ticks: TickPlan[] = [];
  const executor: TickExecutor = {
    async run(plan) {
      ticks.push(plan);
      await Promise.resolve();
      return { forwards: plan.members.length, calls: 1, runMs: 0, workerMs: 0, taskMs: 0 };
    },
    recache: async () => {
      throw new Error('a video without prompt switches never re-caches');
    },
  };
  const { actor } = createGenerationSystem({
    seed: 1, blocks, schedule, attention: 'bidirectional', recache: schedule.parallelism === 0, executor,
    port: { encodePrompts: async () => {}, decode: async () => {} },
    framesPerBlock: 3, latentSlots: 8, prompts: [{ fromBlock: 0, contextSlot: 0 }], kv: { capacity: 27, sinkFrames: 3, windowFrames: 9 },
  });
  actor.start();
  await toPromise(actor);
  return { ticks, inFlightMax: Math.max(...ticks.map((t) => t.members.length)), state: actor.getSnapshot().value };
}

const LEVELS = [0, 1, 2, 3, 4] as const satisfies readonly Parallelism[];

describe('cascade schedule', () => {
  it('matches the P4 tick table of docs/design.md (Δ = 1)', () => {
    const p4 = cascadeSchedule(4, 4);
    expect([0, 1, 2, 3, 4].map((k) => fmt(tickMembers(p4, k, 100)))).toEqual([
      'B0@t3',
      'B0@t2 B1@t3',
      'B0@t1 B1@t2 B2@t3',
      'B0@t0 B1@t1 B2@t2 B3@t3',
      'B0@cache B1@t0 B2@t1 B3@t2 B4@t3',
    ]);
  });

  it('is the sequential pipeline at P0', () => {
    const p0 = cascadeSchedule(4, 0);
    expect([0, 4, 5, 9, 10].map((k) => fmt(tickMembers(p0, k, 100)))).toEqual(['B0@t3', 'B0@cache', 'B1@t3', 'B1@cache', 'B2@t3']);
    expect(tickCount(p0, 8)).toBe(40);
    expect(admissionStage(p0)).toBe(5);
  });

  it('gives Δ = ⌈(N + 1)(5 − k)/5⌉: today\'s 5 − k at four steps', () => {
    expect(LEVELS.map((k) => lagFor(4, k))).toEqual([5, 4, 3, 2, 1]);
    expect(LEVELS.map((k) => lagFor(8, k))).toEqual([9, 8, 6, 4, 2]);
    expect(LEVELS.map((k) => lagFor(32, k))).toEqual([33, 27, 20, 14, 7]);
    for (const steps of [1, 2, 4, 8, 16, 32, 50]) {
      for (const k of LEVELS) expect(maxInFlight(cascadeSchedule(steps, k)), `N=${steps} P${k}`).toBeLessThanOrEqual(k + 1);
    }
  });

  it('tick table at eight steps, P4 (Δ = 2)', () => {
    const s = cascadeSchedule(8, 4);
    expect([0, 1, 2, 3, 8, 9].map((k) => fmt(tickMembers(s, k, 100), 8))).toEqual([
      'B0@t7',
      'B0@t6',
      'B0@t5 B1@t7',
      'B0@t4 B1@t6',
      'B0@cache B1@t1 B2@t3 B3@t5 B4@t7',
      'B1@t0 B2@t2 B3@t4 B4@t6',
    ]);
    expect(admissionStage(s)).toBe(2);
  });

  it('tick table at 32 steps, P4 (Δ = 7) and P0', () => {
    const p4 = cascadeSchedule(32, 4);
    expect(fmt(tickMembers(p4, 28, 100), 32)).toBe('B0@t3 B1@t10 B2@t17 B3@t24 B4@t31');
    expect(fmt(tickMembers(p4, 32, 100), 32)).toBe('B0@cache B1@t6 B2@t13 B3@t20 B4@t27');
    expect(tickCount(p4, 10)).toBe(9 * 7 + 33);
    const p0 = cascadeSchedule(32, 0);
    expect(fmt(tickMembers(p0, 33, 100), 32)).toBe('B1@t31');
    expect(cacheStage(p0)).toBe(32);
  });

  for (const steps of [4, 8, 32]) {
    for (const k of LEVELS) {
      it(`runs the actors in exactly the table's ticks at ${steps} steps, P${k}, at most ${k + 1} blocks in flight`, async () => {
        const blocks = 9;
        const schedule = cascadeSchedule(steps, k);
        const { ticks, inFlightMax, state } = await runActors(schedule, blocks);
        expect(state).toBe('finished');
        expect(ticks.map((t) => t.tick)).toEqual(Array.from({ length: tickCount(schedule, blocks) }, (_, i) => i));
        expect(ticks.map((t) => fmt(t.members, steps))).toEqual(ticks.map((t) => fmt(tickMembers(schedule, t.tick, blocks), steps)));
        expect(inFlightMax).toBe(maxInFlight(schedule));
        expect(inFlightMax).toBeLessThanOrEqual(k + 1);
        expect(ticks.reduce((n, t) => n + t.members.length, 0)).toBe(blocks * (steps + 1));
      });
    }
  }

  it('gives the caching block fresh slots and the others only committed ones', async () => {
    const { ticks } = await runActors(cascadeSchedule(4, 4), 7);
    for (const t of ticks) {
      const caching = t.members.find((m) => m.stage === 4);
      expect(t.cacheSlots === null).toBe(caching === undefined);
      if (t.cacheSlots) expect(t.cacheSlots.filter((s) => t.pastSlots.includes(s))).toEqual([]);
    }
  });
});

describe('KV lifetimes under a cascade', () => {
  it('detects a slot released while a tick read it', () => {
    let pool = initialKvPool({ capacity: 6, sinkFrames: 0, windowFrames: 3 });
    pool = commit(reserve(pool, 0, [0, 1, 2]), 0);
    const read = pool.slots.filter((s) => s.state === 'committed');
    expect(() => assertStillHeld(5, read, pool.slots)).not.toThrow();
    // Committing a newer block evicts the window's oldest frames: their generation moves on.
    const later = commit(reserve(pool, 1, [3, 4, 5]), 1);
    expect(() => assertStillHeld(5, read, later.slots)).toThrow(/tick 5: KV slot \d \(frame 0\) was released while the tick read it/);
    expect(() => assertStillHeld(5, read, release(pool, 9).slots)).not.toThrow();
  });
});
