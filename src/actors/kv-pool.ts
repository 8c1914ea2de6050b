/**
 * The KV-pool actor: owns which slot of the KV slabs holds which frame, and for how long.
 *
 * Its context is a small table of numbers (the tensors live in the slabs, see
 * `runtime/kv/kv-slabs.ts`). A block reserves one slot per frame before its cache step and
 * commits them after; committing evicts every frame that is neither in the sink (positions
 * below `sinkFrames`, kept forever) nor among the `windowFrames` most recent committed
 * positions. A freed slot's generation goes up, so a stale handle can be told from a fresh one.
 *
 * A reservation the pool cannot satisfy is *refused*, not fatal: the machine stays usable,
 * takes nothing, records the reason in `context.refusal` (readable synchronously right after
 * `send`, which is how the tick barrier checks it) and emits a `kv.refused` event for
 * observers. The caller decides whether that fails the generation; a `failed` state would
 * instead strand the slots of every other block in flight.
 */
import { assign, enqueueActions, setup } from 'xstate';

export type SlotState = 'free' | 'reserved' | 'committed';

/** One slot of the slabs. `position` and `block` are null exactly when the slot is free. */
export interface SlotEntry {
  /** Index into the slabs (see `gatherPast`). */
  readonly slot: number;
  readonly position: number | null;
  readonly block: number | null;
  readonly state: SlotState;
  /** Times this slot has been freed; a handle `{ slot, generation }` is stale once it differs. */
  readonly generation: number;
}

export interface KvPoolInput {
  /** Slots in the slabs; see `capacityFor` (`core/schedule.ts`). */
  readonly capacity: number;
  readonly sinkFrames: number;
  readonly windowFrames: number;
  /** Frames committed from the start (a resumed generation's, docs/snapshots.md): slot, position, block. */
  readonly committed?: readonly { readonly slot: number; readonly position: number; readonly block: number }[];
  /** Frames evicted before (a resumed generation's count). */
  readonly evictions?: number;
}

export interface KvPoolContext extends Omit<KvPoolInput, 'committed'> {
  readonly slots: readonly SlotEntry[];
  /** Frames evicted from the window so far. */
  readonly evictions: number;
  /** Why the last reservation was refused; null after one that succeeded. */
  readonly refusal: string | null;
}

export type KvPoolEvent =
  /** Reserve one slot per frame position for `block` (before its cache step). */
  | { readonly type: 'kv.reserve'; readonly block: number; readonly positions: readonly number[] }
  /** The block's cache step wrote its K/V: make its slots readable, then evict. */
  | { readonly type: 'kv.commit'; readonly block: number }
  /** The block's cache step failed: free its reserved slots. */
  | { readonly type: 'kv.release'; readonly block: number };

/** Emitted (see `actor.on`) when a reservation is refused; the same message as `context.refusal`. */
export interface KvRefusedEvent {
  readonly type: 'kv.refused';
  readonly block: number;
  readonly message: string;
}

/**
 * A fresh pool: every slot free at generation 0. Throws a RangeError for a negative or
 * fractional size.
 *
 * @example
 * ```ts
 * const ctx = initialKvPool({ capacity: 15, sinkFrames: 3, windowFrames: 9 });
 * ```
 */
