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
 * Inputs are the monolithic denoiser's (`denoiserSpec`); outputs are {@link FUSED_IO}'s.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { IO, denoiserSpec, type ContractDims, type GraphSpec, type TensorSpec, embedSpec, headSpec, layerKvSpec, layerSpec } from './contract.js';
import { ModelPackageError, issue, type ModelPackageIssue } from './errors.js';
import { dedupeGraph } from './graph-dedupe.js';

const onnx = onnxProto.onnx;
type GraphProto = OnnxTypes.IGraphProto;
type NodeProto = OnnxTypes.INodeProto;
type ValueInfoProto = OnnxTypes.IValueInfoProto;
type ModelProto = OnnxTypes.IModelProto;

/**
 * Output names of the fused graph. `present_key`/`present_value` are the call's own K/V of every
 * layer, `[layers, B, heads, N, headDim]` as the denoiser's; `layer_inputs` every layer's input
 * hidden state `[layers, B, N, width]` (the indicator and the store read them); `hidden_out` the
 * last layer's output (the residual is `hidden_out − layer_inputs[0]`).
 */
export const FUSED_IO = {
  flow: IO.flow,
  presentKey: IO.presentKey,
  presentValue: IO.presentValue,
  layerInputs: 'layer_inputs',
  hiddenOut: IO.hiddenOut,
} as const;

/** The layered files of a package, as absolute (or as given) paths: what the merge reads. */
export interface LayeredFiles {
  readonly embed: string;
  readonly layers: readonly string[];
  readonly keyValues: readonly string[];
  readonly head: string;
}

/** One layered graph's bytes with the file it came from (for errors). */
interface Source {
  readonly file: string;
  readonly bytes: Uint8Array;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function valueInfo(spec: TensorSpec): ValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: spec.type === 'float32' ? FLOAT : INT64,
        shape: { dim: spec.dims.map((d) => (d.kind === 'static' ? { dimValue: d.size } : { dimParam: d.symbol })) },
      },
    },
  };
}

function decode(source: Source): ModelProto {
  try {
    return onnx.ModelProto.decode(source.bytes);
  } catch (cause) {
    throw new ModelPackageError('E_MODEL_GRAPH_UNREADABLE', [issue(source.file, undefined, `cannot be read as an ONNX model to build the fused forward (${String(cause)})`)], { cause });
  }
}

/** Renames every value of `graph` (and of graphs nested in its nodes' attributes) in place. */
function renameGraph(graph: GraphProto, rename: (name: string) => string, nodePrefix: string): void {
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map(rename);
    node.output = (node.output ?? []).map(rename);
    if (node.name) node.name = nodePrefix + node.name;
    for (const attribute of node.attribute ?? []) {
      if (attribute.g) renameGraph(attribute.g, rename, nodePrefix);
      for (const g of attribute.graphs ?? []) renameGraph(g, rename, nodePrefix);
    }
  }
  for (const t of graph.initializer ?? []) t.name = rename(t.name ?? '');
  for (const s of graph.sparseInitializer ?? []) {
    if (s.values) s.values.name = rename(s.values.name ?? '');
    if (s.indices) s.indices.name = rename(s.indices.name ?? '');
  }
  for (const list of [graph.input, graph.output, graph.valueInfo]) for (const v of list ?? []) v.name = rename(v.name ?? '');
}

/** What one sub-graph adds to the fused graph, and where its contract outputs ended up. */
interface Inlined {
  readonly graph: GraphProto;
  readonly model: ModelProto;
  /** Contract output name → its name in the fused graph. */
  readonly outputs: ReadonlyMap<string, string>;
}

/**
 * Prefixes every inner name of `source`'s graph with `prefix`, except its contract inputs,
 * renamed to what `inputs` binds them to, and the outputs named in `exposed`, renamed to their
 * fused graph output names.
 */
