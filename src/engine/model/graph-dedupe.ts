/**
 * Common subexpressions of a merged graph, computed once. The layered graphs of one layer each
 * carry their own copy of what both need (the layer's modulation weights, the rotary tables,
 * shape arithmetic), so a graph merged from them computes those several times where the
 * monolithic denoiser computes them once; on a small model that is a tenth of a forward.
 *
 * Identical initializers (same type, dims and bytes) become one, then every node whose operator,
 * attributes and inputs equal an earlier node's is dropped and its outputs read from that node.
 * Same kernels on the same inputs give the same floats, so the results do not change. Random
 * operators and nodes holding sub-graphs are never merged.
 */
import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const onnx = onnxProto.onnx;

/** Operators whose outputs differ from run to run (or node to node) on equal inputs. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('base64');

/** What the dedupe removed, for the log and the tests. */
export interface DedupeCounts {
  readonly initializers: number;
  readonly nodes: number;
}

/**
 * Dedupes `graph` in place; `keep` names values that must stay where they are (the graph's
 * outputs).
 *
 * @example
 * ```ts
 * const removed = dedupeGraph(model.graph, new Set(['flow']));
 * ```
 */
export function dedupeGraph(graph: OnnxTypes.IGraphProto, keep: ReadonlySet<string>): DedupeCounts {
  const alias = new Map<string, string>();
  const initializers: OnnxTypes.ITensorProto[] = [];
  const byContent = new Map<string, string>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    const key = digest(onnx.TensorProto.encode({ ...t, name: '', docString: '' }).finish());
    const first = byContent.get(key);
    if (first !== undefined && !keep.has(name)) alias.set(name, first);
    else {
      byContent.set(key, name);
      initializers.push(t);
    }
  }
  const read = (name: string) => alias.get(name) ?? name;
  const nodes: OnnxTypes.INodeProto[] = [];
  const byNode = new Map<string, readonly string[]>();
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map(read);
    const outputs = node.output ?? [];
    const attributes = node.attribute ?? [];
    const mergeable = !NONDETERMINISTIC.has(node.opType ?? '') && !outputs.some((o) => keep.has(o)) && !attributes.some((a) => a.g || (a.graphs?.length ?? 0) > 0);
    if (mergeable) {
      const attrs = [...attributes].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '')).map((a) => digest(onnx.AttributeProto.encode(a).finish()));
      const key = JSON.stringify([node.domain ?? '', node.opType, node.input, outputs.length, attrs]);
      const first = byNode.get(key);
      if (first !== undefined) {
        outputs.forEach((o, i) => {
          if (o !== '') alias.set(o, first[i] as string);
        });
        continue;
      }
      byNode.set(key, outputs);
    }
    nodes.push(node);
  }
  const removed = { initializers: (graph.initializer?.length ?? 0) - initializers.length, nodes: (graph.node?.length ?? 0) - nodes.length };
  graph.initializer = initializers;
  graph.node = nodes;
  // Shapes recorded for values that no longer exist would only confuse the optimiser.
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !alias.has(v.name ?? ''));
  return removed;
}
