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
 * them ({@link AheadExecutor.decoded}). The cache step stays a tick of its own (it reserves K/V
 * slots when it comes).
 *
 * A plan the run does not cover (another member, a reused step, a block resumed mid-way) goes
 * to the inner executor. After a crash the block's latents may be one step ahead of what was
 * reported, so its next tick starts a new run from the block's noise, reporting from that tick on:
 * the steps before it compute the same floats again.
 */
import type { TickMember, RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import type { Schedule } from '../../core/sampler.js';
import type { DecodeTask, TickMemberTask, TickTask } from '../../protocol/lane-messages.js';
import { LaneError } from '../../core/errors.js';
import type { Lane } from '../lanes/lane.js';
import { tickCall } from './joint.js';

/** A block's run: its task, what it was made for, and how far the worker has got. */
interface Run {
  readonly member: TickMember;
  readonly lane: Lane;
  readonly ticks: readonly TickTask[];
  readonly decode: { readonly task: DecodeTask; readonly rgb: SharedArrayBuffer } | null;
  /** The next step whose end observers have not been told of. */
  nextReport: number;
  readonly pastKey: string | undefined;
  /** Int32 [steps done, cancel, decoded] (`AheadTask.progress`). */
  readonly control: Int32Array;
  readonly timings: Float64Array;
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
}

/** Whether `plan` is a one-member denoising tick that computes and commits. */
function soleStep(plan: TickPlan, steps: number): TickMember | null {
  const [member] = plan.members;
  if (plan.members.length !== 1 || !member || plan.cacheSlots !== null) return null;
  if (member.stage >= steps || member.features !== 'compute' || member.commit === false) return null;
  return member;
}

const sameBlock = (a: TickMember, b: TickMember) => a.block === b.block && a.latentSlot === b.latentSlot && a.contextSlot === b.contextSlot && a.seed === b.seed;

/**
 * @example
 * ```ts
 * const executor = new AheadExecutor(joint.create(context), { schedule, pickLane, memory: 0, frameBytes });
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
    const member = soleStep(plan, steps);
    if (!member) return this.inner.run(plan);
    let run = this.#runs.get(member.block);
    if (run && (!sameBlock(run.member, member) || run.pastKey !== plan.pastKey)) {
      throw new Error(`block ${member.block}, stage ${member.stage}: the tick differs from the steps already running for the block (prompt, slot or past changed mid-block)`);
    }
    if (run?.failure !== undefined && member.stage >= reported(run)) run = undefined;
    if (!run) {
      if (member.stage > 0 && !this.#broken.has(member.block)) return this.inner.run(plan);
      run = this.#start(plan, member, steps);
    }
    return this.#stepOf(run, member.stage, steps);
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
    while (Atomics.load(run.control, 2) === 0 && !run.done) {
      const wait = waitAsync(run.control, 2, 0);
      if (wait.async) await Promise.race([wait.value, run.ended]);
    }
    this.#runs.delete(block);
    if (Atomics.load(run.control, 2) === 0) {
      run.lane.reportStep({ phase: 'end', task, at: performance.now(), error: run.failure ?? new Error('cancelled') });
      return null;
    }
    const at = 3 * run.ticks.length;
    const runMs = run.timings[at] as number;
    run.lane.reportStep({ phase: 'end', task, at: performance.now(), result: { runMs, workerMs: run.timings[at + 1] as number } });
    return { rgb: new Uint8Array(run.decode.rgb).slice(), runMs };
  }

  /**
   * Whether no block's latents are past its actor's stage: every run has reported all its steps
   * or stopped (a snapshot between two ticks reads the latents as at each block's stage).
   */
  get quiet(): boolean {
    // A failed run's block may be a step past what was reported until its restart reports.
    for (const run of this.#runs.values()) if (reported(run) < run.ticks.length && (!run.done || run.failure !== undefined)) return false;
    return true;
  }

  /** Asks every run under way to stop before its next step (the generation is ending). */
  cancel(): void {
    for (const run of this.#runs.values()) Atomics.store(run.control, 1, 1);
  }

  #start(plan: TickPlan, member: TickMember, steps: number): Run {
    const { schedule, memory, frameBytes } = this.options;
    // A restart recomputes the block from its noise (stage 0), whatever stage is asked for now.
    this.#broken.delete(member.block);
    const ticks: TickTask[] = [];
    for (let stage = 0; stage < steps; stage++) {
      ticks.push({ kind: 'tick', ...tickCall({ ...plan, members: [{ ...member, stage }] }, schedule, memory) });
    }
    const decode = frameBytes > 0 ? { task: { kind: 'decode' as const, memory, block: member.block, latentSlot: member.latentSlot }, rgb: new SharedArrayBuffer(frameBytes) } : null;
    const progress = new SharedArrayBuffer(16 + 8 * (3 * steps + 2));
    const sentAt = performance.timeOrigin + performance.now();
    const lane = this.options.pickLane();
    const task = lane.ahead({ kind: 'ahead', memory, ticks, progress, ...(decode ? { decode } : {}) });
    lane.reportStep({ phase: 'start', task: ticks[member.stage] as TickTask, at: performance.now() });
    const run: Run = {
      member,
      lane,
      ticks,
      decode,
      nextReport: member.stage,
      pastKey: plan.pastKey,
      control: new Int32Array(progress, 0, 3),
      timings: new Float64Array(progress, 16, 3 * steps + 2),
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

  /** Stage `stage`'s timing once the worker has reported it; the run's error if it never will. */
  async #stepOf(run: Run, stage: number, steps: number): Promise<TickTiming> {
    for (;;) {
      const done = reported(run);
      if (done > stage) break;
      if (run.done) {
        const failure = run.failure;
        if (run.nextReport < run.ticks.length) run.lane.reportStep({ phase: 'end', task: run.ticks[run.nextReport] as TickTask, at: performance.now(), error: failure ?? new Error('cancelled') });
        run.nextReport = run.ticks.length;
        // Named after the stage the block actor is at, which the run was working towards.
        const stageName = (run.ticks[stage]?.members[0] as TickMemberTask).stageName;
        if (failure instanceof LaneError) throw new LaneError(failure.lane, failure.block, stageName, failure.what, failure.cause, failure.crashed);
        if (failure !== undefined) throw failure;
        throw new Error(`block ${run.member.block}: its steps stopped at stage ${done} before stage ${stage} (cancelled)`);
      }
      const wait = waitAsync(run.control, 0, done);
      if (wait.async) await Promise.race([wait.value, run.ended]);
    }
    // Kept for its frames when it decodes them; otherwise done with.
    if (stage === steps - 1 && !run.decode) this.#runs.delete(run.member.block);
    const at = 3 * stage;
    const runMs = run.timings[at] as number;
    const workerMs = run.timings[at + 1] as number;
    const endedAt = run.timings[at + 2] as number;
    // The lane's time for this step: since the previous step ended (the first: since the task was sent).
    const taskMs = endedAt - (stage === 0 ? run.sentAt : (run.timings[at - 1] as number));
    if (run.nextReport === stage) {
      const now = performance.now();
      run.lane.reportStep({ phase: 'end', task: run.ticks[stage] as TickTask, at: now, result: { runMs, workerMs } });
      run.nextReport++;
      if (stage + 1 < steps) run.lane.reportStep({ phase: 'start', task: run.ticks[stage + 1] as TickTask, at: now });
    }
    return { forwards: 1, calls: 1, runMs, workerMs, taskMs, committed: true };
  }
}

/** `Atomics.waitAsync` (Node ≥ 16; typed from ES2024, past this project's `lib`). */
type WaitAsync = (array: Int32Array, index: number, value: number, timeoutMs?: number) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Steps the worker has finished and committed. */
const reported = (run: Run): number => Atomics.load(run.control, 0);
