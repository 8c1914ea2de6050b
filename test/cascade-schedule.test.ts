import { describe, expect, it } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { reportingBlockMachine } from '../src/actors/block.js';
import { initialKvPool, commit, reserve, release } from '../src/actors/kv-pool.js';
import { laneProxies } from '../src/actors/lane-proxy.js';
import { supervisorMachine } from '../src/actors/supervisor.js';
import { assertStillHeld, TickBarrier } from '../src/actors/tick-barrier.js';
import { lagOf, resolveCascade, type Lag } from '../src/core/cascade-options.js';
import { tickCount, tickMembers } from '../src/core/schedule.js';
import type { TickExecutor, TickPlan } from '../src/core/tick.js';
import { STAGES } from '../src/core/domain.js';

const fmt = (entries: readonly { block: number; stage: number }[]) => entries.map((e) => `B${e.block}@${STAGES[e.stage] === 'cache' ? 'cache' : STAGES[e.stage]}`).join(' ');

/** Runs the real supervisor and block actors; the executor only records what each tick holds. */
async function runActors(lag: Lag, blocks: number) {
  const ticks: TickPlan[] = [];
  let inFlightMax = 0;
  const executor: TickExecutor = {
    async run(plan) {
      ticks.push(plan);
      inFlightMax = Math.max(inFlightMax, plan.members.length);
      await Promise.resolve();
      return { forwards: plan.members.length, calls: 1, runMs: 0, workerMs: 0, taskMs: 0 };
    },
    recache: async () => {
      throw new Error('a video without prompt switches never re-caches');
    },
  };
  const barrier = new TickBarrier({ lag, blocks, attention: 'bidirectional', executor, recache: lag === 5 });
  const { forward, encodePrompt, decode } = laneProxies(barrier, { encodePrompts: async () => {}, decode: async () => {} });
  const machine = supervisorMachine.provide({ actors: { block: reportingBlockMachine.provide({ actors: { forward } }), encodePrompt, decode } });
  const actor = createActor(machine, {
    input: { seed: 1, blocks, lag, framesPerBlock: 3, latentSlots: 8, prompts: [{ fromBlock: 0, contextSlot: 0 }], kv: { capacity: 27, sinkFrames: 3, windowFrames: 9 } },
  }).start();
  await toPromise(actor);
  return { ticks, inFlightMax, state: actor.getSnapshot().value };
}

describe('cascade schedule', () => {
  it('matches the P4 tick table of docs/design.md (Δ = 1)', () => {
    expect([0, 1, 2, 3, 4].map((k) => fmt(tickMembers(k, 1, 100)))).toEqual([
      'B0@t3',
      'B0@t2 B1@t3',
      'B0@t1 B1@t2 B2@t3',
      'B0@t0 B1@t1 B2@t2 B3@t3',
      'B0@cache B1@t0 B2@t1 B3@t2 B4@t3',
    ]);
  });

  it('is the sequential pipeline for Δ = 5', () => {
    expect([0, 4, 5, 9, 10].map((k) => fmt(tickMembers(k, 5, 100)))).toEqual(['B0@t3', 'B0@cache', 'B1@t3', 'B1@cache', 'B2@t3']);
    expect(tickCount(8, 5)).toBe(40);
  });

  it('maps P levels to lags and refuses invalid combinations', () => {
    expect([0, 1, 2, 3, 4].map((p) => lagOf(p as 0))).toEqual([5, 4, 3, 2, 1]);
    expect(() => resolveCascade({ parallelism: 5 as never }, 1)).toThrow(/option "parallelism": expected an integer from 0 to 4/);
    expect(() => resolveCascade({ exec: 'lanes' }, 1)).toThrow(/option "exec"/);
    expect(() => resolveCascade({ attention: 'sideways' as never }, 1)).toThrow(/option "attention"/);
    expect(resolveCascade({ parallelism: 4, exec: 'lanes' }, 2)).toEqual({ parallelism: 4, attention: 'bidirectional', exec: 'lanes', recache: 'off' });
    expect(resolveCascade({}, 1).recache).toBe('on');
    expect(() => resolveCascade({ parallelism: 2, recache: 'on' }, 1)).toThrow(/option "recache": expected "off" at P2/);
    expect(() => resolveCascade({ recache: 'sometimes' as never }, 1)).toThrow(/option "recache": expected "on" or "off"/);
  });

  for (const lag of [1, 2, 3, 4, 5] as const) {
    it(`runs the actors in exactly the table's ticks for Δ = ${lag}, never more than 5 blocks in flight`, async () => {
      const blocks = 9;
      const { ticks, inFlightMax, state } = await runActors(lag, blocks);
      expect(state).toBe('finished');
      expect(ticks.map((t) => t.tick)).toEqual(Array.from({ length: tickCount(blocks, lag) }, (_, k) => k));
      expect(ticks.map((t) => fmt(t.members))).toEqual(ticks.map((t) => fmt(tickMembers(t.tick, lag, blocks))));
      expect(inFlightMax).toBe(Math.min(5, Math.ceil(5 / lag)));
      expect(inFlightMax).toBeLessThanOrEqual(5);
    });
  }

  it('gives the caching block fresh slots and the others only committed ones', async () => {
    const { ticks } = await runActors(1, 7);
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
