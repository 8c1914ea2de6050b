/**
 * The tick barrier: where the blocks' independent `forward` invocations become ticks.
 *
 * Each block actor invokes one forward per stage on its own; in a cascade the blocks of a tick
 * must run together (they attend to each other's same-tick tokens). The barrier holds each
 * forward until every block of its tick has arrived, then runs the tick once. It knows whom to
 * expect from the schedule (block b runs stage s at tick b·Δ + s, `core/schedule.ts`), never
 * from timing, so the grouping is the same however the event loop interleaves.
 */
import type { ActorRefFrom } from 'xstate';
import type { AttentionMode } from '../core/cascade-options.js';
import { cacheStage, tickMembers, tickOf, type CascadeSchedule } from '../core/schedule.js';
import type { FeatureUse, RecachePlan, TickExecutor, TickMember, TickTiming } from '../core/tick.js';
import type { ForwardInput } from './block.js';
import { kvPoolMachine, readableSlots, slotsOfBlock, type KvPoolContext, type SlotEntry } from './kv-pool.js';

type KvPoolRef = ActorRefFrom<typeof kvPoolMachine>;

interface Waiting {
  readonly input: ForwardInput;
  readonly resolve: (timing: TickTiming) => void;
  readonly reject: (error: unknown) => void;
}

export interface TickBarrierOptions {
  readonly schedule: CascadeSchedule;
  readonly blocks: number;
  readonly attention: AttentionMode;
  /** `cascadeWindow: 'trained'` in a cascade: the model's window and sink, in frames. Absent: members see the whole past. */
  readonly window?: { readonly frames: number; readonly sinkFrames: number };
  readonly executor: TickExecutor;
  /** Called once per completed tick, for stats and traces. */
  readonly onTick?: (tick: number, members: readonly TickMember[], timing: TickTiming) => void;
  /**
   * Re-cache at a prompt switch (sequential mode only, see `RecacheMode`): before the first tick
   * of a block whose prompt differs from the one the cache was made under.
   */
  readonly recache?: boolean;
  /** Called after each re-cache. */
  readonly onRecache?: (plan: RecachePlan, timing: TickTiming) => void;
  /**
   * Whether a member computes its layers or reuses cached features (block-wise feature
   * caching decides per block and step). Default: every member computes.
   */
  readonly features?: (input: ForwardInput) => FeatureUse;
  /** Whether a computing member measures (`TickMember.measure`); default: every member does. */
  readonly measures?: (input: ForwardInput) => boolean;
  /**
   * Called as each tick is about to run, before anything of it starts: every earlier tick of
   * the generation has ended, so nothing of it writes the slabs (where snapshots are taken).
   */
  readonly beforeTick?: (state: BetweenTicks) => void;
  /** The prompt the committed K/V were made under (a resumed generation's); default none yet. */
  readonly cachedUnder?: number | null;
}

/** What the barrier knows between two ticks: the next tick's forwards, the pool, the cache's prompt. */
export interface BetweenTicks {
  readonly tick: number;
  /** The next tick's forwards, oldest block first: every block in flight, at its stage. */
  readonly members: readonly ForwardInput[];
  readonly pool: KvPoolContext;
  /** The context slot the committed K/V were made under; null before any cache step. */
  readonly cachedUnder: number | null;
}

/** @internal */
/** Tick barriers made in this process: each one's number keys its past (`TickPlan.pastKey`). */
let barriers = 0;

export class TickBarrier {
  readonly #options: TickBarrierOptions;
  readonly #waiting = new Map<number, Waiting[]>();
  #stopped = false;
  /** The prompt (context slot) the committed K/V were made under; null before any cache step. */
  #cachedUnder: number | null = null;
  readonly #id = ++barriers;
  #recaches = 0;

  constructor(options: TickBarrierOptions) {
    this.#options = options;
    this.#cachedUnder = options.cachedUnder ?? null;
  }

  /** Ticks whose blocks have not all arrived yet (for diagnostics). */
  get pendingTicks(): number[] {
    return [...this.#waiting.keys()];
  }

  /** Drops waiting forwards; ticks already running finish but change no actor. */
  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
  }

  /**
   * Joins `input` to its tick; resolves when the tick has run.
   *
   * @example
   * ```ts
   * const forward = fromPromise(({ input, system }) => barrier.submit(input, system.get('kv-pool')));
   * ```
   */
  submit(input: ForwardInput, kvPool: KvPoolRef): Promise<TickTiming> {
    const { schedule, blocks } = this.#options;
    const tick = tickOf(schedule, input.block, input.stage);
    return new Promise<TickTiming>((resolve, reject) => {
      const arrived = this.#waiting.get(tick) ?? [];
      arrived.push({ input, resolve, reject });
      this.#waiting.set(tick, arrived);
      if (arrived.length === tickMembers(schedule, tick, blocks).length) {
        this.#waiting.delete(tick);
        void this.#run(tick, arrived, kvPool);
      }
    });
  }