function inline(source: Source, spec: GraphSpec, prefix: string, inputs: ReadonlyMap<string, string>, exposed: ReadonlyMap<string, string> = new Map()): Inlined {
  const model = decode(source);
  const graph = model.graph;
  const problems: ModelPackageIssue[] = [];
  if (!graph) throw new ModelPackageError('E_MODEL_GRAPH_MISMATCH', [issue(source.file, undefined, 'has no graph')]);
  const initialized = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputNames = (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !initialized.has(n));
  const outputNames = (graph.output ?? []).map((v) => v.name ?? '');
  for (const s of spec.inputs) {
    if (!inputNames.includes(s.name)) problems.push(issue(source.file, s.name, `input "${s.name}" is missing, so the fused forward cannot be built (the graph's inputs are ${inputNames.map((n) => `"${n}"`).join(', ') || 'none'})`));
  }
  for (const n of inputNames) {
    if (!spec.inputs.some((s) => s.name === n)) problems.push(issue(source.file, n, `input "${n}" is not part of the model contract`));
  }
  for (const s of spec.outputs) {
    if (!outputNames.includes(s.name)) problems.push(issue(source.file, s.name, `output "${s.name}" is missing, so the fused forward cannot be built (the graph's outputs are ${outputNames.map((n) => `"${n}"`).join(', ') || 'none'})`));
  }
  const [first, ...rest] = problems;
  if (first !== undefined) throw new ModelPackageError('E_MODEL_GRAPH_MISMATCH', [first, ...rest]);
  const rename = (name: string): string => {
    if (name === '') return name; // an omitted optional input stays omitted
    return inputs.get(name) ?? exposed.get(name) ?? prefix + name;
  };
  renameGraph(graph, rename, prefix);
  const outputs = new Map(spec.outputs.map((s) => [s.name, rename(s.name)] as const));
  return { graph, model, outputs };
}

/** The fused graph under construction: nodes, initializers and value infos in order. */
class Builder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  readonly sparse: OnnxTypes.ISparseTensorProto[] = [];
  readonly valueInfos: ValueInfoProto[] = [];
  readonly models: ModelProto[] = [];

  add({ graph, model }: Inlined): void {
    this.nodes.push(...(graph.node ?? []));
    this.initializers.push(...(graph.initializer ?? []));
    this.sparse.push(...(graph.sparseInitializer ?? []));
    this.valueInfos.push(...(graph.valueInfo ?? []));
    this.models.push(model);
  }

  node(opType: string, inputs: string[], output: string, attribute: OnnxTypes.IAttributeProto[] = []): string {
    this.nodes.push({ opType, input: inputs, output: [output], name: `fused/${output}`, attribute });
    return output;
  }

  int64(name: string, values: readonly number[], dims: readonly number[]): string {
    this.initializers.push({ name, dataType: INT64, dims: [...dims], int64Data: [...values] });
    return name;
  }
}

const axis = (value: number): OnnxTypes.IAttributeProto => ({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: value });

/**
 * Opset imports of the merged graph: the union of the sub-graphs'. Two different versions of one
 * domain would change some operator's meaning in one of them, so that fails naming the file.
 */
