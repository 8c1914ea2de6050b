/**
 * The supervisor: owns the schedule of one generation.
 *
 * It encodes the prompt, spawns the KV-pool actor and one block actor per block, admits a new
 * block when the newest one has reached the schedule's admission stage (`admissionStage`: the
 * lag stage Δ, or done in the sequential pipeline), asks for a block's decode as soon as its
 * latents are final (it enters `cache`), and recycles a block's latent slot once it is both
 * cached and decoded.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup, type ActorRefFrom, type EventObject } from 'xstate';
import { asBlockIndex, type BlockIndex, type StageIndex } from '../core/domain.js';
import { reportingBlockMachine, type BlockInput, type BlockReport } from './block.js';
import { kvPoolMachine } from './kv-pool.js';
import { admissionStage, cacheStage, stageCount, type CascadeSchedule } from '../core/schedule.js';
import { LaneError } from '../core/errors.js';

/** Progress of a block as the supervisor sees it: a stage index, or the stage count once done. */
type BlockProgress = StageIndex;

export interface SupervisorInput {
  readonly seed: number;
  readonly blocks: number;
  /** Steps and lag: admission reads them through `admissionStage`. */
  readonly schedule: CascadeSchedule;
  readonly framesPerBlock: number;
  /** Latent slots available; bounds the blocks alive (in flight or waiting for decode). */
  readonly latentSlots: number;
  /**
   * The prompt timeline: block `fromBlock` and every later block (until the next entry) are
   * admitted with `contextSlot`. Sorted by `fromBlock`, the first at block 0. All prompts are
   * encoded before the first block starts.
   */
  readonly prompts: readonly PromptSegment[];
  readonly kv: { readonly capacity: number; readonly sinkFrames: number; readonly windowFrames: number; readonly committed?: readonly CommittedFrame[] };
  /** A resumed generation's position (docs/snapshots.md); absent: start at block 0. */
  readonly resume?: SupervisorResume;
}

/** A frame whose K/V a resumed generation finds committed in its slot. */
export interface CommittedFrame {
  readonly slot: number;
  readonly position: number;
  readonly block: number;
}

/**
 * A block a resumed generation takes up where the snapshot left it: at a stage (its actor starts
 * there), or, at the stage count, done and waiting for its decode. Its latents are in `latentSlot`.
 */
export interface RestoredBlock {
  readonly block: BlockIndex;
  readonly stage: BlockProgress;
  readonly latentSlot: number;
  readonly contextSlot: number;
}

/**
 * A block whose cache step a resumed generation runs again from its final latents, which the
 * `loadReplay` action copies into the latent slot it is given just before.
 */
export interface ReplayedBlock {
  readonly block: BlockIndex;
  readonly contextSlot: number;
}

/** Where a resumed generation starts: blocks before `nextBlock` are finished, restored or replayed. */
export interface SupervisorResume {
  readonly nextBlock: number;
  /** Blocks below `nextBlock` that are neither restored nor replayed: counted as finished. */
  readonly finishedBlocks: number;
  readonly blocks: readonly RestoredBlock[];
  /**
   * Cache steps to run again first, one at a time in this order (each attends to the K/V the one
   * before wrote); `blocks` take up their stages after the last. Empty or absent: none.
   */
  readonly replay?: readonly ReplayedBlock[];
}

export interface SupervisorContext extends SupervisorInput {
  readonly kvPool: ActorRefFrom<typeof kvPoolMachine>;
  /** The next block to admit. */
  readonly nextBlock: number;
  /** Progress of every admitted block that still holds its latent slot. */
  readonly progress: Readonly<Record<number, BlockProgress>>;
  readonly latentSlotOf: Readonly<Record<number, number>>;
  readonly freeLatentSlots: readonly number[];
  readonly decodedBlocks: readonly number[];
  readonly finishedBlocks: number;
  readonly failure: { readonly block: number; readonly message: string } | null;
  /** A resume's cache steps still to run again, the first one running; nothing is admitted until they are done. */
  readonly replay: readonly ReplayedBlock[];
  /** While paused no block is admitted; blocks in flight finish. */
  readonly paused: boolean;
}

/** One entry of the prompt timeline: the prompt in `contextSlot` applies from `fromBlock` on. */
export interface PromptSegment {
  readonly fromBlock: number;
  readonly contextSlot: number;
}

/** What the `encodePrompt` actor receives: the context slots to fill, one per prompt. */
export interface EncodeInput {
  readonly contextSlots: readonly number[];
}

