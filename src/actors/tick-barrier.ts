/**
 * The tick barrier: where the blocks' independent `forward` invocations become ticks.
 *
 * Each block actor invokes one forward per stage on its own; in a cascade the blocks of a tick
 * must run together (they attend to each other's same-tick tokens). The barrier holds each
 * forward until every block of its tick has arrived, then runs the tick once. It knows whom to
 * expect from the schedule (block b runs stage s at tick b·Δ + s, `core/schedule.ts`), never
 * from timing, so the grouping is the same however the event loop interleaves.
 *
 * With member dispatch (`dispatch: 'member'`, the `wavefront` mode) the barrier still knows each
 * tick's blocks from the schedule, but hands the executor one block at a time: a block runs once
 * the older blocks of its tick are done (it attends to their K/V of the tick), the previous
 * tick's cache step has committed (its past) and the tick before that is complete (the K/V
 * store's parity of that tick is free again). Which forwards run at once depends on timing;
 * what each one computes does not.
 */
import type { ActorRefFrom } from 'xstate';
import type { AttentionMode } from '../core/cascade-options.js';
import { cacheStage, tickMembers, tickOf, type CascadeSchedule } from '../core/schedule.js';
import { windowHides, type FeatureUse, type RecachePlan, type TickExecutor, type TickMember, type TickPlan, type TickTiming } from '../core/tick.js';
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
  /** `member`: one forward per block as soon as its inputs exist (`ExecutorNeeds.dispatch`); default `tick`. */
  readonly dispatch?: 'tick' | 'member';
  /**
   * Member dispatch: forwards handed out at once, at most (the lanes): the rest wait here, where
   * the oldest tick's goes first when a lane frees, rather than in one lane's queue while another
   * lane idles. Default: no limit.
   */
  readonly concurrency?: number;
}

/** A tick under member dispatch: its blocks (oldest first) and how far each has got. */
interface MemberTick {
  readonly blocks: readonly { readonly block: number; readonly stage: number }[];
  readonly arrived: Map<number, Waiting>;
  readonly started: Set<number>;
  readonly done: Map<number, TickMember>;
  readonly timings: TickTiming[];
  /** The tick has no cache step, or its cache step has committed. */
  cached: boolean;
}

/** What the barrier knows between two ticks: the next tick's forwards, the pool, the cache's prompt. */
export interface BetweenTicks {
  readonly tick: number;
  /** The next tick's forwards, oldest block first: every block in flight, at its stage. */
  readonly members: readonly ForwardInput[];
  readonly pool: KvPoolContext;
  /** The context slot the committed K/V were made under; null before any cache step. */
  readonly cachedUnder: number | null;
  /** Re-caches so far: each one rewrote every committed frame's K/V. */
  readonly recaches: number;
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
  /** Member dispatch: ticks with a block not done yet, and the ticks completed (the last few). */
  readonly #memberTicks = new Map<number, MemberTick>();
  readonly #completed = new Set<number>();
  #running = 0;

  constructor(options: TickBarrierOptions) {
    this.#options = options;
    this.#cachedUnder = options.cachedUnder ?? null;
  }

