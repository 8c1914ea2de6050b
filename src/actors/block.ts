/**
 * The block machine: one video block's life, `queued → t{N−1} → … → t0 → cache → done` for an
 * N-step schedule (`queued → t3 → t2 → t1 → t0 → cache → done` at four steps).
 *
 * Each stage invokes the `forward` actor (a lane proxy provided by the runtime) and moves on
 * when it resolves. The context holds handles (slots, positions), never tensors, so the
 * machine stays cheap to inspect.
 */
import { assign, fromPromise, sendParent, setup } from 'xstate';
import { stageNames, STAGES, type BlockIndex, type Stage, type StageIndex } from '../core/domain.js';

/** Handles a block's forwards need; all small numbers. */
export interface BlockInput {
  readonly block: BlockIndex;
  readonly seed: number;
  /** Slot of the block's latents in the latent slab. */
  readonly latentSlot: number;
  /** Absolute frame positions of the block's frames. */
  readonly positions: readonly number[];
}

export interface BlockContext extends BlockInput {
  /** Prompt context slot, set when the supervisor admits the block. */
  readonly contextSlot: number;
  /** Why the block failed, when it did. */
  readonly failure: string | null;
}

/** What the `forward` actor receives. */
export interface ForwardInput extends BlockInput {
  readonly stage: StageIndex;
  readonly contextSlot: number;
}

/** What the `forward` actor resolves with: timings of the tick it ran in, nothing else. */
export interface ForwardOutput {
  /** Blocks that ran in the same tick (1 when sequential). */
  readonly tickMembers: number;
  readonly runMs: number;
  readonly taskMs: number;
}

/** Events the block sends to its parent (the supervisor). */
export type BlockReport =
  | { readonly type: 'block.stage'; readonly block: BlockIndex; readonly stage: StageIndex }
  | { readonly type: 'block.failed'; readonly block: BlockIndex; readonly stage: StageIndex; readonly message: string }
  | { readonly type: 'block.done'; readonly block: BlockIndex };

export type BlockEvent =
  | { readonly type: 'block.admit'; readonly contextSlot: number }
  /** A resumed generation (docs/snapshots.md): the block starts at `stage`, its latents already in its slot. */
  | { readonly type: 'block.resume'; readonly contextSlot: number; readonly stage: StageIndex };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const stageState = (stage: StageIndex, name: Stage, next: Stage | 'done') => ({
  entry: { type: 'reportStage' as const, params: { stage } },
  invoke: {
    // One id for every stage, so the done/error events are the same type at each stage.
    id: 'forward',
    src: 'forward' as const,
    input: ({ context }: { context: BlockContext }): ForwardInput => ({
      block: context.block,
      seed: context.seed,
      latentSlot: context.latentSlot,
      positions: context.positions,
      contextSlot: context.contextSlot,
      stage,
    }),
    onDone: next,
    onError: {
      target: 'failed' as const,
      actions: [
        { type: 'recordFailure' as const, params: ({ event }: { event: { error: unknown } }) => ({ stage, name, message: errorMessage(event.error) }) },
        { type: 'reportFailure' as const, params: ({ event }: { event: { error: unknown } }) => ({ stage, message: errorMessage(event.error) }) },
      ],
    },
  },
});

const blockSetup = setup({
  types: {
    context: {} as BlockContext,
    input: {} as BlockInput,
    events: {} as BlockEvent,
  },
  actors: {
    forward: fromPromise<ForwardOutput, ForwardInput>(async () => {
      throw new Error('blockMachine: the "forward" actor was not provided');
    }),
  },
  actions: {
    recordFailure: assign((_, params: { stage: StageIndex; name: Stage; message: string }) => ({
      failure: `stage ${params.name}: ${params.message}`,
    })),
    // Reports are no-ops on a stand-alone block; `reportingBlockMachine` sends them to the parent.
    reportStage: (_, _params: { stage: StageIndex }) => {},
    reportFailure: (_, _params: { stage: StageIndex; message: string }) => {},
    reportDone: () => {},
  },
});