/** The context slot of the prompt that applies to `block`. */
function contextSlotOf(prompts: readonly PromptSegment[], block: number): number {
  let slot = (prompts[0] as PromptSegment).contextSlot;
  for (const segment of prompts) if (segment.fromBlock <= block) slot = segment.contextSlot;
  return slot;
}

/** What the `decode` actor receives; it hands the frames to the output itself. */
export interface DecodeInput {
  readonly block: BlockIndex;
  readonly latentSlot: number;
}

/** What a `decode` actor sends back when its block's frames are out, or when the decode failed. */
export type DecodeReport =
  | { readonly type: 'decode.done'; readonly block: number }
  | { readonly type: 'decode.failed'; readonly block: number; readonly error: unknown };
/**
 * A live prompt switch: the prompt already encoded into `contextSlot` applies from the next
 * block admitted on (see {@link freeContextSlot} for a slot that is safe to encode into).
 */
export type PromptSwitchEvent = { readonly type: 'prompt.switch'; readonly contextSlot: number };
export type SupervisorEvent =
  | BlockReport | DecodeReport | PromptSwitchEvent
  | { readonly type: 'supervisor.stop' } | { readonly type: 'supervisor.pause' } | { readonly type: 'supervisor.resume' };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A decode failure's message, once: a lane's error already says "lane N, block B: decode
 * failed: …", and the generation's error adds the block again.
 */
function decodeFailure(error: unknown): string {
  if (error instanceof LaneError) return `decode failed on lane ${error.lane}: ${errorMessage(error.cause)}`;
  return `decode failed: ${errorMessage(error)}`;
}

/**
 * A context slot that no unfinished block and no pending prompt uses, among `slots` slots:
 * safe to encode a new prompt into while the generation runs. Null when all are in use.
 *
 * @example
 * ```ts
 * const slot = freeContextSlot(actor.getSnapshot().context, 8);
 * ```
 */
export function freeContextSlot(ctx: Pick<SupervisorContext, 'prompts' | 'progress' | 'nextBlock' | 'schedule'>, slots: number): number | null {
  // The prompt of the next block and every scheduled one after it.
  const current = contextSlotOf(ctx.prompts, ctx.nextBlock);
  const used = new Set<number>([current, ...ctx.prompts.filter((p) => p.fromBlock > ctx.nextBlock).map((p) => p.contextSlot)]);
  for (const [block, progress] of Object.entries(ctx.progress)) {
    if (progress !== stageCount(ctx.schedule)) used.add(contextSlotOf(ctx.prompts, Number(block)));
  }
  for (let slot = 0; slot < slots; slot++) if (!used.has(slot)) return slot;
  return null;
}

/** Absolute frame positions of a block's frames. */
const positionsOf = (block: number, framesPerBlock: number): number[] => Array.from({ length: framesPerBlock }, (_, f) => block * framesPerBlock + f);

/** Whether the next block may start: Δ stages behind the newest one, with a free latent slot. */
function canAdmit(ctx: SupervisorContext): boolean {
  if (ctx.paused || ctx.replay.length > 0 || ctx.nextBlock >= ctx.blocks || ctx.freeLatentSlots.length === 0) return false;
  if (ctx.nextBlock === 0) return true;
  const newest = ctx.progress[ctx.nextBlock - 1];
  // The newest block may already be gone (done and decoded): then nothing holds us back.
  return newest === undefined || newest >= admissionStage(ctx.schedule);
}

/** What `loadReplay` copies: the latents of `block`, into `latentSlot`. */
export interface ReplayLoad {
  readonly block: BlockIndex;
  readonly latentSlot: number;
}

/** `loadReplay` for the next block to replay, into the slot `replayNext` then gives it. */
const loadNextReplay = {
  type: 'loadReplay',
  params: ({ context }: { readonly context: SupervisorContext }): ReplayLoad => ({ block: (context.replay[0] as ReplayedBlock).block, latentSlot: context.freeLatentSlots[0] as number }),
} as const;

/** Frees a block's latent slot once it is both cached (done) and decoded. */
function recycle(ctx: SupervisorContext, block: number): Partial<SupervisorContext> {
  if (ctx.progress[block] !== stageCount(ctx.schedule) || !ctx.decodedBlocks.includes(block)) return {};
  const { [block]: slot, ...latentSlotOf } = ctx.latentSlotOf;
  const { [block]: _progress, ...progress } = ctx.progress;
  return {
    latentSlotOf,
    progress,
    freeLatentSlots: [...ctx.freeLatentSlots, slot as number],
    decodedBlocks: ctx.decodedBlocks.filter((b) => b !== block),
    finishedBlocks: ctx.finishedBlocks + 1,
  };
}

