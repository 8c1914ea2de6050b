/**
 * The cascade schedule as arithmetic, the one source of both the tick table and admission.
 *
 * A block passes N + 1 stages (N denoising steps, then the cache step). With lag Δ, block b
 * runs stage s at tick b·Δ + s. Level Pk keeps at most k + 1 blocks in flight with
 * Δ = ⌈(N + 1)(5 − k)/5⌉ stages (N = 4: Δ = 5 − k; P0: Δ = N + 1, one block after another).
 * The tick barrier groups forwards with {@link tickOf}/{@link tickMembers}; the supervisor
 * admits the next block when its predecessor reaches {@link admissionStage}, which is read off
 * the same table.
 */
import type { StageIndex } from './domain.js';
import type { Parallelism } from './cascade-options.js';

/** The P levels: Pk keeps at most k + 1 blocks in flight. */
export const PARALLELISM_LEVELS = [0, 1, 2, 3, 4] as const satisfies readonly Parallelism[];

/** One generation's schedule: its steps and the lag Δ its P level gives them. */
export interface CascadeSchedule {
  /** Denoising steps per block (N); the block's stages are 0 … N, N being the cache step. */
  readonly steps: number;
  readonly parallelism: Parallelism;
  /** Stages between the starts of consecutive blocks (Δ). */
  readonly lag: number;
}

/** One block's stage at one tick. */
export interface TickEntry {
  readonly block: number;
  readonly stage: StageIndex;
}

/**
 * The lag Δ of level `parallelism` at `steps` denoising steps: ⌈(N + 1)(5 − k)/5⌉.
 *
 * @example
 * ```ts
 * lagFor(4, 4); // 1
 * lagFor(32, 4); // 7
 * lagFor(8, 0); // 9: sequential
 * ```
 */
export const lagFor = (steps: number, parallelism: Parallelism): number => Math.ceil(((steps + 1) * (5 - parallelism)) / 5);

/**
 * The schedule of `steps` denoising steps at level `parallelism`.
 *
 * @example
 * ```ts
 * cascadeSchedule(4, 4); // { steps: 4, parallelism: 4, lag: 1 }
 * ```
 */
export function cascadeSchedule(steps: number, parallelism: Parallelism): CascadeSchedule {
  return { steps, parallelism, lag: lagFor(steps, parallelism) };
}

/** Stages a block passes: N denoising steps and the cache step. */
export const stageCount = (schedule: Pick<CascadeSchedule, 'steps'>): number => schedule.steps + 1;
/** Index of the cache step. */
export const cacheStage = (schedule: Pick<CascadeSchedule, 'steps'>): StageIndex => schedule.steps;

/** The tick at which `block` runs `stage`. */
export const tickOf = (schedule: CascadeSchedule, block: number, stage: StageIndex): number => block * schedule.lag + stage;

/**
 * The stage `block` runs at `tick`: null before it starts and once it is done.
 *
 * @example
 * ```ts
 * stageAt(cascadeSchedule(4, 4), 1, 3); // 2
 * ```
 */
export function stageAt(schedule: CascadeSchedule, block: number, tick: number): StageIndex | null {
  const stage = tick - block * schedule.lag;
  return stage >= 0 && stage <= cacheStage(schedule) ? stage : null;
}

/**
 * The blocks that run at `tick`, oldest first.
 *
 * @example
 * ```ts
 * tickMembers(cascadeSchedule(4, 4), 4, 10); // B0 cache, B1 t0, B2 t1, B3 t2, B4 t3 as {block, stage}
 * ```
 */
export function tickMembers(schedule: CascadeSchedule, tick: number, blocks: number): TickEntry[] {
  const members: TickEntry[] = [];
  const first = Math.max(0, Math.ceil((tick - cacheStage(schedule)) / schedule.lag));
  for (let block = first; block < blocks; block++) {
    const stage = stageAt(schedule, block, tick);
    if (stage === null) break;
    members.push({ block, stage });
  }
  return members;
}

/** Ticks a generation of `blocks` blocks takes. */
export const tickCount = (schedule: CascadeSchedule, blocks: number): number => (blocks - 1) * schedule.lag + stageCount(schedule);

/**
 * The progress the newest block must have reached before the next one starts: its stage at
 * the tick the next block's first step runs, or {@link stageCount} (done) when it has left the
 * table by then (sequential).
 *
 * @example
 * ```ts
 * admissionStage(cascadeSchedule(4, 4)); // 1: the next block starts as the newest one runs t2
 * admissionStage(cascadeSchedule(4, 0)); // 5: when the newest one is done
 * ```
 */
export function admissionStage(schedule: CascadeSchedule): number {
  return stageAt(schedule, 0, tickOf(schedule, 1, 0)) ?? stageCount(schedule);
}

/**
 * The most blocks in flight at once: ⌈(N + 1)/Δ⌉, at most k + 1 at level Pk.
 *
 * @example
 * ```ts
 * maxInFlight(cascadeSchedule(32, 4)); // 5
 * ```
 */
export const maxInFlight = (schedule: CascadeSchedule): number => Math.ceil(stageCount(schedule) / schedule.lag);

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
