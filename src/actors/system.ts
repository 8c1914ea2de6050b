/**
 * The one place a generation's actor system is assembled: the supervisor with its KV pool and
 * block actors (N-step machines), the lane proxies and the tick barrier in front of an
 * executor. The runtime, the simulator and the tests all start generations through it.
 */
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import type { AttentionMode } from '../core/cascade-options.js';
import type { CascadeSchedule } from '../core/schedule.js';
import type { FeatureUse, RecachePlan, TickExecutor, TickMember, TickTiming } from '../core/tick.js';
import { reportingBlockMachineFor, type ForwardInput } from './block.js';
import { laneProxies, type ProxyPort } from './lane-proxy.js';
import { supervisorMachine, type PromptSegment, type ReplayLoad, type SupervisorInput, type SupervisorResume } from './supervisor.js';
import { TickBarrier, type BetweenTicks, type TickBarrierOptions } from './tick-barrier.js';

/** Everything a generation's actors need: small numbers and callbacks, never tensors. */
export interface GenerationSystemOptions {
  readonly seed: number;
  readonly blocks: number;
  readonly schedule: CascadeSchedule;
  readonly attention: AttentionMode;
  /** `cascadeWindow: 'trained'` in a cascade: the model's window and sink, in frames (`TickBarrierOptions.window`). */
  readonly window?: TickBarrierOptions['window'];
  /** How the tick barrier hands forwards to the executor (`TickBarrierOptions.dispatch`, `concurrency`). */
  readonly dispatch?: TickBarrierOptions['dispatch'];
  readonly concurrency?: number;
  /** Re-cache at prompt switches (sequential mode). */
  readonly recache: boolean;
  readonly executor: TickExecutor;
  /** Prompt encoding and decoding, outside the actors. */
  readonly port: ProxyPort;
  readonly framesPerBlock: number;
  readonly latentSlots: number;
  /** The prompt timeline; the first segment starts at block 0. */
  readonly prompts: readonly PromptSegment[];
  readonly kv: SupervisorInput['kv'];
  /** Per-member feature use (the feature-caching seam); default: compute. */
  readonly features?: (input: ForwardInput) => FeatureUse;
  /** Whether a computing member measures (`TickMember.measure`); default: every member does. */
  readonly measures?: (input: ForwardInput) => boolean;
  readonly onTick?: (tick: number, members: readonly TickMember[], timing: TickTiming) => void;
  readonly onRecache?: (plan: RecachePlan, timing: TickTiming) => void;
  /** Called between two ticks (snapshots are taken there). */
  readonly beforeTick?: (state: BetweenTicks) => void;
  /** A resumed generation: where its blocks stand, and the prompt its committed K/V were made under. */
  readonly resume?: SupervisorResume & { readonly cachedUnder: number | null };
  /** A resume that replays cache steps: copies a replayed block's latents into its slot (synchronously, before its block starts). */
  readonly loadReplay?: (load: ReplayLoad) => void;
  /** XState inspection of every actor of the system. */
  readonly inspect?: (event: InspectionEvent) => void;
}

/** A generation's actors, not started yet. */
export interface GenerationSystem {
  readonly actor: Actor<typeof supervisorMachine>;
  readonly barrier: TickBarrier;
}

/**
 * Assembles one generation's actor system. Start it with `system.actor.start()`; stop both the
 * actor and the barrier when done.
 *
 * @example
 * ```ts
 * const { actor, barrier } = createGenerationSystem({ seed: 1, blocks: 8, schedule: cascadeSchedule(4, 4), attention: 'bidirectional',
 *   recache: false, executor, port, framesPerBlock: 3, latentSlots: 8, prompts: [{ fromBlock: 0, contextSlot: 0 }],
 *   kv: { capacity: 24, sinkFrames: 3, windowFrames: 9 } });
 * actor.start();
 * await toPromise(actor);
 * ```
 */
export function createGenerationSystem(o: GenerationSystemOptions): GenerationSystem {
  const barrier = new TickBarrier({
    schedule: o.schedule,
    blocks: o.blocks,
    attention: o.attention,
    ...(o.window ? { window: o.window } : {}),
    ...(o.dispatch ? { dispatch: o.dispatch } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    executor: o.executor,
    recache: o.recache,
    ...(o.onTick ? { onTick: o.onTick } : {}),
    ...(o.onRecache ? { onRecache: o.onRecache } : {}),
    ...(o.features ? { features: o.features } : {}),
    ...(o.measures ? { measures: o.measures } : {}),
    ...(o.beforeTick ? { beforeTick: o.beforeTick } : {}),
    ...(o.resume ? { cachedUnder: o.resume.cachedUnder } : {}),
  });
  const { forward, encodePrompt, decode } = laneProxies(barrier, o.port);
  const loadReplay = o.loadReplay;
  const machine = supervisorMachine.provide({
    actors: { block: reportingBlockMachineFor(o.schedule.steps).provide({ actors: { forward } }), encodePrompt, decode },
    ...(loadReplay ? { actions: { loadReplay: (_: unknown, load: ReplayLoad) => loadReplay(load) } } : {}),
  });
  const actor = createActor(machine, {
    input: {
      seed: o.seed,
      blocks: o.blocks,
      schedule: o.schedule,
      framesPerBlock: o.framesPerBlock,
      latentSlots: o.latentSlots,
      prompts: o.prompts,
      kv: o.kv,
      ...(o.resume
        ? { resume: { nextBlock: o.resume.nextBlock, finishedBlocks: o.resume.finishedBlocks, blocks: o.resume.blocks, ...(o.resume.replay ? { replay: o.resume.replay } : {}) } }
        : {}),
    },
    ...(o.inspect ? { inspect: o.inspect } : {}),
  });
  return { actor, barrier };
}
