/**
 * One forward's `session.run` time, several ways, interleaved call by call in one thread:
 * the monolithic denoiser, the fused forward (`src/engine/model/fused-graph.ts`: every output,
 * and the outputs a computed step with caching on fetches, measuring or not) and the layered
 * chain (embed, per layer K/V graph and layer, head; the keys joined outside the timing).
 * `npx tsx --conditions=block-cascade-source tools/fused-calls.ts [--model models/sprites]
 * [--past 6] [--calls 300] [--json FILE]`: one block after `past` cached frames, one intra-op
 * thread, the lanes' session options. Interleaving call by call makes the machine's load hit the
 * three alike, which whole-generation runs on a shared machine do not.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { median } from '../src/core/median.js';
import { buildFusedGraph, FUSED_IO } from '../src/engine/model/fused-graph.js';
import { loadModelPackage } from '../src/engine/model/loader.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/sprites' },
    past: { type: 'string', default: '6' },
    calls: { type: 'string', default: '300' },
    json: { type: 'string' },
  },
});
const pkg = await loadModelPackage(values.model, { validateGraphs: false });
const m = pkg.manifest;
const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
const open = (file: string | Uint8Array) => (typeof file === 'string' ? ort.InferenceSession.create(file, options) : ort.InferenceSession.create(file, options));
const denoiser = await open(pkg.paths.denoiser);
const fused = await open(await buildFusedGraph(m, pkg.paths.layered));
const embed = await open(pkg.paths.layered.embed);
const head = await open(pkg.paths.layered.head);
const keyValues = await Promise.all(pkg.paths.layered.keyValues.map(open));
const layers = await Promise.all(pkg.paths.layered.layers.map(open));

const F = m.framesPerBlock;
const n = F * m.tokensPerFrame;
const T = Number(values.past) * m.tokensPerFrame;
let seed = 1;
const random = (dims: number[]) => new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5), dims);
const feeds = {
  latents: random([1, F, m.latent.channels, m.latent.height, m.latent.width]),
  timesteps: random([1, F]),
  frame_positions: random([1, F]),
  context: random([1, m.text.maxTokens, m.text.contextDim]),
  past_key: random([m.layers, 1, m.heads, T, m.headDim]),
  past_value: random([m.layers, 1, m.heads, T, m.headDim]),
  attention_mask: new ort.Tensor('float32', new Float32Array(n * (T + n)), [1, 1, n, T + n]),
};
// The chain's joined keys are prepared once: only session.run is timed.
const joined = { key: random([1, m.heads, T + n, m.headDim]), value: random([1, m.heads, T + n, m.headDim]) };

async function chain(): Promise<number> {
  let ms = 0;
  const timed = async (session: ort.InferenceSession, f: Record<string, ort.Tensor>) => {
    const t = performance.now();
    const out = await session.run(f);
    ms += performance.now() - t;
    return out;
  };
  const e = await timed(embed, { latents: feeds.latents, timesteps: feeds.timesteps });
  const temb = e['time_embedding'] as ort.Tensor;
  let hidden = e['hidden'] as ort.Tensor;
  for (let l = 0; l < m.layers; l++) {
    await timed(keyValues[l] as ort.InferenceSession, { hidden, time_embedding: temb, frame_positions: feeds.frame_positions });
    hidden = (await timed(layers[l] as ort.InferenceSession, { hidden, time_embedding: temb, frame_positions: feeds.frame_positions, context: feeds.context, ...joined, attention_mask: feeds.attention_mask }))['hidden_out'] as ort.Tensor;
  }
  await timed(head, { hidden, time_embedding: temb, latents: feeds.latents, timesteps: feeds.timesteps });
  return ms;
}
const once = async (session: ort.InferenceSession) => {
  const t = performance.now();
  await session.run(feeds);
  return performance.now() - t;
};
// What a computed step with caching on fetches: every layer's input when it measures, the first
// layer's alone when it does not (FUSED_IO.hiddenIn); no present K/V at P0.
const fetching = async (inputs: string) => {
  const t = performance.now();
  await fused.run(feeds, [FUSED_IO.flow, inputs, FUSED_IO.hiddenOut]);
  return performance.now() - t;
};
const ways: Record<string, () => Promise<number>> = {
  denoiser: () => once(denoiser),
  fused: () => once(fused),
  'fused, measuring': () => fetching(FUSED_IO.layerInputs),
  'fused, not measuring': () => fetching(FUSED_IO.hiddenIn),
  chain,
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
const calls = Number(values.calls);
const load = [loadavg()[0] as number];
for (let i = 0; i < calls + 20; i++) {
  for (const [name, way] of Object.entries(ways)) {
    const ms = await way();
    if (i >= 20) times[name]?.push(ms); // the first calls plan memory
  }
}
load.push(loadavg()[0] as number);
const result = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { medianMs: median(v), relativeToDenoiser: median(v) / median(times.denoiser ?? []) }]));
process.stdout.write(`${values.model}, one block after ${values.past} cached frames, ${calls} interleaved calls each\n`);
for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(21)} ${v.medianMs.toFixed(3)} ms (${v.relativeToDenoiser.toFixed(2)}× the denoiser's)\n`);
if (values.json) await writeFile(values.json, `${JSON.stringify({ meta: { model: values.model, pastFrames: Number(values.past), calls, load1: load, date: new Date().toISOString() }, result }, null, 2)}\n`);