/**
 * The block machine of an N-step schedule: its denoising states are the step list's,
 * `t{N−1} … t0`, then `cache`. Machines are made once per step count. Provide `forward` with
 * `.provide({ actors: { forward } })`.
 *
 * @example
 * ```ts
 * const machine = blockMachineFor(8).provide({ actors: { forward: fromPromise(async ({ input }) => runOnLane(input)) } });
 * const block = createActor(machine, { input: { block: asBlockIndex(0), seed: 1, latentSlot: 0, positions: [0, 1, 2] } });
 * block.start();
 * block.send({ type: 'block.admit', contextSlot: 0 });
 * ```
 */
export function blockMachineFor(steps: number): BlockMachine {
  let machine = machines.get(steps);
  if (!machine) {
    machine = buildBlockMachine(steps);
    machines.set(steps, machine);
  }
  return machine;
}

function buildBlockMachine(steps: number) {
    const names = stageNames(steps);
    return blockSetup.createMachine({
      id: 'block',
      initial: 'queued',
      context: ({ input }) => ({ ...input, contextSlot: -1, failure: null }),
      states: {
        queued: {
          on: {
            'block.admit': {
              target: names[0] as Stage,
              actions: assign({ contextSlot: ({ event }) => event.contextSlot }),
            },
            // One guarded transition per stage: every stage stays a state, entered as usual.
            'block.resume': names.map((name, stage) => ({
              guard: ({ event }: { event: BlockEvent }) => event.type === 'block.resume' && event.stage === stage,
              target: name,
              actions: assign({ contextSlot: ({ event }: { event: BlockEvent }) => event.contextSlot }),
            })),
          },
        },
        ...Object.fromEntries(names.map((name, stage) => [name, stageState(stage, name, names[stage + 1] ?? 'done')])),
        // Terminal but not final, like `failed`: a final state would make XState send the parent
        // `xstate.done.actor.block.N`, a new event type per block, each of which XState's
        // transition cache keeps for the rest of the generation (a heap leak over long runs).
        done: { entry: 'reportDone' },
        // Terminal but not final: a final state would also send a done event, after the parent
        // has already stopped on `block.failed`.
        failed: {},
      },
    });
}

type BlockMachine = ReturnType<typeof buildBlockMachine>;
const machines = new Map<number, BlockMachine>();

/** The four-step block machine: `queued → t3 → t2 → t1 → t0 → cache → done`. */
export const blockMachine = blockMachineFor(STAGES.length - 1);

/** The stage a state name stands for in an N-step block, or null for `queued`, `done` and `failed`. */
export function stageOfState(state: string, steps = STAGES.length - 1): StageIndex | null {
  const index = (stageNames(steps) as readonly string[]).indexOf(state);
  return index < 0 ? null : index;
}

/**
 * The block machine as the supervisor spawns it: stage changes, completion and failures are
 * sent to the parent as {@link BlockReport} events.
 *
 * @example
 * ```ts
 * const block = reportingBlockMachineFor(32).provide({ actors: { forward } });
 * ```
 */
export const reportingBlockMachineFor = (steps: number) => blockMachineFor(steps).provide({
  actions: {
    reportStage: sendParent(({ context }, params: { stage: StageIndex }): BlockReport => ({
      type: 'block.stage',
      block: context.block,
      stage: params.stage,
    })),
    reportFailure: sendParent(({ context }, params: { stage: StageIndex; message: string }): BlockReport => ({
      type: 'block.failed',
      block: context.block,
      stage: params.stage,
      message: params.message,
    })),
    reportDone: sendParent(({ context }): BlockReport => ({ type: 'block.done', block: context.block })),
  },
});

/** The four-step reporting block machine (the supervisor's default `block` actor). */
export const reportingBlockMachine = reportingBlockMachineFor(STAGES.length - 1);