  /** Ticks whose blocks have not all arrived yet (for diagnostics). */
  get pendingTicks(): number[] {
    return [...this.#waiting.keys(), ...[...this.#memberTicks].filter(([, t]) => t.arrived.size < t.blocks.length).map(([tick]) => tick)];
  }

  /** Drops waiting forwards; ticks already running finish but change no actor. */
  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
    this.#memberTicks.clear();
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
    if (this.#options.dispatch === 'member') {
      return new Promise<TickTiming>((resolve, reject) => {
        let state = this.#memberTicks.get(tick);
        if (!state) {
          const entries = tickMembers(schedule, tick, blocks);
          state = { blocks: entries, arrived: new Map(), started: new Set(), done: new Map(), timings: [], cached: !entries.some((b) => b.stage === cacheStage(schedule)) };
          this.#memberTicks.set(tick, state);
        }
        state.arrived.set(input.block, { input, resolve, reject });
        this.#pump(kvPool);
      });
    }
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
        this.#options.beforeTick({ tick, members: inputs, pool: kvPool.getSnapshot().context, cachedUnder: this.#cachedUnder, recaches: this.#recaches });
      } catch (error) {
        for (const waiting of arrived) waiting.reject(error);
        return;
      }
    }
    const members = inputs.map((input) => this.#memberOf(input));
    try {
      const readable = readableSlots(kvPool.getSnapshot().context);
      await this.#recacheIfSwitched(members, readable);
      if (this.#stopped) return;
      const pastSlots = readable.map((s) => s.slot);
      // A committed slot's bytes change only when it is released and reused (its generation
      // moves) or re-cached (the count moves); the barrier's id separates generations.
      const pastKey = `${this.#id}.${this.#recaches}:${readable.map((s) => `${s.slot}/${s.generation}`).join(',')}`;
      const caching = members.find((m) => m.stage === cacheStage(this.#options.schedule));
      const cacheSlots = caching ? reserveCacheSlots(kvPool, caching) : null;
      const timing = await this.#options.executor.run({ tick, members, attention: this.#options.attention, pastSlots, pastKey, cacheSlots, ...this.#windowOver(readable) });
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

  /** The plan's `window` over these past slots (a committed slot always has its position); nothing without the trained window. */
  #windowOver(readable: readonly SlotEntry[]): { window?: TickPlan['window'] } {
    const window = this.#options.window;
    return window ? { window: { ...window, pastPositions: readable.map((s) => s.position as number) } } : {};
  }

  #memberOf(input: ForwardInput): TickMember {
    return {
      block: input.block,
      stage: input.stage,
      features: this.#options.features?.(input) ?? 'compute',
      ...(this.#options.measures?.(input) === false ? { measure: false } : {}),
      seed: input.seed,
      latentSlot: input.latentSlot,
      contextSlot: input.contextSlot,
      positions: input.positions,
    };
  }

  /** Member dispatch: starts every forward whose inputs exist now, oldest tick first. */
  #pump(kvPool: KvPoolRef): void {
    if (this.#stopped) return;
    for (const tick of [...this.#memberTicks.keys()].sort((a, b) => a - b)) {
      if (this.#running >= (this.#options.concurrency ?? Infinity)) return;
      const state = this.#memberTicks.get(tick) as MemberTick;
      const previous = this.#memberTicks.get(tick - 1);
      // The past: the previous tick's cache step committed. The store: the tick before that complete.
      const pastReady = tick === 0 || this.#completed.has(tick - 1) || previous?.cached === true;
      const storeFree = tick < 2 || this.#completed.has(tick - 2);
      if (!pastReady || !storeFree) continue;
      // The next block of the tick, once every older one is done.
      const next = state.blocks.find((b) => !state.done.has(b.block));
      if (!next || state.started.has(next.block)) continue;
      const waiting = state.arrived.get(next.block);
      if (!waiting) continue;
      state.started.add(next.block);
      this.#running++;
      void this.#runMember(tick, state, waiting, kvPool).finally(() => {
        this.#running--;
        this.#pump(kvPool);
      });
    }
  }

  async #runMember(tick: number, state: MemberTick, waiting: Waiting, kvPool: KvPoolRef): Promise<void> {
    const member = this.#memberOf(waiting.input);
    try {
      const window = this.#options.window;
      const cache = cacheStage(this.#options.schedule);
      const start = member.positions[0] as number;
      const sees = (position: number) => window === undefined || !windowHides(window, start, position);
      // The past as the tick sees it: blocks committed by this tick's cache step at the latest (a
      // later tick's may have committed meanwhile: that block is in flight here). This tick's
      // caching block is in it already, with the K/V its forward computed in this tick.
      const readable = readableSlots(kvPool.getSnapshot().context).filter((s) => tickOf(this.#options.schedule, s.block as number, cache) <= tick && sees(s.position as number));
      // The other older blocks of the tick it sees: their K/V of this tick are in the store.
      const attendsTo = state.blocks.flatMap((b) => {
        const older = b.block < member.block && b.stage !== cache ? state.done.get(b.block) : undefined;
        return older && older.positions.some(sees) ? [older] : [];
      });
      const cacheSlots = member.stage === cache ? reserveCacheSlots(kvPool, member) : null;
      const pastSlots = readable.map((s) => s.slot);
      const timing = await this.#options.executor.run({ tick, members: [member], attention: this.#options.attention, pastSlots, cacheSlots, attendsTo, ...this.#windowOver(readable) });
      if (this.#stopped) return;
      assertStillHeld(tick, readable, kvPool.getSnapshot().context.slots);
      if (cacheSlots) {
        kvPool.send({ type: 'kv.commit', block: member.block });
        this.#cachedUnder = member.contextSlot;
        state.cached = true;
      }
      state.done.set(member.block, member);
      state.timings.push(timing);
      if (state.done.size === state.blocks.length) this.#complete(tick, state);
      waiting.resolve(timing);
    } catch (error) {
      waiting.reject(error);
    }
  }

  #complete(tick: number, state: MemberTick): void {
    this.#memberTicks.delete(tick);
    this.#completed.add(tick);
    this.#completed.delete(tick - 3);
    const sum = (f: (t: TickTiming) => number) => state.timings.reduce((total, t) => total + f(t), 0);
    const members = state.blocks.map((b) => state.done.get(b.block) as TickMember);
    this.#options.onTick?.(tick, members, { forwards: members.length, calls: sum((t) => t.calls), runMs: sum((t) => t.runMs), workerMs: sum((t) => t.workerMs), taskMs: sum((t) => t.taskMs) });
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

/** Reserves the caching block's slots in the KV pool (committed after its forward); their slots, in position order. */
function reserveCacheSlots(kvPool: KvPoolRef, caching: TickMember): number[] {
  kvPool.send({ type: 'kv.reserve', block: caching.block, positions: [...caching.positions] });
  const pool = kvPool.getSnapshot().context;
  if (pool.refusal) throw new Error(pool.refusal);
  return slotsOfBlock(pool, caching.block).map((s) => s.slot);
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
