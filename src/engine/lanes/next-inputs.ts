/**
 * teacache's look-ahead (worker side). TeaCache decides a step from that step's own layer-0 input
 * change, which exists only once the step before has updated the latents, while the runtime
 * chooses a step's graph (the whole stack or the reuse path) before its tick runs. So a step that
 * goes on denoising measures its successor's input right after its sampler update: the
 * embedding of the new latents against this step's embedding, reported with this step's result
 * (`MemberFeatureSums.nextInput`). The policy then has the exact change before it decides the
 * next step. One extra embedding call per tick; each lane measures the frames it holds, and the
 * lanes' sums add up in lane order (`feature-indicators.ts`).
 */
import * as ort from 'onnxruntime-node';
import type { MemberFeatureSums, TickMemberTask } from '../../protocol/lane-messages.js';
import { slotView } from '../memory/slot-slab.js';
import type { LaneWorkerData } from './worker-data.js';

/** A member's frames on this lane and this step's embedding of them (`count · tokensPerFrame · width` floats). */
export interface StepEmbedding {
  readonly member: TickMemberTask;
  /** First of the frames inside the block. */
  readonly blockFrame: number;
  readonly count: number;
  readonly embedded: Float32Array;
}

/** Whether a member's step is followed by another denoising step whose input it should measure. */
export const looksAhead = (member: TickMemberTask): boolean => !member.cache && member.commit !== false && member.nextTimestep !== undefined;

/**
 * Σ|next − now| and Σ|now| (float64, row order) of each member's next-step embedding against
 * `embedded`, after its sampler step wrote the next latents (`latentSteps`). Members that do not
 * {@link looksAhead} are skipped.
 *
 * @example
 * ```ts
 * const next = await nextInputSums(embed, [{ member, blockFrame: 0, count: 3, embedded }], data);
 * ```
 */
export async function nextInputSums(embed: ort.InferenceSession, rows: readonly StepEmbedding[], data: LaneWorkerData): Promise<Pick<MemberFeatureSums, 'block' | 'stage' | 'nextInput'>[]> {
  const m = data.manifest;
  const size = m.latent.channels * m.latent.height * m.latent.width;
  const wanted = rows.filter((r) => looksAhead(r.member));
  const frames = wanted.reduce((total, r) => total + r.count, 0);
  if (frames === 0) return [];
  const latents = new Float32Array(frames * size);
  const timesteps = new Float32Array(frames);
  let f = 0;
  for (const r of wanted) {
    latents.set(slotView(data.latentSteps, r.member.latentSlot).subarray(r.blockFrame * size, (r.blockFrame + r.count) * size), f * size);
    timesteps.fill(r.member.nextTimestep as number, f, f + r.count);
    f += r.count;
  }
  const outputs = await embed.run({
    latents: new ort.Tensor('float32', latents, [1, frames, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: new ort.Tensor('float32', timesteps, [1, frames]),
  });
  const next = outputs['hidden']?.data as Float32Array | undefined;
  if (!next) throw new Error('the embed graph returned no output "hidden"');
  const rowFloats = m.tokensPerFrame * m.width;
  let at = 0;
  return wanted.map((r) => {
    let change = 0;
    let base = 0;
    const n = r.count * rowFloats;
    for (let i = 0; i < n; i++) {
      const now = r.embedded[i] as number;
      change += Math.abs((next[at + i] as number) - now);
      base += Math.abs(now);
    }
    at += n;
    return { block: r.member.block, stage: r.member.stage, nextInput: [change, base] as const };
  });
}

/**
 * `sums` with each look-ahead merged into its member's entry (or added, for a member that
 * reported nothing else, such as a block's first step).
 *
 * @example
 * ```ts
 * const featureSums = withNextInputs(sums, await nextInputSums(embed, rows, data));
 * ```
 */
export function withNextInputs(sums: readonly MemberFeatureSums[], next: readonly Pick<MemberFeatureSums, 'block' | 'stage' | 'nextInput'>[]): MemberFeatureSums[] {
  const out = [...sums];
  for (const n of next) {
    const i = out.findIndex((s) => s.block === n.block);
    if (i >= 0) out[i] = { ...(out[i] as MemberFeatureSums), nextInput: n.nextInput as readonly [number, number] };
    else out.push({ block: n.block, stage: n.stage, change: [], base: [], nextInput: n.nextInput as readonly [number, number] });
  }
  return out;
}
