/**
 * Lane proxies: the actor logic that turns a block's stage into a task on a lane.
 *
 * This is where the control plane meets the data plane. The proxy asks the KV-pool actor for
 * slot handles (what to attend to, where to write), sends a task made of handles to a lane,
 * and reports timings; tensors stay in shared memory and never enter an actor or an event.
 */
import { fromPromise, type ActorRefFrom } from 'xstate';
import { STAGES } from '../protocol/domain.js';
import type { Lane, TaskTiming } from '../runtime/lanes/lane.js';
import { stagePlan, type Schedule } from '../runtime/sampler.js';
import type { ForwardInput, ForwardOutput } from './block.js';
import { kvPoolMachine, readableSlots, slotsOfBlock } from './kv-pool.js';
import type { DecodeInput, EncodeInput } from './supervisor.js';

/** What the proxies need from the runtime. */
export interface LanePort {
  readonly schedule: Schedule;
  /** Token ids of the prompt. */
  readonly promptTokens: readonly number[];
  /** The lane for the next task. */
  pickLane(): Lane;
  /** Receives a decoded block's RGB frames (the output, outside the actor system). */
  deliverFrames(block: number, rgb: Uint8Array): void;
  /** Records a denoiser forward's timing, for stats and benchmarks. */
  recordForward(timing: TaskTiming): void;
}

/**
 * Creates the `forward`, `encodePrompt` and `decode` actor logic for one generation.
 *
 * @example
 * ```ts
 * const machine = supervisorMachine.provide({ actors: { ...laneProxies(port), block: blockMachine.provide({ actors: { forward } }) } });
 * ```
 */
export function laneProxies(port: LanePort) {
  const forward = fromPromise<ForwardOutput, ForwardInput>(async ({ input, system, signal }) => {
    const kvPool = system.get('kv-pool') as ActorRefFrom<typeof kvPoolMachine> | undefined;
    if (!kvPool) throw new Error(`block ${input.block}, stage ${STAGES[input.stage]}: no KV pool in the actor system`);
    const plan = stagePlan(port.schedule, input.stage);
    const pastSlots = readableSlots(kvPool.getSnapshot().context).map((s) => s.slot);
    let writeSlots: number[] | null = null;
    if (plan.isCache) {
      kvPool.send({ type: 'kv.reserve', block: input.block, positions: [...input.positions] });
      const pool = kvPool.getSnapshot().context;
      if (pool.refusal) throw new Error(pool.refusal);
      writeSlots = slotsOfBlock(pool, input.block).map((s) => s.slot);
    }
    const lane = port.pickLane();
    const timing = await lane.denoise({
      kind: 'denoise',
      block: input.block,
      stage: input.stage,
      seed: input.seed,
      latentSlot: input.latentSlot,
      contextSlot: input.contextSlot,
      positions: input.positions,
      timestep: plan.timestep,
      sigma: plan.sigma,
      sigmaNext: plan.sigmaNext,
      pastSlots,
      writeSlots,
    });
    // A stopped generation (abort) has no pool left to tell; the slabs are reset by the next one.
    if (plan.isCache && !signal.aborted) kvPool.send({ type: 'kv.commit', block: input.block });
    port.recordForward(timing);
    return { lane: lane.id, runMs: timing.runMs, taskMs: timing.taskMs };
  });

  const encodePrompt = fromPromise<void, EncodeInput>(async ({ input }) => {
    await port.pickLane().encode({ kind: 'encode', tokens: port.promptTokens, contextSlot: input.contextSlot });
  });

  const decode = fromPromise<{ block: number }, DecodeInput>(async ({ input }) => {
    const result = await port.pickLane().decode({ kind: 'decode', block: input.block, latentSlot: input.latentSlot });
    port.deliverFrames(input.block, result.rgb);
    return { block: input.block };
  });

  return { forward, encodePrompt, decode };
}
