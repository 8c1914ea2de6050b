/**
 * Running ahead: the sequential pipeline's denoising steps of a block, back to back on one lane.
 *
 * At P0 a block's denoising ticks are known when its first one is asked for: one member, the
 * same prompt and the same past throughout, and every step's sampler input comes from the step
 * before on the same lane. Handing them to the lane one at a time made the lane wait, after
 * every step, for the result to reach the actor thread, for the block actor's transition and
 * for the next task to come back (0.5–0.8 ms a step on the bundled model, 30–40 % of a forward
 * there). So the first step's tick sends them all as one task (`AheadTask`); the worker commits
 * each step and reports it in shared memory, and each later tick of the block, when the block
 * actor asks for it, is answered from that report. Every stage is still a state of the block
 * actor, entered as its step ends; only the lane no longer waits for it. The same task decodes
 * the block once its latents are final, so the frames are ready when the supervisor asks for
 * them ({@link AheadExecutor.decoded}). The same task then computes the block's cache step (its
 * clean K/V, at t = 0) and keeps the K/V aside: the KV pool reserves the block's
 * slots only when its actor reaches the cache stage, and the cache tick then writes the kept
 * K/V into them on the actor thread instead of going to a lane ({@link AheadOptions.cacheStep}).
 *
 * With feature caching the steps are `share` tasks and whether each computes or reuses depends
 * on the indicators of the block's earlier steps. The lane decides with a policy of its own,
 * made from the same settings and fed the same indicators in the same order as the actor
 * thread's (`indicatorsOf`, one function for both), and reports each step's indicator; the
 * actor thread's policy then reaches the same decision for the next step, which is checked.
 *
 * A plan the run does not cover (another member, a reused step, a block resumed mid-way) goes
 * to the inner executor. After a crash the block's latents may be one step ahead of what was
 * reported, so its next tick starts a new run from the block's noise, reporting from that tick on:
 * the steps before it compute the same floats again.
 */
