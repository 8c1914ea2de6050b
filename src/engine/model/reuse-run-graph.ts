/**
 * A run of reused steps in one call: `k` consecutive steps of one block that all reuse its
 * cached residual (bwcache once its schedule is fixed), each `head(embed(x) + residual)`
 * followed by the sampler's update, chained inside one ONNX graph. A reused step's own work is a
 * small fraction of a `session.run` on a small model; one call for the run instead of one per
 * step leaves onnxruntime's per-call cost and the worker's per-step bookkeeping to the run.
 *
 * The update is computed as the runtime computes it in JS (`core/sampler.ts`): in float64 from
 * float32 inputs, each operation rounded once, in the same order, the result rounded to float32.
 * So the latents leaving the run are the bytes `k` separate reused steps make (tested).
 */
import onnxProto from 'onnx-proto';
import { IO, embedSpec, headSpec, type ContractDims, type TensorSpec } from './contract.js';
import { Builder, inline, type Source } from './graph-merge.js';
import { readLayeredFile, type LayeredFiles } from './fused-graph.js';
import type { SamplerUpdate } from '../../core/manifest-types.js';

/** The sampler updates a run can compute in its graph: those that need nothing but the step's σ (and, re-noising, its noise). */
export type RunUpdate = Extract<SamplerUpdate, 'euler' | 'renoise'>;

/**
 * Input and output names of a run's graph, step `i` counted from 0 within the run: `latents`
 * (the block's latents before the run), `residual` (as the reuse graph's, `REUSE_IO`),
 * per step its `timesteps_i`, float64 scalars (euler: `dt_i` = σn − σ; renoise: `sigma_i`,
 * `keep_i` = 1 − σn, `sigma_next_i`) and, re-noising, `noise_i`; out comes `latents_out`.
 */
export const REUSE_RUN_IO = {
  latents: IO.latents,
  residual: 'residual',
  timesteps: (i: number) => `timesteps_${i}`,
  dt: (i: number) => `dt_${i}`,
  sigma: (i: number) => `sigma_${i}`,
  keep: (i: number) => `keep_${i}`,
  sigmaNext: (i: number) => `sigma_next_${i}`,
  noise: (i: number) => `noise_${i}`,
  latentsOut: 'latents_out',
} as const;

const { DataType } = onnxProto.onnx.TensorProto;
const to = (type: number) => ({ name: 'to', type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: type });

/**
 * The graph of a run of `steps` reused steps (at least one) with update `update`.
 *
 * @example
 * ```ts
 * const bytes = fuseReuseRunGraph(manifest, { file: 'embed.onnx', bytes: embed }, { file: 'head.onnx', bytes: head }, 3, 'euler');
 * ```
 */
export function fuseReuseRunGraph(m: ContractDims, embed: Source, head: Source, steps: number, update: RunUpdate): Uint8Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`fuseReuseRunGraph: a run has at least one step, got ${steps}`);
  const b = new Builder();
  const spec = embedSpec(m);
  const [latentSpec, timestepSpec] = spec.inputs as [TensorSpec, TensorSpec];
  const hiddenSpec = spec.outputs.find((o) => o.name === IO.hidden) as TensorSpec;
  const scalar = (name: string): TensorSpec => ({ name, type: 'float64', dims: [] });
  const inputs: TensorSpec[] = [latentSpec, { ...hiddenSpec, name: REUSE_RUN_IO.residual }];
  const files: string[] = [];
  let x: string = REUSE_RUN_IO.latents;
  for (let i = 0; i < steps; i++) {
    const p = `step_${i}/`;
    const timesteps = REUSE_RUN_IO.timesteps(i);
    inputs.push({ ...timestepSpec, name: timesteps });
    const bound = new Map([[IO.latents, x], [IO.timesteps, timesteps]]);
    const e = inline(embed, spec, `${p}embed/`, bound);
    b.add(e);
    const headInput = b.node('Add', [e.outputs.get(IO.hidden) as string, REUSE_RUN_IO.residual], `${p}head_input`);
    const h = inline(head, headSpec(m), `${p}head/`, new Map([...bound, [IO.hidden, headInput], [IO.timeEmbedding, e.outputs.get(IO.timeEmbedding) as string]]));
    b.add(h);
    files.push(embed.file, head.file);
    const flow = b.node('Cast', [h.outputs.get(IO.flow) as string], `${p}flow64`, [to(DataType.DOUBLE)]);
    const x64 = b.node('Cast', [x], `${p}x64`, [to(DataType.DOUBLE)]);
    let next: string;
    if (update === 'euler') {
      // x + dt·flow
      inputs.push(scalar(REUSE_RUN_IO.dt(i)));
      next = b.node('Add', [x64, b.node('Mul', [REUSE_RUN_IO.dt(i), flow], `${p}dt_flow`)], `${p}next64`);
    } else {
      // (1 − σn)·(x − σ·flow) + σn·ε
      inputs.push(scalar(REUSE_RUN_IO.sigma(i)), scalar(REUSE_RUN_IO.keep(i)), scalar(REUSE_RUN_IO.sigmaNext(i)), { ...latentSpec, name: REUSE_RUN_IO.noise(i) });
      const x0 = b.node('Sub', [x64, b.node('Mul', [REUSE_RUN_IO.sigma(i), flow], `${p}sigma_flow`)], `${p}x0`);
      const noise = b.node('Cast', [REUSE_RUN_IO.noise(i)], `${p}noise64`, [to(DataType.DOUBLE)]);
      next = b.node('Add', [b.node('Mul', [REUSE_RUN_IO.keep(i), x0], `${p}kept`), b.node('Mul', [REUSE_RUN_IO.sigmaNext(i), noise], `${p}fresh`)], `${p}next64`);
    }
    x = b.node('Cast', [next], i === steps - 1 ? REUSE_RUN_IO.latentsOut : `${p}next`, [to(DataType.FLOAT)]);
  }
  return b.finish(`fused_reuse_run_${steps}`, files, inputs, [{ ...latentSpec, name: REUSE_RUN_IO.latentsOut }]);
}

/**
 * Reads a package's `embed` and `head` files and merges a run of `steps` ({@link fuseReuseRunGraph}).
 *
 * @example
 * ```ts
 * const session = await InferenceSession.create(await buildReuseRunGraph(pkg.manifest, pkg.paths.layered, 3, 'euler'));
 * ```
 */
export async function buildReuseRunGraph(m: ContractDims, files: Pick<LayeredFiles, 'embed' | 'head'>, steps: number, update: RunUpdate): Promise<Uint8Array> {
  const [embed, head] = await Promise.all([readLayeredFile(files.embed), readLayeredFile(files.head)]);
  return fuseReuseRunGraph(m, embed, head, steps, update);
}
