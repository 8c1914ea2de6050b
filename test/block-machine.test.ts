import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { blockMachine, type BlockInput, type ForwardInput } from '../src/actors/block.js';
import { asBlockIndex } from '../src/core/domain.js';

const input: BlockInput = { block: asBlockIndex(3), seed: 1, latentSlot: 2, positions: [9, 10, 11] };
const events = [
  { type: 'block.admit', contextSlot: 0 },
  { type: 'xstate.done.actor.forward', output: { tickMembers: 1, runMs: 1, taskMs: 1 } },
  { type: 'xstate.error.actor.forward', error: new Error('lane crashed') },
] as never[];

const stateOf = (snapshot: { value: unknown }) => String(snapshot.value);

/** The block machine with a forward that records its inputs into `seen` and resolves at once. */
const recording = (seen: ForwardInput[]) =>
  blockMachine.provide({
    actors: {
      forward: fromPromise(async ({ input: forwardInput }: { input: ForwardInput }) => {
        seen.push(forwardInput);
        return { tickMembers: 1, runMs: 0, taskMs: 0 };
      }),
    },
  });

describe('block machine', () => {
  it('reaches done only through t3 → t2 → t1 → t0 → cache, in order', () => {
    const paths = getSimplePaths(blockMachine, { input, events });
    const toDone = paths.filter((p) => stateOf(p.state) === 'done');
    expect(toDone).toHaveLength(1);
    const visited = toDone[0]!.steps.map((step) => stateOf(step.state));
    expect(visited).toEqual(['queued', 't3', 't2', 't1', 't0', 'cache', 'done']);
  });

  it('can fail from every stage and from no other state', () => {
    const paths = getSimplePaths(blockMachine, { input, events }).filter((p) => stateOf(p.state) === 'failed');
    const failedFrom = paths.map((p) => stateOf(p.steps[p.steps.length - 2]!.state)).sort();
    expect(failedFrom).toEqual(['cache', 't0', 't1', 't2', 't3']);
  });

  it('has every state reachable', () => {
    const reached = new Set(getShortestPaths(blockMachine, { input, events }).map((p) => stateOf(p.state)));
    expect([...reached].sort()).toEqual(['cache', 'done', 'failed', 'queued', 't0', 't1', 't2', 't3']);
  });

  it('runs one forward per stage with the block handles and stops at done', async () => {
    const seen: ForwardInput[] = [];
    const machine = recording(seen);
    const actor = createActor(machine, { input }).start();
    expect(actor.getSnapshot().value).toBe('queued');
    actor.send({ type: 'block.admit', contextSlot: 1 });
    // `done` is terminal but not final (a final state would send the parent a new event type per block).
    await waitFor(actor, (s) => s.value === 'done');
    expect(actor.getSnapshot().status).toBe('active');
    expect(seen.map((s) => s.stage)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(seen.map((s) => `${s.block}/${s.latentSlot}/${s.contextSlot}/${s.positions.join(',')}`))).toEqual(
      new Set(['3/2/1/9,10,11']),
    );
  });

  it('a resumed block enters at its stage and runs only the stages after it (snapshots)', async () => {
    const seen: ForwardInput[] = [];
    const machine = recording(seen);
    const actor = createActor(machine, { input }).start();
    actor.send({ type: 'block.resume', contextSlot: 2, stage: 3 });
    expect(actor.getSnapshot().value).toBe('t0');
    await waitFor(actor, (s) => s.value === 'done');
    expect(seen.map((s) => `${s.stage}/${s.contextSlot}`)).toEqual(['3/2', '4/2']);
  });

  it('keeps the failure message and the stage when a forward fails', async () => {
    const machine = blockMachine.provide({
      actors: {
        forward: fromPromise(async ({ input: forwardInput }: { input: ForwardInput }) => {
          if (forwardInput.stage === 2) throw new Error('lane 1 crashed');
          return { tickMembers: 1, runMs: 0, taskMs: 0 };
        }),
      },
    });
    const actor = createActor(machine, { input }).start();
    actor.send({ type: 'block.admit', contextSlot: 0 });
    await waitFor(actor, (snapshot) => snapshot.matches('failed'));
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.failure).toBe('stage t1: lane 1 crashed');
  });
});
