import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, toPromise, type EventObject } from 'xstate';
import { reportingBlockMachine, type ForwardInput } from '../src/actors/block.js';
import { cascadeSchedule } from '../src/core/schedule.js';
import { asBlockIndex } from '../src/core/domain.js';
import { LaneError } from '../src/core/errors.js';
import { freeContextSlot, supervisorMachine, type DecodeInput, type EncodeInput, type SupervisorInput } from '../src/actors/supervisor.js';

const input: SupervisorInput = {
  seed: 1,
  blocks: 4,
  schedule: cascadeSchedule(4, 0),
  framesPerBlock: 3,
  latentSlots: 2,
  prompts: [{ fromBlock: 0, contextSlot: 0 }],
  kv: { capacity: 27, sinkFrames: 3, windowFrames: 9 },
};

/** A supervisor whose lanes are replaced by recorders (the real lanes are tested in runtime.test.ts). */
function recordingSupervisor(failAt?: { block: number; stage: number }, decodeError?: unknown) {
  const log: string[] = [];
  const contexts: string[] = [];
  let active = 0;
  let maxActive = 0;
  const forward = fromPromise(async ({ input: f }: { input: ForwardInput }) => {
    active++;
    maxActive = Math.max(maxActive, active);
    log.push(`b${f.block}s${f.stage}@slot${f.latentSlot}`);
    contexts.push(`b${f.block}:ctx${f.contextSlot}`);
    await Promise.resolve();
    active--;
    if (failAt && f.block === failAt.block && f.stage === failAt.stage) throw new Error('lane 0 crashed');
    return { tickMembers: 1, runMs: 0, taskMs: 0 };
  });
  const machine = supervisorMachine.provide({
    actors: {
      block: reportingBlockMachine.provide({ actors: { forward } }),
      encodePrompt: fromPromise(async ({ input: e }: { input: EncodeInput }) => {
        log.push(e.contextSlots.length === 1 ? 'encode' : `encode ${e.contextSlots.join(',')}`);
      }),
      decode: fromCallback<EventObject, DecodeInput>(({ input: d, sendBack }) => {
        log.push(`decode b${d.block}`);
        // Reported a microtask later, as a decode on a lane would be.
        void Promise.resolve().then(() =>
          sendBack(decodeError === undefined ? { type: 'decode.done', block: d.block } : { type: 'decode.failed', block: d.block, error: decodeError }),
        );
      }),
    },
  });
  return { machine, log, contexts, maxActive: () => maxActive };
}

describe('supervisor (P0, sequential)', () => {
  it('encodes the prompt, then runs each block through its five stages before admitting the next', async () => {
    const { machine, log, maxActive } = recordingSupervisor();
    const actor = createActor(machine, { input }).start();
    const output = await toPromise(actor);
    expect(output).toEqual({ blocks: 4 });
    expect(actor.getSnapshot().value).toBe('finished');
    const forwards = log.filter((line) => line.startsWith('b'));
    expect(forwards.map((line) => line.split('@')[0])).toEqual(
      [0, 1, 2, 3].flatMap((b) => [0, 1, 2, 3, 4].map((s) => `b${b}s${s}`)),
    );
    expect(log[0]).toBe('encode');
    expect(maxActive()).toBe(1);
    // Each block is decoded as soon as its latents are final, i.e. when its cache step starts.
    for (const b of [0, 1, 2, 3]) {
      expect(log.indexOf(`decode b${b}`)).toBeGreaterThan(log.findIndex((l) => l.startsWith(`b${b}s3`)));
    }
  });

  it('says a lane\'s decode failure once: the lane and the cause, not "decode failed" twice', async () => {
    const { machine } = recordingSupervisor(undefined, new LaneError(1, 0, null, 'decode failed', new Error('out of memory')));
    const actor = createActor(machine, { input }).start();
    await toPromise(actor);
    expect(actor.getSnapshot().context.failure).toEqual({ block: 0, message: 'decode failed on lane 1: out of memory' });
  });

  it('recycles latent slots: two slots serve four blocks', async () => {
    const { machine, log } = recordingSupervisor();
    await toPromise(createActor(machine, { input }).start());
    const slots = new Set(log.filter((l) => l.startsWith('b')).map((l) => l.split('@')[1]));
    expect(slots).toEqual(new Set(['slot0', 'slot1']));
  });

  it('stops with the failing block and stage when a forward fails, and admits nothing after', async () => {
    const { machine, log } = recordingSupervisor({ block: 2, stage: 1 });
    const actor = createActor(machine, { input }).start();
    await toPromise(actor);
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().context.failure).toEqual({ block: 2, message: 'lane 0 crashed' });
    expect(log.some((l) => l.startsWith('b3'))).toBe(false);
  });
});

