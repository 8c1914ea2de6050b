/**
 * The fused forward of feature caching: the package's own layered graphs (embed, every layer's
 * K/V graph and layer, head) merged into one ONNX graph, so that a computed step with caching
 * on costs one `session.run` instead of 2·layers + 2.
 *
 * The merge is made in memory when a lane first needs it and never written to disk. Sub-graphs
 * are joined by their contract IO names only (`contract.ts`), so a package exported from
 * PyTorch, whose inner names are arbitrary, merges as well as one from the model builder: every
 * inner name gets a per-graph prefix, and the contract inputs are bound to what feeds them. Each
 * layer's key/value input is formed as the runtime forms it in JS for a tick on one lane:
 * `[this layer's cache past ; the call's own K/V]` along the token axis.
 *
 * Inputs are the monolithic denoiser's (`denoiserSpec`); outputs are {@link FUSED_IO}'s. A
 * second, small graph serves reused steps: embed, plus a residual, then head
 * ({@link fuseReuseGraph}).
 */
import { readFile } from 'node:fs/promises';
import { IO, denoiserSpec, type ContractDims, type TensorSpec, embedSpec, headSpec, layerKvSpec, layerSpec } from './contract.js';
import { ModelPackageError, issue } from './errors.js';
import { Builder, axis, inline, type Source } from './graph-merge.js';

/**
 * Output names of the fused graph. `present_key`/`present_value` are the call's own K/V of every
 * layer, `[layers, B, heads, N, headDim]` as the denoiser's; `layer_inputs` every layer's input
 * hidden state `[layers, B, N, width]` (the indicator and the store read them); `hidden_in` the
 * first layer's input alone `[B, N, width]` (what a step that measures nothing needs, without
 * the other layers' copies); `hidden_out` the last layer's output (the residual is
 * `hidden_out − hidden_in`).
 */
export const FUSED_IO = {
  flow: IO.flow,
  presentKey: IO.presentKey,
  presentValue: IO.presentValue,
  layerInputs: 'layer_inputs',
  hiddenIn: 'hidden_in',
  hiddenOut: IO.hiddenOut,
} as const;

/** The layered files of a package, as absolute (or as given) paths: what the merge reads. */
export interface LayeredFiles {
  readonly embed: string;
  readonly layers: readonly string[];
  readonly keyValues: readonly string[];
  readonly head: string;
}

const same = (...names: string[]) => new Map(names.map((n) => [n, n] as const));

/** Inlines the embed graph on the contract's `latents` and `timesteps`, its `hidden` also output as `hidden_in`. */
function addEmbed(b: Builder, m: ContractDims, embed: Source): { hidden: string; timeEmbedding: string } {
  const e = inline(embed, embedSpec(m), 'embed/', same(IO.latents, IO.timesteps));
  b.add(e);
  const hidden = e.outputs.get(IO.hidden) as string;
  b.node('Identity', [hidden], FUSED_IO.hiddenIn);
  return { hidden, timeEmbedding: e.outputs.get(IO.timeEmbedding) as string };
}

/**
 * Inlines layer `l` (its K/V graph and the layer) on `hidden`; the layer attends to [its cache
 * past ; the call's own K/V], as `fullKeyValues` lays them out. `last`: its output is the
 * graph's `hidden_out`.
 */
function addLayer(b: Builder, m: ContractDims, l: number, files: { readonly kv: Source; readonly block: Source }, hidden: string, timeEmbedding: string, last: boolean): { out: string; key: string; value: string } {
  const common = [[IO.hidden, hidden], [IO.timeEmbedding, timeEmbedding], [IO.framePositions, IO.framePositions]] as const;
  const kv = inline(files.kv, layerKvSpec(m), `layer_${l}_kv/`, new Map(common));
  b.add(kv);
  const own = { key: kv.outputs.get(IO.key) as string, value: kv.outputs.get(IO.value) as string };
  const index = b.int64(`fused/layer_${l}_index`, [l], []);
  const all = (side: 'key' | 'value', past: string) => {
    const layerPast = b.node('Gather', [past, index], `fused/layer_${l}_past_${side}`, [axis(0)]);
    return b.node('Concat', [layerPast, own[side]], `fused/layer_${l}_${side}`, [axis(2)]);
  };
  const block = inline(
    files.block,
    layerSpec(m),
    `layer_${l}/`,
    new Map([...common, [IO.context, IO.context], [IO.key, all('key', IO.pastKey)], [IO.value, all('value', IO.pastValue)], [IO.attentionMask, IO.attentionMask]]),
    last ? same(IO.hiddenOut) : new Map(),
  );
  b.add(block);
  return { out: block.outputs.get(IO.hiddenOut) as string, ...own };
}

