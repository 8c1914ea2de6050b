/**
 * Prompt switches and the KV cache: sequential mode re-caches (LongLive) unless told not to,
 * cascades never do. The lanes are real; a recorder wraps their task methods to see what each
 * forward was actually given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import type { EncodeTask, RecacheTask, TickTask } from '../src/protocol/lane-messages.js';
import type { CascadeOptions } from '../src/core/cascade-options.js';
import { tokenizePrompt } from '../src/engine/model/tokenizer.js';
import { RANDOM_MODEL } from './support/models.js';

type Recorded = { readonly kind: 'encode'; readonly task: EncodeTask } | { readonly kind: 'tick'; readonly task: TickTask } | { readonly kind: 'recache'; readonly task: RecacheTask };

/** Wraps every lane's encode/tick/ahead/recache so that each task is logged before it runs. */
function record(runtime: Runtime): Recorded[] {
  const log: Recorded[] = [];
  for (const lane of runtime.lanes) {
    const encode = lane.encode.bind(lane);
    const tick = lane.tick.bind(lane);
    const recache = lane.recache.bind(lane);
    const ahead = lane.ahead.bind(lane);
    lane.encode = (task) => (log.push({ kind: 'encode', task }), encode(task));
    lane.tick = (task) => (log.push({ kind: 'tick', task }), tick(task));
    // A sequential block's steps and cache step in one task (AheadExecutor): each is what a tick would carry.
    lane.ahead = (task) => (log.push(...[...task.steps, ...(task.cache ? [task.cache.task] : [])].flatMap((t) => (t.kind === 'tick' ? [{ kind: 'tick' as const, task: t }] : []))), ahead(task));
    lane.recache = (task) => (log.push({ kind: 'recache', task }), recache(task));
  }
  return log;
}

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

const OLD = 'red ball moving left';
const NEW = 'blue square moving up';
const bytesOf = (frames: readonly Frame[]) => Buffer.concat(frames.map((f) => f.rgb));
const newest = (task: TickTask) => task.members[task.members.length - 1]!;

describe('prompt switches and the KV cache', () => {
  let runtime: Runtime;
  let log: Recorded[];
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 1 });
    log = record(runtime);
  });
  afterAll(async () => {
    await runtime?.close();
  });

  /** Runs one video with a switch at block `at`; returns its frames and the lane tasks it caused. */
  async function run(at: number, cascade: Partial<CascadeOptions>, blocks = 9, prompt = NEW) {
    log.length = 0;
    const frames = await collect(runtime.generate({ seed: 3, blocks, prompt: OLD, switches: [{ atBlock: at, prompt }] }, { cascade }));
    const tasks = [...log];
    const tokens = (text: string) => Array.from(tokenizePrompt(text, runtime.manifest.text), Number);
    const slotOf = (text: string) => tasks.find((t): t is Extract<Recorded, { kind: 'encode' }> => t.kind === 'encode' && t.task.tokens.join() === tokens(text).join())?.task.contextSlot;
    return { frames, tasks, slotOf };
  }

  it('P0 re-caches once, under the new prompt, over the cached frames, before the first block under it', async () => {
    const at = 6;
    const { tasks, slotOf } = await run(at, { parallelism: 0, recache: 'on' });
    const newSlot = slotOf(NEW);
    expect(newSlot).toBeDefined();
    expect(newSlot).not.toBe(slotOf(OLD));
    const recaches = tasks.flatMap((t, i) => (t.kind === 'recache' ? [{ i, task: t.task }] : []));
    expect(recaches).toHaveLength(1);
    const [{ i, task }] = recaches as [{ i: number; task: RecacheTask }];
    expect(task.contextSlot).toBe(newSlot);
    // The window: the 9 most recent frames before the switch (this model has no sink).
    const { windowFrames, sinkFrames } = runtime.manifest.kv;
    expect(sinkFrames).toBe(0);
    const F = runtime.manifest.framesPerBlock;
    expect(task.positions).toEqual(Array.from({ length: windowFrames }, (_, k) => at * F - windowFrames + k));
    expect(task.blocks).toEqual(task.positions.map((p) => Math.floor(p / F)));
    const ticks = tasks.flatMap((t, k) => (t.kind === 'tick' ? [{ k, task: t.task }] : []));
    const before = ticks.filter((t) => t.k < i);
    const after = ticks.filter((t) => t.k > i);
    // Directly between the old prompt's last cache step and the new prompt's first forward.
    expect(before.at(-1)?.task.members.map((m) => [m.block, m.stage])).toEqual([[at - 1, 4]]);
    expect(after[0]?.task.members.map((m) => [m.block, m.stage])).toEqual([[at, 0]]);
    // It rewrites exactly the slots the next forward reads.
    expect(after[0]?.task.pastSlots).toEqual(task.slots);
    // What each forward was given: the old prompt before the switch, the new one from it on.
    for (const { task: t } of before) expect(t.contextSlot).toBe(slotOf(OLD));
    for (const { task: t } of after) expect(t.contextSlot).toBe(newSlot);
    expect(runtime.stats().recaches).toBeGreaterThan(0);
  });

  it('P0 with recache off runs no re-cache; the frames before the switch are the same, those after differ', async () => {
    const on = await run(6, { parallelism: 0, recache: 'on' });
    const off = await run(6, { parallelism: 0, recache: 'off' });
    expect(off.tasks.some((t) => t.kind === 'recache')).toBe(false);
    for (const t of off.tasks) if (t.kind === 'tick' && newest(t.task).block >= 6) expect(t.task.contextSlot).toBe(off.slotOf(NEW));
    const F = runtime.manifest.framesPerBlock;
    expect(bytesOf(on.frames.slice(0, 6 * F)).equals(bytesOf(off.frames.slice(0, 6 * F)))).toBe(true);
    expect(bytesOf(on.frames.slice(6 * F)).equals(bytesOf(off.frames.slice(6 * F)))).toBe(false);
  });

  it('a cascade never re-caches: its forwards take the new prompt as soon as a block under it is in flight', async () => {
    const { tasks, slotOf } = await run(6, { parallelism: 4, attention: 'causal' });
    expect(tasks.some((t) => t.kind === 'recache')).toBe(false);
    const ticks = tasks.flatMap((t) => (t.kind === 'tick' ? [t.task] : []));
    expect(ticks.length).toBeGreaterThan(0);
    for (const t of ticks) expect(t.contextSlot).toBe(newest(t).block >= 6 ? slotOf(NEW) : slotOf(OLD));
  });
});

