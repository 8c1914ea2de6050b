/**
 * Lane proxies: the actor logic behind a block's `forward` and the supervisor's `encodePrompt`
 * and `decode`.
 *
 * This is where the control plane meets the data plane. A block's forward joins its tick at
 * the {@link TickBarrier}, which asks the KV-pool actor for slot handles and hands the tick to
 * an executor (lanes, or the simulator's virtual clock). Tasks carry handles; tensors stay in
 * shared memory and never enter an actor or an event.
 */
import { fromCallback, fromPromise, type ActorRefFrom, type EventObject } from 'xstate';
import type { ForwardInput, ForwardOutput } from './block.js';
import type { kvPoolMachine } from './kv-pool.js';
import type { DecodeInput, DecodeReport, EncodeInput } from './supervisor.js';
import type { TickBarrier } from './tick-barrier.js';

/** What the proxies need besides the barrier: prompt encoding and decoding. */
export interface ProxyPort {
  /** Encodes each prompt of the timeline into its context slot. */
  encodePrompts(contextSlots: readonly number[]): Promise<void>;
  /** Decodes a block's final latents and hands the frames to the output (outside the actors). */
  decode(block: number, latentSlot: number): Promise<void>;
}

/**
 * Creates the `forward`, `encodePrompt` and `decode` actor logic for one generation.
 *
 * @example
 * ```ts
 * const { forward, encodePrompt, decode } = laneProxies(barrier, port);
 * const machine = supervisorMachine.provide({
 *   actors: { block: reportingBlockMachine.provide({ actors: { forward } }), encodePrompt, decode },
 * });
 * ```
 */
export function laneProxies(barrier: TickBarrier, port: ProxyPort) {
  const forward = fromPromise<ForwardOutput, ForwardInput>(async ({ input, system }) => {
    const kvPool = system.get('kv-pool') as ActorRefFrom<typeof kvPoolMachine> | undefined;
    if (!kvPool) throw new Error(`block ${input.block}, stage ${input.stage}: no KV pool in the actor system`);
    const timing = await barrier.submit(input, kvPool);
    return { tickMembers: timing.forwards, runMs: timing.runMs, taskMs: timing.taskMs };
  });

  const encodePrompt = fromPromise<void, EncodeInput>(async ({ input }) => {
    await port.encodePrompts(input.contextSlots);
  });

  // A callback actor, not a promise: a promise actor's completion is `xstate.done.actor.decode.N`,
  // a new event type per block that XState's transition cache would keep (see the block machine).
  const decode = fromCallback<EventObject, DecodeInput>(({ input, sendBack }) => {
    port.decode(input.block, input.latentSlot).then(
      () => sendBack({ type: 'decode.done', block: input.block } satisfies DecodeReport),
      (error: unknown) => sendBack({ type: 'decode.failed', block: input.block, error } satisfies DecodeReport),
    );
  });

  return { forward, encodePrompt, decode };
}