/**
 * Merges the layered graphs (bytes, in package order) into the fused forward's ONNX model.
 * Pure: no file access, so it can be tested on altered graphs.
 *
 * @throws {ModelPackageError} `E_MODEL_GRAPH_MISMATCH` naming the file and the contract input or
 *   output a layered graph lacks; `E_MODEL_GRAPH_UNREADABLE` when a file is not ONNX.
 *
 * @example
 * ```ts
 * const bytes = fuseLayeredGraphs(manifest, { file: 'embed.onnx', bytes: embed }, layers, { file: 'head.onnx', bytes: head });
 * const session = await InferenceSession.create(bytes);
 * ```
 */
export function fuseLayeredGraphs(
  m: ContractDims,
  embed: Source,
  layers: readonly { readonly kv: Source; readonly block: Source }[],
  head: Source,
): Uint8Array {
  if (layers.length !== m.layers) throw new RangeError(`fuseLayeredGraphs: ${layers.length} layers given, the manifest has ${m.layers}`);
  const b = new Builder();
  const embedded = addEmbed(b, m, embed);
  const timeEmbedding = embedded.timeEmbedding;
  let hidden = embedded.hidden;
  const unsqueezeAxes = b.int64('fused/axes_0', [0], [1]);
  const keys: string[] = [];
  const values: string[] = [];
  const layerInputs: string[] = [];
  layers.forEach((files, l) => {
    const layer = addLayer(b, m, l, files, hidden, timeEmbedding, l === m.layers - 1);
    keys.push(b.node('Unsqueeze', [layer.key, unsqueezeAxes], `fused/layer_${l}_present_key`));
    values.push(b.node('Unsqueeze', [layer.value, unsqueezeAxes], `fused/layer_${l}_present_value`));
    layerInputs.push(b.node('Unsqueeze', [hidden, unsqueezeAxes], `fused/layer_${l}_input`));
    hidden = layer.out;
  });
  b.add(inline(head, headSpec(m), 'head/', new Map([[IO.hidden, hidden], [IO.timeEmbedding, timeEmbedding], [IO.latents, IO.latents], [IO.timesteps, IO.timesteps]]), same(IO.flow)));
  b.node('Concat', keys, FUSED_IO.presentKey, [axis(0)]);
  b.node('Concat', values, FUSED_IO.presentValue, [axis(0)]);
  b.node('Concat', layerInputs, FUSED_IO.layerInputs, [axis(0)]);

  const spec = denoiserSpec(m);
  const named = (name: string) => spec.outputs.find((o) => o.name === name) as TensorSpec;
  const hiddenDims = layerSpec(m).inputs.find((o) => o.name === IO.hidden)?.dims ?? [];
  const layerCount = { kind: 'static', size: m.layers, field: 'layers' } as const;
  const files = [embed.file, ...layers.flatMap((l) => [l.kv.file, l.block.file]), head.file];
  return b.finish('fused_forward', files, spec.inputs, [
    named(IO.flow),
    named(IO.presentKey),
    named(IO.presentValue),
    { name: FUSED_IO.layerInputs, type: 'float32', dims: [layerCount, ...hiddenDims] },
    { name: FUSED_IO.hiddenIn, type: 'float32', dims: hiddenDims },
    { name: FUSED_IO.hiddenOut, type: 'float32', dims: hiddenDims },
  ]);
}

/**
 * Input and output names of the reuse graph: `residual` `[B, N, width]` (each member's cached
 * residual, added to the embedding), `flow`, and `hidden`, the embedding (teacache compares it).
 */
export const REUSE_IO = {
  residual: 'residual',
  flow: IO.flow,
  hidden: IO.hidden,
} as const;

/**
 * A reused step in one call: `head(embed(x) + residual)`, the embedding exposed.
 *
 * @example
 * ```ts
 * const bytes = fuseReuseGraph(manifest, { file: 'embed.onnx', bytes: embed }, { file: 'head.onnx', bytes: head });
 * ```
 */
export function fuseReuseGraph(m: ContractDims, embed: Source, head: Source): Uint8Array {
  const b = new Builder();
  const e = inline(embed, embedSpec(m), 'embed/', same(IO.latents, IO.timesteps), same(IO.hidden));
  b.add(e);
  const headInput = b.node('Add', [IO.hidden, REUSE_IO.residual], 'reuse/head_input');
  const timeEmbedding = e.outputs.get(IO.timeEmbedding) as string;
  b.add(inline(head, headSpec(m), 'head/', new Map([[IO.hidden, headInput], [IO.timeEmbedding, timeEmbedding], [IO.latents, IO.latents], [IO.timesteps, IO.timesteps]]), same(IO.flow)));
  const embedded = embedSpec(m).outputs.find((o) => o.name === IO.hidden) as TensorSpec;
  const inputs = embedSpec(m).inputs;
  return b.finish('fused_reuse', [embed.file, head.file], [...inputs, { ...embedded, name: REUSE_IO.residual }], [headSpec(m).outputs[0] as TensorSpec, embedded]);
}