describe('re-cache arithmetic', () => {
  it('re-caching under the same prompt before any eviction reproduces the cache (frames equal to rounding)', async () => {
    // Each cached block's K/V was made attending to the blocks before it: exactly the
    // block-causal mask of the re-cache forward. Same prompt ⇒ same K/V, up to float rounding
    // (one forward over six frames instead of two over three).
    for (const model of [undefined, RANDOM_MODEL]) {
      const runtime = await createRuntime({ lanes: 1, ...(model ? { model } : {}) });
      try {
        const request = { seed: 11, blocks: 5, prompt: OLD, switches: [{ atBlock: 2, prompt: OLD }] };
        const on = await collect(runtime.generate(request, { cascade: { recache: 'on' } }));
        const off = await collect(runtime.generate(request, { cascade: { recache: 'off' } }));
        expect(runtime.stats().recaches).toBe(1);
        let worst = 0;
        on.forEach((frame, f) => frame.rgb.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - (off[f] as Frame).rgb[k]!)))));
        expect(worst).toBeLessThanOrEqual(2);
        // …while a re-cache under another prompt does change them.
        const other = await collect(runtime.generate({ ...request, switches: [{ atBlock: 2, prompt: NEW }] }, { cascade: { recache: 'on' } }));
        const otherOff = await collect(runtime.generate({ ...request, switches: [{ atBlock: 2, prompt: NEW }] }, { cascade: { recache: 'off' } }));
        expect(bytesOf(other).equals(bytesOf(otherOff))).toBe(false);
      } finally {
        await runtime.close();
      }
    }
  });

  it("the model package's kv.recache sets whether P0 re-caches when the caller does not say", async () => {
    // The bundled model declares "off" (it switches better without, docs/interactive.md); the
    // random-weight model declares nothing, so LongLive's "on" applies. An explicit option wins.
    for (const [model, declared] of [[undefined, 'off'], [RANDOM_MODEL, undefined]] as const) {
      const runtime = await createRuntime({ lanes: 1, ...(model ? { model } : {}) });
      try {
        expect(runtime.manifest.kv.recache).toBe(declared);
        const request = { seed: 2, blocks: 6, prompt: OLD, switches: [{ atBlock: 4, prompt: NEW }] };
        const recachesOf = async (cascade: Partial<CascadeOptions>) => {
          const before = runtime.stats().recaches;
          await collect(runtime.generate(request, { cascade }));
          return runtime.stats().recaches - before;
        };
        expect(await recachesOf({})).toBe(declared === 'off' ? 0 : 1);
        expect(await recachesOf({ recache: 'on' })).toBe(1);
        expect(await recachesOf({ recache: 'off' })).toBe(0);
      } finally {
        await runtime.close();
      }
    }
  });
});