/**
 * The supervisor machine. Provide `forward` (through the block machine), `encodePrompt` and
 * `decode` with `.provide({ actors: { ... } })`.
 *
 * @example
 * ```ts
 * const supervisor = createActor(supervisorMachine.provide({ actors: { block, encodePrompt, decode } }), {
 *   input: { seed: 7, blocks: 8, schedule: cascadeSchedule(4, 0), framesPerBlock: 3, latentSlots: 8,
 *            prompts: [{ fromBlock: 0, contextSlot: 0 }], kv: { capacity: 15, sinkFrames: 3, windowFrames: 9 } },
 * });
 * supervisor.start();
 * ```
 */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as SupervisorInput,
    events: {} as SupervisorEvent,
    output: {} as { readonly blocks: number },
  },
  actors: {
    block: reportingBlockMachine,
    kvPool: kvPoolMachine,
    encodePrompt: fromPromise<void, EncodeInput>(async () => {
      throw new Error('supervisorMachine: the "encodePrompt" actor was not provided');
    }),
    decode: fromCallback<EventObject, DecodeInput>(({ input, sendBack }) => {
      sendBack({ type: 'decode.failed', block: input.block, error: new Error('supervisorMachine: the "decode" actor was not provided') } satisfies DecodeReport);
    }),
  },
  guards: {
    canAdmit: ({ context }) => canAdmit(context),
    allFinished: ({ context }) => context.finishedBlocks === context.blocks,
    replays: ({ context }) => context.replay.length > 0,
    endsReplay: ({ context, event }) => event.type === 'block.done' && context.replay[0]?.block === event.block,
    endsReplayBeforeMore: ({ context, event }) => event.type === 'block.done' && context.replay[0]?.block === event.block && context.replay.length > 1,
  },
  actions: {
    // A finished child is stopped (removed from the supervisor's children): kept, every block
    // would leave two actors behind until the generation ends.
    blockDone: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'block.done') return;
      const block = event.block;
      const marked = { ...context, progress: { ...context.progress, [block]: stageCount(context.schedule) } };
      enqueue.assign({ progress: marked.progress, ...recycle(marked, block) });
      enqueue.stopChild(`block.${block}`);
      if (context.replay[0]?.block === block) enqueue.assign({ replay: context.replay.slice(1) });
    }),
    // After the prompts are encoded (and any replay): restored blocks take up their stage
    // (entering it reports it, so a block restored in `cache` is decoded again), and done ones are decoded.
    restoreBlocks: enqueueActions(({ context, enqueue }) => {
      for (const restored of context.resume?.blocks ?? []) {
        const { block, stage, latentSlot, contextSlot } = restored;
        if (stage === stageCount(context.schedule)) {
          enqueue.spawnChild('decode', { id: `decode.${block}`, input: { block, latentSlot } });
          continue;
        }
        const input: BlockInput = { block, seed: context.seed, latentSlot, positions: positionsOf(block, context.framesPerBlock) };
        enqueue.spawnChild('block', { id: `block.${block}`, input });
        enqueue.sendTo(`block.${block}`, { type: 'block.resume', contextSlot, stage });
      }
    }),
    // The next cache step to run again: its block enters `cache` in the first free latent slot,
    // into which `loadReplay` (run just before) has copied its latents.
    replayNext: enqueueActions(({ context, enqueue }) => {
      const { block, contextSlot } = context.replay[0] as ReplayedBlock;
      const [latentSlot, ...freeLatentSlots] = context.freeLatentSlots as [number, ...number[]];
      enqueue.assign({
        freeLatentSlots,
        latentSlotOf: { ...context.latentSlotOf, [block]: latentSlot },
        progress: { ...context.progress, [block]: cacheStage(context.schedule) },
      });
      const input: BlockInput = { block, seed: context.seed, latentSlot, positions: positionsOf(block, context.framesPerBlock) };
      enqueue.spawnChild('block', { id: `block.${block}`, input });
      enqueue.sendTo(`block.${block}`, { type: 'block.resume', contextSlot, stage: cacheStage(context.schedule) });
    }),
    loadReplay: (_, _params: ReplayLoad) => {
      throw new Error('supervisorMachine: the "loadReplay" action was not provided (a resume replays cache steps)');
    },
    admit: enqueueActions(({ context, enqueue }) => {
      const block = asBlockIndex(context.nextBlock);
      const [slot, ...freeLatentSlots] = context.freeLatentSlots as [number, ...number[]];
      const input: BlockInput = {
        block,
        seed: context.seed,
        latentSlot: slot,
        positions: positionsOf(block, context.framesPerBlock),
      };
      enqueue.assign({
        nextBlock: block + 1,
        freeLatentSlots,
        latentSlotOf: { ...context.latentSlotOf, [block]: slot },
        progress: { ...context.progress, [block]: 0 },
      });
      enqueue.spawnChild('block', { id: `block.${block}`, input });
      enqueue.sendTo(`block.${block}`, { type: 'block.admit', contextSlot: contextSlotOf(context.prompts, block) });
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input, spawn }) => {
    const restored = input.resume?.blocks ?? [];
    const held = new Set(restored.map((b) => b.latentSlot));
    return {
      ...input,
      kvPool: spawn('kvPool', { id: 'kv-pool', systemId: 'kv-pool', input: input.kv }),
      nextBlock: input.resume?.nextBlock ?? 0,
      progress: Object.fromEntries(restored.map((b) => [b.block, b.stage])),
      latentSlotOf: Object.fromEntries(restored.map((b) => [b.block, b.latentSlot])),
      freeLatentSlots: Array.from({ length: input.latentSlots }, (_, i) => i).filter((slot) => !held.has(slot)),
      decodedBlocks: [],
      finishedBlocks: input.resume?.finishedBlocks ?? 0,
      failure: null,
      replay: input.resume?.replay ?? [],
      paused: false,
    };
  },
  initial: 'encoding',
  on: {
    'supervisor.stop': '.stopped',
    'prompt.switch': {
      actions: assign({
        // Switches no block was admitted under yet (pending or scheduled later) give way to
        // the live one; the first segment always stays at block 0.
        prompts: ({ context, event }) => {
          const kept = context.prompts.filter((p) => p.fromBlock < context.nextBlock);
          return [...kept, { fromBlock: kept.length === 0 ? 0 : context.nextBlock, contextSlot: event.contextSlot }];
        },
      }),
    },
    'supervisor.pause': { actions: assign({ paused: true }) },
    'supervisor.resume': { actions: assign({ paused: false }) },
  },
  states: {
    encoding: {
      invoke: {
        src: 'encodePrompt',
        input: ({ context }) => ({ contextSlots: context.prompts.map((p) => p.contextSlot) }),
        onDone: [
          { guard: 'replays', target: 'running', actions: [loadNextReplay, 'replayNext'] },
          { target: 'running', actions: 'restoreBlocks' },
        ],
        onError: {
          target: 'failed',
          actions: assign({ failure: ({ event }) => ({ block: -1, message: `prompt encoding failed: ${errorMessage(event.error)}` }) }),
        },
      },
    },
    running: {
      always: [
        { guard: 'allFinished', target: 'finished' },
        { guard: 'canAdmit', actions: 'admit' },
      ],
      on: {
        'block.stage': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            enqueue.assign({ progress: { ...context.progress, [event.block]: event.stage } });
            if (event.stage === cacheStage(context.schedule)) {
              // Its latents are final once it enters the cache step: decode in parallel with it.
              enqueue.spawnChild('decode', {
                id: `decode.${event.block}`,
                input: { block: event.block, latentSlot: context.latentSlotOf[event.block] as number },
              });
            }
          }),
        },
        // A replayed cache step that ends starts the next one, or, the last, lets the restored
        // blocks take up their stages.
        'block.done': [
          { guard: 'endsReplayBeforeMore', actions: ['blockDone', loadNextReplay, 'replayNext'] },
          { guard: 'endsReplay', actions: ['blockDone', 'restoreBlocks'] },
          { actions: 'blockDone' },
        ],
        'decode.done': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const block = event.block;
            const marked = { ...context, decodedBlocks: [...context.decodedBlocks, block] };
            enqueue.assign({ decodedBlocks: marked.decodedBlocks, ...recycle(marked, block) });
            enqueue.stopChild(`decode.${block}`);
          }),
        },
        'block.failed': {
          target: 'failed',
          actions: assign({ failure: ({ event }) => ({ block: event.block, message: event.message }) }),
        },
        'decode.failed': {
          target: 'failed',
          actions: assign({ failure: ({ event }) => ({ block: event.block, message: decodeFailure(event.error) }) }),
        },
      },
    },
    finished: { type: 'final' },
    failed: { type: 'final' },
    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ blocks: context.finishedBlocks }),
});