export function initialKvPool(input: KvPoolInput): KvPoolContext {
  for (const field of ['capacity', 'sinkFrames', 'windowFrames'] as const) {
    if (!Number.isSafeInteger(input[field]) || input[field] < 0) throw new RangeError(`KV pool: ${field} ${input[field]} is not a count`);
  }
  const committed = new Map((input.committed ?? []).map((c) => [c.slot, c]));
  return {
    capacity: input.capacity,
    sinkFrames: input.sinkFrames,
    windowFrames: input.windowFrames,
    slots: Array.from({ length: input.capacity }, (_, slot): SlotEntry => {
      const frame = committed.get(slot);
      return frame ? { slot, position: frame.position, block: frame.block, state: 'committed', generation: 0 } : { slot, position: null, block: null, state: 'free', generation: 0 };
    }),
    evictions: input.evictions ?? 0,
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

/**
 * Why `block` cannot reserve `positions`, or null if it can.
 *
 * @example
 * ```ts
 * reservationProblem(ctx, 4, [12, 13, 14]); // 'block 4: needs 3 KV slots but only 2 of 15 are free'
 * ```
 */
export function reservationProblem(ctx: KvPoolContext, block: number, positions: readonly number[]): string | null {
  if (!positions.every((p) => Number.isSafeInteger(p) && p >= 0)) return `block ${block}: positions [${positions.join(', ')}] are not frame positions`;
  if (new Set(positions).size !== positions.length) return `block ${block}: positions [${positions.join(', ')}] repeat a frame`;
  const held = ctx.slots.filter((s) => s.block === block).length;
  if (held > 0) return `block ${block}: already holds ${held} KV slots`;
  const wanted = new Set(positions);
  const clash = ctx.slots.find((s) => s.position !== null && wanted.has(s.position));
  if (clash) return `block ${block}: frame ${clash.position} is already ${clash.state} in slot ${clash.slot} by block ${clash.block}`;
  let free = 0;
  for (const s of ctx.slots) if (s.state === 'free') free++;
  if (free < positions.length) return `block ${block}: needs ${positions.length} KV slots but only ${free} of ${ctx.capacity} are free`;
  return null;
}

/**
 * Reserves one free slot per position, lowest slot first; all or nothing. A refusal takes
 * nothing and sets `refusal` (see {@link reservationProblem}).
 *
 * @example
 * ```ts
 * ctx = reserve(ctx, 0, [0, 1, 2]);
 * if (ctx.refusal) throw new Error(ctx.refusal);
 * ```
 */
export function reserve(ctx: KvPoolContext, block: number, positions: readonly number[]): KvPoolContext {
  const problem = reservationProblem(ctx, block, positions);
  if (problem !== null) return { ...ctx, refusal: problem };
  const taken = new Map<number, number>();
  for (const s of ctx.slots) {
    if (taken.size === positions.length) break;
    if (s.state === 'free') taken.set(s.slot, positions[taken.size] as number);
  }
  return {
    ...ctx,
    refusal: null,
    slots: ctx.slots.map((s) => {
      const position = taken.get(s.slot);
      return position === undefined ? s : { ...s, state: 'reserved', block, position };
    }),
  };
}

/**
 * Commits a block's reserved slots, then evicts what fell out of the sink ∪ window. Eviction
 * is idempotent, so committing a block that holds nothing reserved changes nothing.
 *
 * @example
 * ```ts
 * ctx = commit(reserve(ctx, 5, [15, 16, 17]), 5);
 * ```
 */
export function commit(ctx: KvPoolContext, block: number): KvPoolContext {
  const slots = ctx.slots.map((s) => (s.block === block && s.state === 'reserved' ? { ...s, state: 'committed' as const } : s));
  const committed = slots.filter((s) => s.state === 'committed').map((s) => s.position as number).sort((a, b) => a - b);
  // Frames at or after `keepFrom` are the window; an empty window keeps nothing beyond the sink.
  const keepFrom =
    ctx.windowFrames === 0 ? Infinity : committed.length > ctx.windowFrames ? (committed[committed.length - ctx.windowFrames] as number) : -Infinity;
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

/**
 * Frees a block's reserved (never committed) slots: the failure path. Committed frames stay.
 *
 * @example
 * ```ts
 * ctx = release(ctx, 5); // block 5's cache step failed
 * ```
 */
export function release(ctx: KvPoolContext, block: number): KvPoolContext {
  return { ...ctx, slots: ctx.slots.map((s) => (s.block === block && s.state === 'reserved' ? freeEntry(s) : s)) };
}

const byPosition = (a: SlotEntry, b: SlotEntry) => (a.position as number) - (b.position as number);

/**
 * Committed slots in position order: what a denoising forward attends to (sink ∪ window).
 * Reserved slots are never readable: their K/V are being written.
 *
 * @example
 * ```ts
 * const pastSlots = readableSlots(pool.getSnapshot().context).map((s) => s.slot);
 * ```
 */
export function readableSlots(ctx: KvPoolContext): SlotEntry[] {
  return ctx.slots.filter((s) => s.state === 'committed').sort(byPosition);
}

/**
 * The slots a block holds (reserved or committed), in position order.
 *
 * @example
 * ```ts
 * const cacheSlots = slotsOfBlock(ctx, 5).map((s) => s.slot);
 * ```
 */
export function slotsOfBlock(ctx: KvPoolContext, block: number): SlotEntry[] {
  return ctx.slots.filter((s) => s.block === block && s.state !== 'free').sort(byPosition);
}

/** Slot counts by state, and the positions the committed slots span (null when none). */
export interface PoolCounts {
  readonly free: number;
  readonly reserved: number;
  readonly committed: number;
  readonly window: readonly [number, number] | null;
}

/**
 * Slot counts by state (what the trace records on every change).
 *
 * @example
 * ```ts
 * const { free, reserved, committed, window } = poolCounts(ctx); // window: [oldest, newest] position
 * ```
 */
export function poolCounts(ctx: KvPoolContext): PoolCounts {
  let free = 0;
  let reserved = 0;
  let committed = 0;
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const slot of ctx.slots) {
    if (slot.state === 'free') free++;
    else if (slot.state === 'reserved') reserved++;
    else {
      committed++;
      low = Math.min(low, slot.position as number);
      high = Math.max(high, slot.position as number);
    }
  }
  return { free, reserved, committed, window: committed === 0 ? null : [low, high] };
}

/**
 * Slots in use (reserved or committed).
 *
 * @example
 * ```ts
 * occupancy(ctx) <= ctx.capacity; // always
 * ```
 */
export function occupancy(ctx: KvPoolContext): number {
  const { reserved, committed } = poolCounts(ctx);
  return reserved + committed;
}

/**
 * The KV-pool machine. The supervisor spawns it with `systemId: 'kv-pool'`; the tick barrier
 * sends it `kv.reserve` / `kv.commit` and reads its snapshot with the selectors above.
 *
 * @example
 * ```ts
 * const pool = createActor(kvPoolMachine, { input: { capacity: 27, sinkFrames: 3, windowFrames: 9 } }).start();
 * pool.on('kv.refused', ({ message }) => console.warn(message));
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
    emitted: {} as KvRefusedEvent,
  },
}).createMachine({
  id: 'kv-pool',
  context: ({ input }) => initialKvPool(input),
  on: {
    'kv.reserve': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const next = reserve(context, event.block, event.positions);
        enqueue.assign(() => next);
        if (next.refusal !== null) enqueue.emit({ type: 'kv.refused', block: event.block, message: next.refusal });
      }),
    },
    'kv.commit': { actions: assign(({ context, event }) => commit(context, event.block)) },
    'kv.release': { actions: assign(({ context, event }) => release(context, event.block)) },
  },
});