/** Output names of the first-layer graph: the first layer's input (the embedding) and output. */
export const FIRST_LAYER_IO = {
  hiddenIn: FUSED_IO.hiddenIn,
  hiddenOut: IO.hiddenOut,
} as const;

/**
 * The embedding and layer 0 in one call, on the fused forward's inputs (first-block caching
 * measures layer 0's residual before deciding whether the other layers run): `hidden_in` is the
 * embedding, `hidden_out` layer 0's output.
 *
 * @example
 * ```ts
 * const bytes = fuseFirstLayerGraph(manifest, { file: 'embed.onnx', bytes: embed }, { kv: layer0Kv, block: layer0 });
 * ```
 */
export function fuseFirstLayerGraph(m: ContractDims, embed: Source, layer: { readonly kv: Source; readonly block: Source }): Uint8Array {
  const b = new Builder();
  const { hidden, timeEmbedding } = addEmbed(b, m, embed);
  addLayer(b, m, 0, layer, hidden, timeEmbedding, true);
  const hiddenDims = layerSpec(m).inputs.find((o) => o.name === IO.hidden)?.dims ?? [];
  return b.finish('fused_first_layer', [embed.file, layer.kv.file, layer.block.file], denoiserSpec(m).inputs, [
    { name: FIRST_LAYER_IO.hiddenIn, type: 'float32', dims: hiddenDims },
    { name: FIRST_LAYER_IO.hiddenOut, type: 'float32', dims: hiddenDims },
  ]);
}

/**
 * A layered file's bytes, for a merge.
 *
 * @throws {ModelPackageError} `E_MODEL_FILE_MISSING` naming the file.
 * @example
 * ```ts
 * const embed = await readLayeredFile(pkg.paths.layered.embed);
 * ```
 */
export const readLayeredFile = async (file: string): Promise<Source> => {
  try {
    return { file, bytes: await readFile(file) };
  } catch (cause) {
    throw new ModelPackageError('E_MODEL_FILE_MISSING', [issue(file, undefined, `cannot be read to build the fused forward (${String(cause)})`)], { cause });
  }
};

/**
 * Reads a package's `embed` and `head` files and merges them ({@link fuseReuseGraph}).
 *
 * @example
 * ```ts
 * const session = await InferenceSession.create(await buildReuseGraph(pkg.manifest, pkg.paths.layered));
 * ```
 */
export async function buildReuseGraph(m: ContractDims, files: Pick<LayeredFiles, 'embed' | 'head'>): Promise<Uint8Array> {
  const [embed, head] = await Promise.all([readLayeredFile(files.embed), readLayeredFile(files.head)]);
  return fuseReuseGraph(m, embed, head);
}

/**
 * Reads a package's layered files and merges them ({@link fuseLayeredGraphs}).
 *
 * @example
 * ```ts
 * const pkg = await loadModelPackage('models/sprites');
 * const session = await InferenceSession.create(await buildFusedGraph(pkg.manifest, pkg.paths.layered));
 * ```
 */
export async function buildFusedGraph(m: ContractDims, files: LayeredFiles): Promise<Uint8Array> {
  const [embed, head, blocks, kvs] = await Promise.all([readLayeredFile(files.embed), readLayeredFile(files.head), Promise.all(files.layers.map(readLayeredFile)), Promise.all(files.keyValues.map(readLayeredFile))]);
  return fuseLayeredGraphs(m, embed, blocks.map((block, i) => ({ kv: kvs[i] as Source, block })), head);
}

/**
 * Reads a package's `embed` and layer-0 files and merges them ({@link fuseFirstLayerGraph}).
 *
 * @example
 * ```ts
 * const session = await InferenceSession.create(await buildFirstLayerGraph(pkg.manifest, pkg.paths.layered));
 * ```
 */
export async function buildFirstLayerGraph(m: ContractDims, files: LayeredFiles): Promise<Uint8Array> {
  const [embed, kv, block] = await Promise.all([readLayeredFile(files.embed), readLayeredFile(files.keyValues[0] as string), readLayeredFile(files.layers[0] as string)]);
  return fuseFirstLayerGraph(m, embed, { kv, block });
}