  async #run(tick: number, arrived: Waiting[], kvPool: KvPoolRef): Promise<void> {
    const inputs = arrived.map((w) => w.input).sort((a, b) => a.block - b.block);
    if (this.#options.beforeTick) {
      try {
        this.#options.beforeTick({ tick, members: inputs, pool: kvPool.getSnapshot().context, cachedUnder: this.#cachedUnder });
      } catch (error) {
        for (const waiting of arrived) waiting.reject(error);
        return;
      }
    }
    const members: TickMember[] = inputs.map((input) => ({
      block: input.block,
      stage: input.stage,
      features: this.#options.features?.(input) ?? 'compute',
      ...(this.#options.measures?.(input) === false ? { measure: false } : {}),
      seed: input.seed,
      latentSlot: input.latentSlot,
      contextSlot: input.contextSlot,
      positions: input.positions,
    }));
    try {
      const readable = readableSlots(kvPool.getSnapshot().context);
      await this.#recacheIfSwitched(members, readable);
      if (this.#stopped) return;
      const pastSlots = readable.map((s) => s.slot);
      // A committed slot's bytes change only when it is released and reused (its generation
      // moves) or re-cached (the count moves); the barrier's id separates generations.
      const pastKey = `${this.#id}.${this.#recaches}:${readable.map((s) => `${s.slot}/${s.generation}`).join(',')}`;
      const caching = members.find((m) => m.stage === cacheStage(this.#options.schedule));
      let cacheSlots: number[] | null = null;
      if (caching) {
        kvPool.send({ type: 'kv.reserve', block: caching.block, positions: [...caching.positions] });
        const pool = kvPool.getSnapshot().context;
        if (pool.refusal) throw new Error(pool.refusal);
        cacheSlots = slotsOfBlock(pool, caching.block).map((s) => s.slot);
      }
      const window = this.#options.window;
      const timing = await this.#options.executor.run({
        tick,
        members,
        attention: this.#options.attention,
        pastSlots,
        pastKey,
        cacheSlots,
        // A committed slot always has its position.
        ...(window ? { window: { ...window, pastPositions: readable.map((s) => s.position as number) } } : {}),
      });
      if (this.#stopped) return;
      assertStillHeld(tick, readable, kvPool.getSnapshot().context.slots);
      if (caching) {
        kvPool.send({ type: 'kv.commit', block: caching.block });
        this.#cachedUnder = caching.contextSlot;
      }
      this.#options.onTick?.(tick, members, timing);
      for (const waiting of arrived) waiting.resolve(timing);
    } catch (error) {
      for (const waiting of arrived) waiting.reject(error);
    }
  }

  /**
   * Sequential mode: a block's first forward under a prompt other than the cache's first
   * re-caches the committed frames under it. Only at P0, where the previous block's cache step
   * has committed before this tick starts, so nothing else reads or writes those slots meanwhile.
   */
  async #recacheIfSwitched(members: readonly TickMember[], readable: readonly SlotEntry[]): Promise<void> {
    const [first] = members;
    if (!this.#options.recache || members.length !== 1 || !first || first.stage !== 0) return;
    if (this.#cachedUnder === null || this.#cachedUnder === first.contextSlot || readable.length === 0) return;
    const plan: RecachePlan = {
      beforeBlock: first.block,
      contextSlot: first.contextSlot,
      slots: readable.map((s) => s.slot),
      positions: readable.map((s) => s.position as number),
      blocks: readable.map((s) => s.block as number),
    };
    this.#recaches++;
    const timing = await this.#options.executor.recache(plan);
    this.#cachedUnder = first.contextSlot;
    this.#options.onRecache?.(plan, timing);
  }
}

/**
 * The lanes read `read` during the whole tick: none of those slots may have been released (its
 * generation moves on release) or recommitted meanwhile. A broken lifetime rule would otherwise
 * show up only as subtly wrong frames.
 */
export function assertStillHeld(tick: number, read: readonly SlotEntry[], now: readonly SlotEntry[]): void {
  for (const entry of read) {
    const current = now[entry.slot];
    if (!current || current.generation !== entry.generation || current.state !== 'committed') {
      throw new Error(`tick ${tick}: KV slot ${entry.slot} (frame ${entry.position}) was released while the tick read it`);
    }
  }
}
