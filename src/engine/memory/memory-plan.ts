/**
 * The one memory plan: every shared slab a runtime allocates (K/V, latents, clean latents,
 * prompt contexts, the per-layer exchange, and with feature caching its store), sized from the model's manifest alone. Lane
 * workers map the same SharedArrayBuffers; nothing else allocates shared memory.
 */
import type { ModelManifest } from '../../core/manifest-types.js';
import { MAX_PROMPT_SWITCHES } from '../../core/options.js';
import { capacityFor } from '../../core/schedule.js';
import { allocateKvSlabs, kvLayoutFor, type KvSlabs } from '../kv/kv-slabs.js';
import { allocateExchange, type ExchangeSlab } from '../lanes/exchange.js';
import { allocateSlotSlab, type SlotSlab } from './slot-slab.js';
import { featureSlotFloats, type FeatureStore } from '../lanes/feature-store.js';
import { allocateStaleStore, type StaleStore } from '../lanes/stale-store.js';

/**
 * The most blocks a cascade keeps in flight: five at P4 (⌈(N + 1)/Δ⌉ ≤ 5 at every step count).
 * Sizes the KV reservations and the exchange.
 */
export const MAX_IN_FLIGHT_BLOCKS = 5;
/** Blocks that may hold a latent slot at once: five in flight, plus decodes behind them. */
export const LATENT_SLOTS = 8;
/** Prompt contexts per generation: the first prompt and each scheduled switch. */
export const CONTEXT_SLOTS = 1 + MAX_PROMPT_SWITCHES;

/** One shared slab of the plan. */
export interface SlabPlan {
  readonly name: 'kv' | 'latents' | 'latentSteps' | 'cleanLatents' | 'contexts' | 'exchange' | 'featureCache' | 'featureSteps' | 'stale';
  /** What one slot holds. */
  readonly holds: string;
  readonly slots: number;
  /** Bytes of one slot (for `kv` and `exchange`: keys and values together). */
  readonly slotBytes: number;
  readonly bytes: number;
}

/** Every shared slab of a runtime, and the sizes they derive from. */
export interface MemoryPlan {
  readonly kvCapacitySlots: number;
  readonly slabs: readonly SlabPlan[];
  readonly totalBytes: number;
}

/** The shared memory itself, as lane workers receive it. */
export interface SharedMemory {
  readonly kv: KvSlabs;
  readonly latents: SlotSlab;
  /**
   * A block's latents after the step a tick gives it, one slot per latent slot: lanes write
   * here, and the actor thread copies them into `latents` once the whole tick has succeeded,
   * so that a lane dying mid-tick leaves every input of the tick as it was (`docs/reliability.md`).
   */
  readonly latentSteps: SlotSlab;
  readonly cleanLatents: SlotSlab;
  readonly contexts: SlotSlab;
  readonly exchange: ExchangeSlab;
}

type Sizes = Pick<ModelManifest, 'framesPerBlock' | 'latent' | 'layers' | 'heads' | 'headDim' | 'tokensPerFrame' | 'text' | 'kv' | 'width'>;

/** What the plan covers beyond the slabs every runtime has. */
export interface MemoryPlanOptions {
  /**
   * Include the feature cache's slab (block-wise feature caching, one slot per latent slot). A
   * runtime allocates it on its first generation with a feature-cache policy.
   */
  readonly featureCache?: boolean;
  /** Include the `stale` execution mode's store (allocated on the first `stale` generation). */
  readonly stale?: boolean;
}

const F32 = Float32Array.BYTES_PER_ELEMENT;

/**
 * Sizes every slab for a model.
 *
 * @example
 * ```ts
 * const plan = planMemory(manifest);
 * console.log(plan.slabs.map((s) => `${s.name}: ${s.bytes} B`), plan.totalBytes);
 * ```
 */