function opsets(models: readonly ModelProto[], files: readonly string[]): OnnxTypes.IOperatorSetIdProto[] {
  const byDomain = new Map<string, { version: number; file: string }>();
  models.forEach((model, i) => {
    for (const o of model.opsetImport ?? []) {
      const domain = o.domain ?? '';
      const version = Number(o.version ?? 0);
      const seen = byDomain.get(domain);
      const file = files[i] as string;
      if (seen !== undefined && seen.version !== version) {
        throw new ModelPackageError('E_MODEL_GRAPH_MISMATCH', [issue(file, undefined, `imports opset ${version} of domain "${domain || 'ai.onnx'}" but ${seen.file} imports ${seen.version}: the layered graphs cannot be fused`)]);
      }
      byDomain.set(domain, { version, file });
    }
  });
  return [...byDomain].map(([domain, { version }]) => ({ domain, version }));
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
  const same = (...names: string[]) => new Map(names.map((n) => [n, n] as const));
  const e = inline(embed, embedSpec(m), 'embed/', same(IO.latents, IO.timesteps));
  b.add(e);
  const timeEmbedding = e.outputs.get(IO.timeEmbedding) as string;
  let hidden = e.outputs.get(IO.hidden) as string;
  const unsqueezeAxes = b.int64('fused/axes_0', [0], [1]);
  const keys: string[] = [];
  const values: string[] = [];
  const layerInputs: string[] = [];
  layers.forEach((files, l) => {
    const common = [[IO.hidden, hidden], [IO.timeEmbedding, timeEmbedding], [IO.framePositions, IO.framePositions]] as const;
    const kv = inline(files.kv, layerKvSpec(m), `layer_${l}_kv/`, new Map(common));
    b.add(kv);
    const own = { key: kv.outputs.get(IO.key) as string, value: kv.outputs.get(IO.value) as string };
    const index = b.int64(`fused/layer_${l}_index`, [l], []);
    // The layer attends to [its cache past ; the call's own K/V], as `fullKeyValues` lays them out.
    const all = (side: 'key' | 'value', past: string) => {
      const layerPast = b.node('Gather', [past, index], `fused/layer_${l}_past_${side}`, [axis(0)]);
      return b.node('Concat', [layerPast, own[side]], `fused/layer_${l}_${side}`, [axis(2)]);
    };
    const last = l === m.layers - 1;
    const block = inline(
      files.block,
      layerSpec(m),
      `layer_${l}/`,
      new Map([...common, [IO.context, IO.context], [IO.key, all('key', IO.pastKey)], [IO.value, all('value', IO.pastValue)], [IO.attentionMask, IO.attentionMask]]),
      last ? same(IO.hiddenOut) : new Map(),
    );
    b.add(block);
    keys.push(b.node('Unsqueeze', [own.key, unsqueezeAxes], `fused/layer_${l}_present_key`));
    values.push(b.node('Unsqueeze', [own.value, unsqueezeAxes], `fused/layer_${l}_present_value`));
    layerInputs.push(b.node('Unsqueeze', [hidden, unsqueezeAxes], `fused/layer_${l}_input`));
    hidden = block.outputs.get(IO.hiddenOut) as string;
  });
  b.add(inline(head, headSpec(m), 'head/', new Map([[IO.hidden, hidden], [IO.timeEmbedding, timeEmbedding], [IO.latents, IO.latents], [IO.timesteps, IO.timesteps]]), same(IO.flow)));
  b.node('Concat', keys, FUSED_IO.presentKey, [axis(0)]);
  b.node('Concat', values, FUSED_IO.presentValue, [axis(0)]);
  b.node('Concat', layerInputs, FUSED_IO.layerInputs, [axis(0)]);

  const spec = denoiserSpec(m);
  const named = (name: string) => spec.outputs.find((s) => s.name === name) as TensorSpec;
  const hiddenDims = layerSpec(m).inputs.find((s) => s.name === IO.hidden)?.dims ?? [];
  const layerCount = { kind: 'static', size: m.layers, field: 'layers' } as const;
  const files = [embed.file, ...layers.flatMap((l) => [l.kv.file, l.block.file]), head.file];
  const model: ModelProto = {
    irVersion: Math.max(...b.models.map((x) => Number(x.irVersion ?? 0))),
    opsetImport: opsets(b.models, files),
    producerName: 'block-cascade fused-graph',
    // Local functions by name, once (each file of one export carries the same ones).
    functions: [...new Map(b.models.flatMap((x) => x.functions ?? []).map((f) => [`${f.domain ?? ''}:${f.name ?? ''}`, f])).values()],
    graph: {
      name: 'fused_forward',
      node: b.nodes,
      initializer: b.initializers,
      sparseInitializer: b.sparse,
      valueInfo: b.valueInfos,
      input: spec.inputs.map(valueInfo),
      output: [
        valueInfo(named(IO.flow)),
        valueInfo(named(IO.presentKey)),
        valueInfo(named(IO.presentValue)),
        valueInfo({ name: FUSED_IO.layerInputs, type: 'float32', dims: [layerCount, ...hiddenDims] }),
        valueInfo({ name: FUSED_IO.hiddenOut, type: 'float32', dims: hiddenDims }),
      ],
    },
  };
  // What the layer graphs of one layer both compute (its modulation, the rotary tables) once.
  dedupeGraph(model.graph as GraphProto, new Set(Object.values(FUSED_IO)));
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
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
  const read = async (file: string): Promise<Source> => {
    try {
      return { file, bytes: await readFile(file) };
    } catch (cause) {
      throw new ModelPackageError('E_MODEL_FILE_MISSING', [issue(file, undefined, `cannot be read to build the fused forward (${String(cause)})`)], { cause });
    }
  };
  const [embed, head, blocks, kvs] = await Promise.all([read(files.embed), read(files.head), Promise.all(files.layers.map(read)), Promise.all(files.keyValues.map(read))]);
  return fuseLayeredGraphs(m, embed, blocks.map((block, i) => ({ kv: kvs[i] as Source, block })), head);
}
