/**
 * Merging ONNX graphs by their contract IO names (worker side, at load time): each sub-graph's
 * inner names get a prefix, its contract inputs are bound to what feeds them, and the merged
 * model imports the sub-graphs' opsets. The recipes that use it are in `fused-graph.ts`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { GraphSpec, TensorSpec } from './contract.js';
import { ModelPackageError, issue, type ModelPackageIssue } from './errors.js';
import { dedupeGraph } from './graph-dedupe.js';

const onnx = onnxProto.onnx;
type GraphProto = OnnxTypes.IGraphProto;
type NodeProto = OnnxTypes.INodeProto;
type ValueInfoProto = OnnxTypes.IValueInfoProto;
type ModelProto = OnnxTypes.IModelProto;

/** One layered graph's bytes with the file it came from (for errors). */
export interface Source {
  readonly file: string;
  readonly bytes: Uint8Array;
}

const INT64 = onnx.TensorProto.DataType.INT64;
const ELEMENT_TYPES = { float32: onnx.TensorProto.DataType.FLOAT, float64: onnx.TensorProto.DataType.DOUBLE, int64: INT64 } as const;

export function valueInfo(spec: TensorSpec): ValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[spec.type],
        shape: { dim: spec.dims.map((d) => (d.kind === 'static' ? { dimValue: d.size } : { dimParam: d.symbol })) },
      },
    },
  };
}

function decode(source: Source): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(source.bytes);
  } catch (cause) {
    throw new ModelPackageError('E_MODEL_GRAPH_UNREADABLE', [issue(source.file, undefined, `cannot be read as an ONNX model to build the fused forward (${String(cause)})`)], { cause });
  }
  for (const t of model.graph?.initializer ?? []) inlineExternalData(t, source.file);
  return model;
}

/**
 * A merged model lives in memory, where a weight's external data file (relative to its graph's
 * file) cannot be found: such weights are read into the model.
 */
function inlineExternalData(t: OnnxTypes.ITensorProto, file: string): void {
  if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
  const entry = (key: string) => t.externalData?.find((e) => e.key === key)?.value ?? undefined;
  const location = entry('location');
  if (location === undefined) throw new ModelPackageError('E_MODEL_GRAPH_UNREADABLE', [issue(file, t.name ?? undefined, `initializer "${t.name}" keeps its data outside the file but names no location`)]);
  const path = join(dirname(file), location);
  try {
    const all = readFileSync(path);
    const offset = Number(entry('offset') ?? 0);
    const length = entry('length');
    t.rawData = all.subarray(offset, length === undefined ? all.length : offset + Number(length));
  } catch (cause) {
    throw new ModelPackageError('E_MODEL_FILE_MISSING', [issue(path, t.name ?? undefined, `external data of initializer "${t.name}" (${file}) cannot be read to build the fused forward (${String(cause)})`)], { cause });
  }
  t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  t.externalData = [];
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
export interface Inlined {
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
export function inline(source: Source, spec: GraphSpec, prefix: string, inputs: ReadonlyMap<string, string>, exposed: ReadonlyMap<string, string> = new Map()): Inlined {
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
export class Builder {
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

  /**
   * The merged model's bytes, its common subexpressions computed once (`graph-dedupe.ts`: the
   * sub-graphs of one layer each carry its modulation, each graph its rotary tables).
   * `files` are the sub-graphs' files in the order they were added (for opset errors).
   */
  finish(name: string, files: readonly string[], inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): Uint8Array {
    const graph: GraphProto = {
      name,
      node: this.nodes,
      initializer: this.initializers,
      sparseInitializer: this.sparse,
      valueInfo: this.valueInfos,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    };
    dedupeGraph(graph, new Set(outputs.map((o) => o.name)));
    const model: ModelProto = {
      irVersion: Math.max(...this.models.map((x) => Number(x.irVersion ?? 0))),
      opsetImport: opsets(this.models, files),
      producerName: 'block-cascade fused-graph',
      // Local functions by name, once (each file of one export carries the same ones).
      functions: [...new Map(this.models.flatMap((x) => x.functions ?? []).map((f) => [`${f.domain ?? ''}:${f.name ?? ''}`, f])).values()],
      graph,
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

export const axis = (value: number): OnnxTypes.IAttributeProto => ({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: value });

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