import type { TickMember, RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import type { Schedule } from '../../core/sampler.js';
import { AHEAD_CANCEL, AHEAD_STEP_FLOATS, AHEAD_TAIL_FLOATS, AHEAD_YIELD, type DecodeTask, type ShareTask, type TickMemberTask, type TickTask } from '../../protocol/lane-messages.js';
import { scatterPresent } from '../kv/kv-slabs.js';
import { storeCleanLatents } from '../lanes/clean-latents.js';
import type { SharedMemory } from '../memory/memory-plan.js';
import type { FeatureCacheSettings, MemberIndicator } from '../../core/feature-cache.js';
import type { FeatureStore } from '../lanes/feature-store.js';
import { LaneError } from '../../core/errors.js';
import { waitAsync } from '../../core/wait-async.js';
import type { Lane } from '../lanes/lane.js';
import { tickCall } from './joint.js';

/** A block's run: its task, what it was made for, and how far the worker has got. */
interface Run {
  readonly member: TickMember;
  readonly lane: Lane;
  readonly steps: readonly (TickTask | ShareTask)[];
  readonly decode: { readonly task: DecodeTask; readonly rgb: SharedArrayBuffer } | null;
  readonly cache: { readonly task: TickTask | ShareTask; readonly key: SharedArrayBuffer; readonly value: SharedArrayBuffer } | null;
  /** Asked for already: the frames, the cache step's K/V. */
  readonly taken: { decode: boolean; cache: boolean };
  /** The next step whose end observers have not been told of. */
  nextReport: number;
  readonly pastKey: string | undefined;
  /** Int32 [steps done, cancel, decoded, cache step done] (`AheadTask.progress`). */
  readonly control: Int32Array;
  /** Float64 per step (`AHEAD_STEP_FLOATS`), then the decode's. */
  readonly figures: Float64Array;
  /** `performance.timeOrigin + performance.now()` when the task was handed to the lane. */
  readonly sentAt: number;
  readonly ended: Promise<void>;
  failure: unknown;
  done: boolean;
}

/** A block's frames decoded by its run, with the decoder's time. */
export interface AheadFrames {
  readonly rgb: Uint8Array;
  readonly runMs: number;
}

/** What the runs need besides the plans. */
export interface AheadOptions {
  readonly schedule: Schedule;
  readonly pickLane: () => Lane;
  /** The generation's memory set. */
  readonly memory: number;
  /** Bytes of one block's frames (`framesPerBlock · height · width · 3`); 0: runs do not decode. */
  readonly frameBytes: number;
  /** Feature caching: the store, the settings lanes decide with, frames per block; null when off. */
  readonly caching: { readonly store: FeatureStore; readonly settings: FeatureCacheSettings; readonly framesPerBlock: number } | null;
  /**
   * Runs also compute the block's cache step, whose K/V the executor writes into the reserved
   * slots of `memory` (the generation's set); `presentFloats`: a block's K/V floats of one kind.
   * With feature caching it runs through the fused forward, as its cache tick would. Null: the
   * cache step stays a tick of its own.
   */
  readonly cacheStep: { readonly memory: SharedMemory; readonly presentFloats: number } | null;
}

/** Whether `plan` is a one-member denoising tick that commits (and computes, without caching). */
function soleStep(plan: TickPlan, steps: number, caching: boolean): TickMember | null {
  const [member] = plan.members;
  if (plan.members.length !== 1 || !member || plan.cacheSlots !== null) return null;
  if (member.stage >= steps || (member.features !== 'compute' && !caching) || member.commit === false) return null;
  return member;
}

/** Whether `plan`'s member is the block `run` runs, under the same prompt and past. */
const fits = (run: Run, member: TickMember, plan: TickPlan) =>
  run.member.block === member.block && run.member.latentSlot === member.latentSlot && run.member.contextSlot === member.contextSlot && run.member.seed === member.seed && run.pastKey === plan.pastKey;

/**
 * @example
 * ```ts
 * const executor = new AheadExecutor(joint.create(context), { schedule, pickLane, memory: 0, frameBytes, caching: null, cacheStep: null });
 * await executor.run(plan); // stage 0 of a P0 block: its steps start on a lane as one task
 * const frames = await executor.decoded(plan.members[0].block); // null: decode it on a lane
 * ```
 */
export class AheadExecutor implements TickExecutor {
  readonly #runs = new Map<number, Run>();
  /** Blocks whose run failed: their latents may be past what was reported. */
  readonly #broken = new Set<number>();

  constructor(
    private readonly inner: TickExecutor,
    private readonly options: AheadOptions,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    const steps = this.options.schedule.sigmas.length;
    const caching = plan.members.length === 1 && plan.cacheSlots !== null ? (plan.members[0] as TickMember) : null;
    if (caching?.stage === steps) {
      const run = this.#runs.get(caching.block);
      if (run?.cache && !run.taken.cache && fits(run, caching, plan)) return this.#cacheOf(run, plan.cacheSlots as readonly number[], plan);
    }
    const member = soleStep(plan, steps, this.options.caching !== null);
    if (!member) return this.inner.run(plan);
    let run = this.#runs.get(member.block);
    if (run && !fits(run, member, plan)) {
      throw new Error(`block ${member.block}, stage ${member.stage}: the tick differs from the steps already running for the block (prompt, slot or past changed mid-block)`);
    }
    if (run?.failure !== undefined && member.stage >= reported(run)) run = undefined;
    if (!run) {
      if (member.stage > 0 && !this.#broken.has(member.block)) return this.inner.run(plan);
      run = this.#start(plan, member, steps);
    }
    return this.#stepOf(run, member, steps, plan);
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return this.inner.recache(plan);
  }

  /**
   * Block `block`'s frames from its run, once decoded; null when no run of it decodes or its run
   * stopped first (decode it on a lane then). Each block's frames are handed out once.
   */
  async decoded(block: number): Promise<AheadFrames | null> {
    const run = this.#runs.get(block);
    if (!run?.decode) return null;
    const task = run.decode.task;
    run.lane.reportStep({ phase: 'start', task, at: performance.now() });
    if (!(await this.#take(run, 'decode', task))) return null;
    const at = AHEAD_STEP_FLOATS * run.steps.length;
    const runMs = run.figures[at] as number;
    run.lane.reportStep({ phase: 'end', task, at: performance.now(), result: { runMs, workerMs: run.figures[at + 1] as number } });
    return { rgb: new Uint8Array(run.decode.rgb).slice(), runMs };
  }

  /**
   * Whether no block's latents are past its actor's stage: every run has reported all its steps
   * or stopped (a snapshot between two ticks reads the latents as at each block's stage).
   */
  get quiet(): boolean {
    // A failed run's block may be a step past what was reported until its restart reports.
    for (const run of this.#runs.values()) if (reported(run) < run.steps.length && (!run.done || run.failure !== undefined)) return false;
    return true;
  }

  /** Asks every run under way to stop before its next step (the generation is ending). */
  cancel(): void {
    for (const run of this.#runs.values()) Atomics.store(run.control, 1, AHEAD_CANCEL);
  }

  #start(plan: TickPlan, member: TickMember, steps: number): Run {
    const { schedule, memory, frameBytes, caching } = this.options;
    // A restart recomputes the block from its noise (stage 0), whatever stage is asked for now.
    this.#broken.delete(member.block);
    // The tick the block's actor will ask for at `stage`, as its executor would send it (the cache step's without slots).
    const stepTask = (stage: number): TickTask | ShareTask => {
      const call = tickCall({ ...plan, members: [{ ...member, stage, features: 'compute' }], cacheSlots: null }, schedule, memory);
      return caching
        ? { kind: 'share', ...call, tick: plan.tick - member.stage + stage, frames: { from: 0, to: caching.framesPerBlock }, lanes: 1, lane: 0, keyFrames: caching.framesPerBlock, waitFor: 1, featureStore: caching.store }
        : { kind: 'tick', ...call };
    };
    // A step's compute or reuse is the lane's to decide (from the block's earlier indicators).
    const stepTasks = Array.from({ length: steps }, (_, stage) => stepTask(stage));
    const decode = frameBytes > 0 ? { task: { kind: 'decode' as const, memory, block: member.block, latentSlot: member.latentSlot }, rgb: new SharedArrayBuffer(frameBytes) } : null;
    const { cacheStep } = this.options;
    const cache = cacheStep ? { task: stepTask(steps), key: new SharedArrayBuffer(4 * cacheStep.presentFloats), value: new SharedArrayBuffer(4 * cacheStep.presentFloats) } : null;
    const progress = new SharedArrayBuffer(16 + 8 * (AHEAD_STEP_FLOATS * steps + AHEAD_TAIL_FLOATS));
    const sentAt = performance.timeOrigin + performance.now();
    const lane = this.options.pickLane();
    const task = lane.ahead({
      kind: 'ahead',
      memory,
      steps: stepTasks as readonly TickTask[] | readonly ShareTask[],
      progress,
      ...(caching ? { policy: { settings: caching.settings, steps } } : {}),
      ...(cache ? { cache } : {}),
      ...(decode ? { decode } : {}),
    });
    lane.reportStep({ phase: 'start', task: stepTasks[member.stage] as TickTask | ShareTask, at: performance.now() });
    const run: Run = {
      member,
      lane,
      steps: stepTasks,
      decode,
      cache,
      taken: { decode: false, cache: false },
      nextReport: member.stage,
      pastKey: plan.pastKey,
      control: new Int32Array(progress, 0, 4),
      figures: new Float64Array(progress, 16, AHEAD_STEP_FLOATS * steps + AHEAD_TAIL_FLOATS),
      sentAt,
      failure: undefined,
      done: false,
      ended: task.then(
        () => {
          run.done = true;
        },
        (error: unknown) => {
          run.failure = error;
          run.done = true;
          this.#broken.add(member.block);
        },
      ),
    };
    this.#runs.set(member.block, run);
    return run;
  }

  /**
   * The cache step a run computed: its K/V written into `slots` (reserved by the KV pool for the
   * block now) and the block's clean latents kept, on this thread; the same writes a cache tick
   * makes on its lane. A run that stopped before it falls back to a cache tick.
   */
  async #cacheOf(run: Run, slots: readonly number[], plan: TickPlan): Promise<TickTiming> {
    const cache = run.cache as NonNullable<Run['cache']>;
    if (!(await this.#take(run, 'cache', cache.task))) return this.inner.run(plan);
    const memory = (this.options.cacheStep as NonNullable<AheadOptions['cacheStep']>).memory;
    scatterPresent(memory.kv, slots, new Float32Array(cache.key), new Float32Array(cache.value));
    storeCleanLatents(memory.latents, memory.cleanLatents, run.member.latentSlot, slots);
    const at = AHEAD_STEP_FLOATS * run.steps.length + 2;
    const [runMs, workerMs] = run.figures.subarray(at, at + 2) as unknown as [number, number];
    run.lane.reportStep({ phase: 'end', task: { ...cache.task, cacheSlots: slots }, at: performance.now(), result: { runMs, workerMs, ...waitsOf(cache.task) } });
    // The lane's time for it (the decode ran between it and the last step).
    const timing: TickTiming = { forwards: 1, calls: 1, runMs, workerMs, taskMs: workerMs, committed: true };
    // As a cache tick reports with caching on: nothing reused, nothing measured.
    return this.options.caching ? { ...timing, reused: 0, indicators: [], featureMs: 0 } : timing;
  }

  /**
   * Waits until the run has made its `what` (the frames, the cache step's K/V) or stopped, and
   * marks it taken; false, with `task` reported failed, when it stopped first.
   */
  async #take(run: Run, what: keyof Run['taken'], task: TickTask | ShareTask | DecodeTask): Promise<boolean> {
    const made = await settle(run, what === 'decode' ? 2 : 3, (flag) => flag !== 0);
    run.taken[what] = true;
    this.#release(run);
    if (made) return true;
    run.lane.reportStep({ phase: 'end', task, at: performance.now(), error: run.failure ?? new Error('cancelled') });
    return false;
  }

  /** Forgets `run` once nothing more will be asked of it (its steps, frames and cache step). */
  #release(run: Run): void {
    const stepsDone = run.nextReport >= run.steps.length || reported(run) >= run.steps.length;
    if (stepsDone && (!run.decode || run.taken.decode) && (!run.cache || run.taken.cache) && this.#runs.get(run.member.block) === run) this.#runs.delete(run.member.block);
  }

  /** `member`'s step once the worker has reported it; the run's error if it never will. */
  async #stepOf(run: Run, member: TickMember, steps: number, plan: TickPlan): Promise<TickTiming> {
    const stage = member.stage;
    if (!(await settle(run, 0, (done) => done > stage))) {
      const failure = run.failure;
      const yielded = failure === undefined && Atomics.load(run.control, 1) === AHEAD_YIELD;
      if (run.nextReport < run.steps.length) run.lane.reportStep({ phase: 'end', task: run.steps[run.nextReport] as TickTask | ShareTask, at: performance.now(), error: failure ?? new Error(yielded ? 'yielded to a higher-priority session' : 'cancelled') });
      run.nextReport = run.steps.length;
      if (yielded) {
        // Its lane stopped the run for a higher-priority session's task after `stage` steps,
        // all committed: the rest of the block goes to the lanes step by step, the same ticks.
        if (this.#runs.get(run.member.block) === run) this.#runs.delete(run.member.block);
        return this.inner.run(plan);
      }
      // Named after the stage the block actor is at, which the run was working towards.
      const stageName = (run.steps[stage]?.members[0] as TickMemberTask).stageName;
      if (failure instanceof LaneError) throw new LaneError(failure.lane, failure.block, stageName, failure.what, failure.cause, failure.crashed);
      if (failure !== undefined) throw failure;
      throw new Error(`block ${run.member.block}: its steps stopped at stage ${reported(run)} before stage ${stage} (cancelled)`);
    }
    // Kept for its frames and its cache step's K/V, when it makes them; otherwise done with.
    if (stage === steps - 1) this.#release(run);
    const f = run.figures.subarray(AHEAD_STEP_FLOATS * stage, AHEAD_STEP_FLOATS * (stage + 1));
    const [runMs, workerMs, endedAt, featureMs, reused] = f as unknown as [number, number, number, number, number];
    // A `decide` step is the lane's to choose (after its first layer); any other must agree.
    // 1: reused; 2: reused in one call with the block's neighbouring reused steps.
    const used = reused >= 1 ? 'reuse' : 'compute';
    if (this.options.caching && member.features !== 'decide' && member.features !== used) {
      throw new Error(`block ${member.block}, stage ${stage}: the lane ${reused >= 1 ? 'reused' : 'computed'} the step its actor's policy says to ${member.features} (the two policies disagree)`);
    }
    // The lane's time for this step: since the previous step ended (the first: since the task was sent).
    const taskMs = endedAt - (stage === 0 ? run.sentAt : (run.figures[AHEAD_STEP_FLOATS * (stage - 1) + 2] as number));
    const task = run.steps[stage] as TickTask | ShareTask;
    if (run.nextReport === stage) {
      const now = performance.now();
      run.lane.reportStep({ phase: 'end', task: { ...task, members: [{ ...(task.members[0] as TickMemberTask), features: used }] }, at: now, result: { runMs, workerMs, ...waitsOf(task) } });
      run.nextReport++;
      const next = stage + 1 < steps ? run.steps[stage + 1] : run.cache?.task;
      if (next) run.lane.reportStep({ phase: 'start', task: next, at: now });
    }
    const timing: TickTiming = { forwards: 1, calls: 1, runMs, workerMs, taskMs, committed: true };
    if (!this.options.caching) return timing;
    const indicator = indicatorFrom(f.subarray(5), member.block, stage, reused >= 1);
    return { ...timing, reused: reused >= 1 ? 1 : 0, reusedTogether: reused === 2 ? 1 : 0, indicators: indicator ? [indicator] : [], featureMs, ...(member.features === 'decide' ? { decided: new Map([[member.block, used]]) } : {}) };
  }
}

/** The indicator a lane wrote as (present, value) pairs (`AheadTask.progress`); undefined when it measured nothing. */
function indicatorFrom(pairs: Float64Array, block: number, stage: number, reused: boolean): MemberIndicator | undefined {
  const value = (i: number): number | null | undefined => (pairs[2 * i] === 0 ? undefined : pairs[2 * i] === 1 ? null : (pairs[2 * i + 1] as number));
  const indicator = value(0);
  if (indicator === undefined) return undefined;
  const firstResidual = value(2);
  const residual = value(3);
  const nextInput = value(4);
  return {
    block,
    stage,
    indicator,
    firstInput: value(1) ?? null,
    ...(firstResidual !== undefined ? { firstResidual } : {}),
    ...(residual !== undefined ? { residual } : {}),
    ...(nextInput !== undefined ? { nextInput } : {}),
    ...(reused ? { reused: true } : {}),
  };
}

/**
 * Waits until `ready` holds of `run.control[index]` or the run's task has ended (then nothing
 * will change); whether it holds.
 */
async function settle(run: Run, index: number, ready: (value: number) => boolean): Promise<boolean> {
  for (;;) {
    const value = Atomics.load(run.control, index);
    if (ready(value)) return true;
    // The worker wrote everything before its task ended: one more look decides.
    if (run.done) return ready(Atomics.load(run.control, index));
    const wait = waitAsync(run.control, index, value);
    if (wait.async) await Promise.race([wait.value, run.ended]);
  }
}

/** A run's `share` step or cache step went through the fused or reuse graph on one lane: no layer waited. */
const waitsOf = (task: TickTask | ShareTask) => (task.kind === 'share' ? { exchangeWaitMs: 0, layerWaitsMs: [] } : {});

/** Steps the worker has finished and committed. */
const reported = (run: Run): number => Atomics.load(run.control, 0);
