/**
 * The KV-pool actor: owns which slot of the KV slabs holds which frame, and for how long.
 *
 * Its context is a small table of numbers (the tensors live in the slabs, see
 * `runtime/kv/kv-slabs.ts`). A block reserves one slot per frame before its cache step and
 * commits them after; committing evicts every frame that is neither in the sink (the first
 * `sinkFrames` frames, kept forever) nor among the `windowFrames` most recent ones. A freed
 * slot's generation goes up, so a stale handle can be told from a fresh one.
 */
import { assign, setup } from 'xstate';

export type SlotState = 'free' | 'reserved' | 'committed';

export interface SlotEntry {
  readonly slot: number;
  readonly position: number | null;
  readonly block: number | null;
  readonly state: SlotState;
  readonly generation: number;
}

export interface KvPoolInput {
  readonly capacity: number;
  readonly sinkFrames: number;
  readonly windowFrames: number;
}

export interface KvPoolContext extends KvPoolInput {
  readonly slots: readonly SlotEntry[];
  readonly evictions: number;
  /** Why the last reservation was refused, if it was. */
  readonly refusal: string | null;
}

export type KvPoolEvent =
  | { readonly type: 'kv.reserve'; readonly block: number; readonly positions: readonly number[] }
  | { readonly type: 'kv.commit'; readonly block: number }
  | { readonly type: 'kv.release'; readonly block: number };

/**
 * Slots a pool needs: the sink, the window, and the frames of the blocks in flight (whose
 * slots are reserved while older frames are still readable).
 *
 * @example
 * ```ts
 * capacityFor({ sinkFrames: 3, windowFrames: 9, framesPerBlock: 3, inFlightBlocks: 5 }); // 27
 * ```
 */
export function capacityFor(p: { sinkFrames: number; windowFrames: number; framesPerBlock: number; inFlightBlocks: number }): number {
  return p.sinkFrames + p.windowFrames + p.inFlightBlocks * p.framesPerBlock;
}

/** A fresh pool: every slot free. */
export function initialKvPool(input: KvPoolInput): KvPoolContext {
  return {
    ...input,
    slots: Array.from({ length: input.capacity }, (_, slot) => ({ slot, position: null, block: null, state: 'free', generation: 0 })),
    evictions: 0,
    refusal: null,
  };
}

const freeEntry = (entry: SlotEntry): SlotEntry => ({
  slot: entry.slot,
  position: null,
  block: null,
  state: 'free',
  generation: entry.generation + 1,
});

/** Reserves one free slot per position, lowest slot first; all or nothing. */
export function reserve(ctx: KvPoolContext, block: number, positions: readonly number[]): KvPoolContext {
  const free = ctx.slots.filter((s) => s.state === 'free');
  if (free.length < positions.length) {
    return {
      ...ctx,
      refusal: `block ${block}: needs ${positions.length} KV slots but only ${free.length} of ${ctx.capacity} are free`,
    };
  }
  const taken = new Map(free.slice(0, positions.length).map((s, i) => [s.slot, positions[i] as number]));
  return {
    ...ctx,
    refusal: null,
    slots: ctx.slots.map((s) => (taken.has(s.slot) ? { ...s, state: 'reserved', block, position: taken.get(s.slot) as number } : s)),
  };
}

/** Commits a block's reserved slots, then evicts what fell out of the sink ∪ window. */
export function commit(ctx: KvPoolContext, block: number): KvPoolContext {
  const slots = ctx.slots.map((s) => (s.block === block && s.state === 'reserved' ? { ...s, state: 'committed' as const } : s));
  const committed = slots.filter((s) => s.state === 'committed').map((s) => s.position as number).sort((a, b) => a - b);
  const keepFrom = committed.length > ctx.windowFrames ? (committed[committed.length - ctx.windowFrames] as number) : -Infinity;
  let evictions = ctx.evictions;
  const next = slots.map((s) => {
    if (s.state !== 'committed') return s;
    const position = s.position as number;
    if (position < ctx.sinkFrames || position >= keepFrom) return s;
    evictions++;
    return freeEntry(s);
  });
  return { ...ctx, slots: next, evictions };
}

/** Frees a block's reserved (never committed) slots: the failure path. */
export function release(ctx: KvPoolContext, block: number): KvPoolContext {
  return { ...ctx, slots: ctx.slots.map((s) => (s.block === block && s.state === 'reserved' ? freeEntry(s) : s)) };
}

const byPosition = (a: SlotEntry, b: SlotEntry) => (a.position as number) - (b.position as number);

/** Committed slots in position order: what a denoising forward attends to (sink ∪ window). */
export function readableSlots(ctx: KvPoolContext): SlotEntry[] {
  return ctx.slots.filter((s) => s.state === 'committed').sort(byPosition);
}

/** The slots a block holds (reserved or committed), in position order. */
export function slotsOfBlock(ctx: KvPoolContext, block: number): SlotEntry[] {
  return ctx.slots.filter((s) => s.block === block && s.state !== 'free').sort(byPosition);
}

/** Slots in use. */
export function occupancy(ctx: KvPoolContext): number {
  return ctx.slots.reduce((n, s) => n + (s.state === 'free' ? 0 : 1), 0);
}

/**
 * The KV-pool machine. The supervisor spawns it with `systemId: 'kv-pool'`; lane proxies send
 * it `kv.reserve` / `kv.commit` and read its snapshot with the selectors above.
 *
 * @example
 * ```ts
 * const pool = createActor(kvPoolMachine, { input: { capacity: 27, sinkFrames: 3, windowFrames: 9 } }).start();
 * pool.send({ type: 'kv.reserve', block: 0, positions: [0, 1, 2] });
 * pool.send({ type: 'kv.commit', block: 0 });
 * readableSlots(pool.getSnapshot().context).map((s) => s.position); // [0, 1, 2]
 * ```
 */
export const kvPoolMachine = setup({
  types: {
    context: {} as KvPoolContext,
    input: {} as KvPoolInput,
    events: {} as KvPoolEvent,
  },
}).createMachine({
  id: 'kv-pool',
  context: ({ input }) => initialKvPool(input),
  on: {
    'kv.reserve': { actions: assign(({ context, event }) => reserve(context, event.block, event.positions)) },
    'kv.commit': { actions: assign(({ context, event }) => commit(context, event.block)) },
    'kv.release': { actions: assign(({ context, event }) => release(context, event.block)) },
  },
});