export function planMemory(m: Sizes, options: MemoryPlanOptions = {}): MemoryPlan {
  const kvCapacitySlots = capacityFor({ sinkFrames: m.kv.sinkFrames, windowFrames: m.kv.windowFrames, framesPerBlock: m.framesPerBlock, inFlightBlocks: MAX_IN_FLIGHT_BLOCKS });
  const frameFloats = m.latent.channels * m.latent.height * m.latent.width;
  const kvSlotFloats = m.layers * m.heads * m.tokensPerFrame * m.headDim;
  const exchangeFrames = MAX_IN_FLIGHT_BLOCKS * m.framesPerBlock;
  const slab = (name: SlabPlan['name'], holds: string, slots: number, slotBytes: number): SlabPlan => ({ name, holds, slots, slotBytes, bytes: slots * slotBytes });
  const slabs = [
    slab('kv', "one frame's K and V for every layer", kvCapacitySlots, 2 * kvSlotFloats * F32),
    slab('latents', "one block's latents", LATENT_SLOTS, m.framesPerBlock * frameFloats * F32),
    slab('latentSteps', "one block's latents after a tick's step, until the tick succeeds", LATENT_SLOTS, m.framesPerBlock * frameFloats * F32),
    slab('cleanLatents', "the clean latent of the frame in the same KV slot (for re-cache)", kvCapacitySlots, frameFloats * F32),
    slab('contexts', "one prompt's text context", CONTEXT_SLOTS, m.text.maxTokens * m.text.contextDim * F32),
    slab('exchange', "one in-flight frame's K and V for every layer (lanes execution)", exchangeFrames, 2 * kvSlotFloats * F32),
    ...(options.featureCache
      ? [
          slab('featureCache', "one block's layer inputs, stack residual and K/V at its last computed step (feature caching)", LATENT_SLOTS, featureSlotFloats(m) * F32),
          slab('featureSteps', "the slots' other halves: a tick writes the uncommitted one, a parity word per slot (not counted) flips when it succeeds (crash recovery)", LATENT_SLOTS, featureSlotFloats(m) * F32),
        ]
      : []),
    ...(options.stale
      ? [slab('stale', "one in-flight frame's K and V for every layer at the tick before, in two tick parities (stale execution)", 2 * LATENT_SLOTS * m.framesPerBlock, 2 * kvSlotFloats * F32)]
      : []),
  ];
  return { kvCapacitySlots, slabs, totalBytes: slabs.reduce((sum, s) => sum + s.bytes, 0) };
}

/** The share of the machine's memory that the default `maxSessions` lets the memory sets take. */
export const SESSION_MEMORY_SHARE = 0.25;

/**
 * The default `maxSessions`: two generations per lane (one can prepare its next tick, encode
 * or decode while the other's forward runs), lowered so that that many memory sets of `plan`
 * (`plan.totalBytes` each: every session has its own K/V, latents, contexts and exchange) fit in
 * `memoryBytes` × {@link SESSION_MEMORY_SHARE}; never below 1.
 *
 * @example
 * ```ts
 * defaultMaxSessions(2, planMemory(manifest), os.totalmem()); // 4 for a small model
 * ```
 */
export function defaultMaxSessions(lanes: number, plan: Pick<MemoryPlan, 'totalBytes'>, memoryBytes: number): number {
  const fit = Math.floor((memoryBytes * SESSION_MEMORY_SHARE) / Math.max(1, plan.totalBytes));
  return Math.max(1, Math.min(2 * lanes, fit));
}

/**
 * Allocates the slabs of a plan.
 *
 * @example
 * ```ts
 * const memory = allocateMemory(manifest, planMemory(manifest));
 * ```
 */
export function allocateMemory(m: ModelManifest, plan: MemoryPlan): SharedMemory {
  const slotsOf = (name: SlabPlan['name']) => (plan.slabs.find((s) => s.name === name) as SlabPlan).slots;
  const frameFloats = m.latent.channels * m.latent.height * m.latent.width;
  return {
    kv: allocateKvSlabs(kvLayoutFor(m, plan.kvCapacitySlots)),
    latents: allocateSlotSlab(slotsOf('latents'), m.framesPerBlock * frameFloats),
    latentSteps: allocateSlotSlab(slotsOf('latentSteps'), m.framesPerBlock * frameFloats),
    cleanLatents: allocateSlotSlab(slotsOf('cleanLatents'), frameFloats),
    contexts: allocateSlotSlab(slotsOf('contexts'), m.text.maxTokens * m.text.contextDim),
    exchange: allocateExchange(m, slotsOf('exchange')),
  };
}

/**
 * Allocates the feature cache's slab of a plan made with `{ featureCache: true }`.
 *
 * @example
 * ```ts
 * const store = allocateFeatureCache(manifest, planMemory(manifest, { featureCache: true }));
 * ```
 */
export function allocateFeatureCache(m: ModelManifest, plan: MemoryPlan): FeatureStore {
  const slab = plan.slabs.find((s) => s.name === 'featureCache');
  if (!slab) throw new Error('the memory plan has no feature-cache slab (plan it with { featureCache: true })');
  const slotLength = featureSlotFloats(m);
  return { buffer: new SharedArrayBuffer(slab.slots * slotLength * F32), steps: new SharedArrayBuffer(slab.slots * slotLength * F32), parity: new SharedArrayBuffer(slab.slots * 4), slots: slab.slots, slotLength };
}

/**
 * Allocates the `stale` mode's store of a plan made with `{ stale: true }`.
 *
 * @example
 * ```ts
 * const store = allocateStale(manifest, planMemory(manifest, { stale: true }));
 * ```
 */
export function allocateStale(m: ModelManifest, plan: MemoryPlan): StaleStore {
  const slab = plan.slabs.find((s) => s.name === 'stale');
  if (!slab) throw new Error('the memory plan has no stale slab (plan it with { stale: true })');
  return allocateStaleStore(m, slab.slots / (2 * m.framesPerBlock));
}
