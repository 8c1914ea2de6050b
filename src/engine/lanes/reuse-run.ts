/**
 * Consecutive reused steps of one block in one call (worker side, running ahead at P0): once a
 * block's bwcache schedule is fixed its next steps are known, and a stretch of them that all
 * reuse needs nothing but the block's latents, its residual and each step's σ. The run's graph
 * (`model/reuse-run-graph.ts`) chains them, sampler updates included, and makes the bytes the
 * steps make one by one; the worker then reports each step as it would have.
 */
import * as ort from 'onnxruntime-node';
import type { ShareTask, TickMemberTask } from '../../protocol/lane-messages.js';
import { REUSE_RUN_IO, type RunUpdate } from '../model/reuse-run-graph.js';
import type { SamplerUpdate } from '../../core/manifest-types.js';
import { DEFAULT_SAMPLER_UPDATE } from '../../core/sampler.js';
import { slotView } from '../memory/slot-slab.js';
import { featureSlot, type FeatureStore } from './feature-store.js';
import { stepNoise } from './frame-range.js';
import type { LaneWorkerData } from './worker-data.js';

/** The longest run one graph takes; a longer stretch of reused steps runs as several. */
export const MAX_RUN_STEPS = 8;

/**
 * The update a run can compute for a step at σn = `sigmaNext` under the manifest's `update`
 * (absent: the default, re-noising), or null (`ve-ddim`, and the re-noising update's last step,
 * which adds no noise, go step by step).
 *
 * @example
 * ```ts
 * runUpdate('euler', 0); // 'euler'
 * runUpdate('renoise', 0); // null
 * ```
 */
export function runUpdate(update: SamplerUpdate | undefined, sigmaNext: number): RunUpdate | null {
  const u = update ?? DEFAULT_SAMPLER_UPDATE;
  if (u === 'euler') return 'euler';
  return u === 'renoise' && sigmaNext > 0 ? 'renoise' : null;
}

/**
 * Runs `steps` (one block's consecutive reused steps, oldest first) through `session`, a run
 * graph of their number: the block's latents end where the last step leaves them (in both its
 * latent slabs, as committed steps do), and the time spent is returned.
 *
 * @example
 * ```ts
 * const runMs = await runReuseSteps(steps, await loadReuseRun(steps.length, 'euler'), d, 'euler');
 * ```
 */
export async function runReuseSteps(steps: readonly ShareTask[], session: ort.InferenceSession, d: LaneWorkerData, update: RunUpdate): Promise<number> {
  const m = d.manifest;
  const F = m.framesPerBlock;
  const dims = [1, F, m.latent.channels, m.latent.height, m.latent.width];
  const members = steps.map((step) => step.members[0] as TickMemberTask);
  const first = members[0];
  if (first === undefined || members.some((member) => member.block !== first.block || member.latentSlot !== first.latentSlot)) {
    throw new Error(`a run of reused steps is one block's: got blocks ${members.map((member) => member.block).join(', ')}`);
  }
  const store = steps[0]?.featureStore as FeatureStore;
  const latents = slotView(d.latents, first.latentSlot);
  const scalar = (value: number) => new ort.Tensor('float64', Float64Array.of(value), []);
  const feeds: Record<string, ort.Tensor> = {
    [REUSE_RUN_IO.latents]: new ort.Tensor('float32', latents.slice(), dims),
    [REUSE_RUN_IO.residual]: new ort.Tensor('float32', featureSlot(store, m, first.latentSlot).residual.slice(), [1, F * m.tokensPerFrame, m.width]),
  };
  members.forEach((member, i) => {
    feeds[REUSE_RUN_IO.timesteps(i)] = new ort.Tensor('float32', new Float32Array(F).fill(member.timestep), [1, F]);
    if (update === 'euler') {
      feeds[REUSE_RUN_IO.dt(i)] = scalar(member.sigmaNext - member.sigma);
    } else {
      feeds[REUSE_RUN_IO.sigma(i)] = scalar(member.sigma);
      feeds[REUSE_RUN_IO.keep(i)] = scalar(1 - member.sigmaNext);
      feeds[REUSE_RUN_IO.sigmaNext(i)] = scalar(member.sigmaNext);
      feeds[REUSE_RUN_IO.noise(i)] = new ort.Tensor('float32', stepNoise(member, latents.length), dims);
    }
  });
  const start = performance.now();
  const outputs = await session.run(feeds);
  const runMs = performance.now() - start;
  const out = (outputs[REUSE_RUN_IO.latentsOut] as ort.Tensor).data as Float32Array;
  latents.set(out);
  slotView(d.latentSteps, first.latentSlot).set(out);
  return runMs;
}