describe('supervisor: a prompt timeline', () => {
  it('encodes every prompt first, then admits each block with the context slot of its prompt', async () => {
    const { machine, log, contexts } = recordingSupervisor();
    const prompts = [{ fromBlock: 0, contextSlot: 0 }, { fromBlock: 2, contextSlot: 1 }, { fromBlock: 3, contextSlot: 2 }];
    await toPromise(createActor(machine, { input: { ...input, prompts } }).start());
    expect(log[0]).toBe('encode 0,1,2');
    expect([...new Set(contexts)]).toEqual(['b0:ctx0', 'b1:ctx0', 'b2:ctx1', 'b3:ctx2']);
  });

  it('a live switch applies from the next admitted block; a free slot avoids every slot still in use', async () => {
    const { machine, contexts } = recordingSupervisor();
    const actor = createActor(machine, { input });
    let sent = false;
    actor.subscribe((snapshot) => {
      if (!sent && snapshot.context.nextBlock === 2) {
        sent = true;
        // Block 1 is in flight under slot 0, the current prompt is slot 0: slot 1 is free.
        expect(freeContextSlot(snapshot.context, 8)).toBe(1);
        actor.send({ type: 'prompt.switch', contextSlot: 1 });
      }
    });
    actor.start();
    await toPromise(actor);
    expect([...new Set(contexts)]).toEqual(['b0:ctx0', 'b1:ctx0', 'b2:ctx1', 'b3:ctx1']);
    expect(actor.getSnapshot().context.prompts).toEqual([{ fromBlock: 0, contextSlot: 0 }, { fromBlock: 2, contextSlot: 1 }]);
    const busy = { prompts: [{ fromBlock: 0, contextSlot: 0 }, { fromBlock: 1, contextSlot: 1 }], progress: { 0: 3, 1: 0 }, nextBlock: 2, schedule: cascadeSchedule(4, 0) } as const;
    expect(freeContextSlot(busy, 2)).toBeNull();
    expect(freeContextSlot(busy, 3)).toBe(2);
  });

  it('a scheduled switch the next block has not reached is protected; a live switch replaces it', () => {
    const prompts = [{ fromBlock: 0, contextSlot: 0 }, { fromBlock: 5, contextSlot: 1 }];
    expect(freeContextSlot({ prompts, progress: {}, nextBlock: 2, schedule: cascadeSchedule(4, 0) }, 3)).toBe(2);
  });

  it('pause stops admission until resume; blocks in flight finish', async () => {
    const { machine, log } = recordingSupervisor();
    const actor = createActor(machine, { input });
    let paused = false;
    let forwardsWhilePaused = -1;
    actor.subscribe((snapshot) => {
      if (!paused && snapshot.context.nextBlock === 2) {
        paused = true;
        actor.send({ type: 'supervisor.pause' });
        // Resume once block 1 is done: nothing else may have been admitted meanwhile.
      } else if (paused && snapshot.context.paused && snapshot.context.progress[1] === undefined && forwardsWhilePaused < 0) {
        forwardsWhilePaused = log.filter((l) => l.startsWith('b2')).length;
        actor.send({ type: 'supervisor.resume' });
      }
    });
    actor.start();
    await toPromise(actor);
    expect(forwardsWhilePaused).toBe(0);
    expect(actor.getSnapshot().value).toBe('finished');
    expect(log.filter((l) => l.startsWith('b3s4'))).toHaveLength(1);
  });
});

describe('supervisor resumed from a snapshot', () => {
  it('takes up blocks at their stage, decodes a done one, and counts the blocks before as finished', async () => {
    const { machine, log, contexts } = recordingSupervisor();
    const resumed: SupervisorInput = {
      ...input,
      blocks: 5,
      latentSlots: 3,
      prompts: [{ fromBlock: 0, contextSlot: 1 }],
      kv: { ...input.kv, committed: [{ slot: 0, position: 0, block: 0 }] },
      resume: {
        nextBlock: 3,
        finishedBlocks: 1,
        blocks: [
          { block: asBlockIndex(1), stage: 5, latentSlot: 2, contextSlot: 1 },
          { block: asBlockIndex(2), stage: 3, latentSlot: 0, contextSlot: 1 },
        ],
      },
    };
    const actor = createActor(machine, { input: resumed }).start();
    expect(actor.getSnapshot().context.kvPool.getSnapshot().context.slots[0]).toMatchObject({ state: 'committed', position: 0, block: 0 });
    expect(await toPromise(actor)).toEqual({ blocks: 5 });
    const forwards = log.filter((line) => line.startsWith('b')).map((line) => line.split('@')[0]);
    // Block 2 runs only t0 and cache; blocks 3 and 4 run all five stages; block 1 is only decoded.
    expect(forwards).toEqual(['b2s3', 'b2s4', 'b3s0', 'b3s1', 'b3s2', 'b3s3', 'b3s4', 'b4s0', 'b4s1', 'b4s2', 'b4s3', 'b4s4']);
    expect(log.filter((line) => line.startsWith('decode')).sort()).toEqual(['decode b1', 'decode b2', 'decode b3', 'decode b4']);
    expect(new Set(contexts)).toEqual(new Set(['b2:ctx1', 'b3:ctx1', 'b4:ctx1']));
  });
});
