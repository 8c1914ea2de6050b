/**
 * A tiny ONNX graph builder: nodes in construction (= topological) order, float16 weights
 * cast to float32 at load, cached shape constants, and the few composite ops a DiT needs.
 *
 * Value names are generated from a counter, so the same construction sequence always gives
 * the same bytes.
 * @internal
 */
import type { TensorSpec } from '../../src/engine/model/contract.js';
import { float16Bytes } from './float16.js';
import {
  IR_VERSION, OPSET, onnx,
  type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from './onnx.js';
import type { Param } from './weights.js';

/** Node attributes: only integer and integer-list attributes are needed here. */
export type Attrs = Readonly<Record<string, number | readonly number[]>>;

const DataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

function valueInfo(spec: TensorSpec): ValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: spec.type === 'float32' ? DataType.FLOAT : DataType.INT64,
        shape: {
          dim: spec.dims.map((d) => (d.kind === 'static' ? { dimValue: d.size } : { dimParam: d.symbol })),
        },
      },
    },
  };
}

function attribute(name: string, value: number | readonly number[]): AttributeProto {
  return typeof value === 'number'
    ? { name, type: AttrType.INT, i: value }
    : { name, type: AttrType.INTS, ints: [...value] };
}

function littleEndianFloat32(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return out;
}

function littleEndianInt64(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i] as number), true);
  return out;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private readonly weights = new Map<string, string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name. */
  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** Declares a graph input; returns its value name. */
  input(spec: TensorSpec): string {
    this.inputs.push(valueInfo(spec));
    return spec.name;
  }

  /** Declares `value` as the graph output `spec.name` (through an Identity, which ORT removes). */
  output(value: string, spec: TensorSpec): void {
    this.nodes.push({ opType: 'Identity', name: `out_${spec.name}`, input: [value], output: [spec.name] });
    this.outputs.push(valueInfo(spec));
  }

  /** Adds a node with `outputs` outputs and returns their names. */
  node(opType: string, inputs: readonly string[], attrs: Attrs = {}, outputs = 1): string[] {
    const id = this.counter++;
    const out = Array.from({ length: outputs }, (_, k) => `${opType.toLowerCase()}_${id}${outputs > 1 ? `_${k}` : ''}`);
    this.nodes.push({
      opType,
      name: `${opType}_${id}`,
      input: [...inputs],
      output: out,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** Adds a single-output node. */
  op(opType: string, inputs: readonly string[], attrs: Attrs = {}): string {
    return this.node(opType, inputs, attrs, 1)[0] as string;
  }

  /** A learned parameter, stored as float16 and cast to float32 (added once per name). */
  weight(p: Param): string {
    const known = this.weights.get(p.name);
    if (known !== undefined) return known;
    const stored = `${p.name}.f16`;
    this.initializers.push({ name: stored, dims: [...p.dims], dataType: DataType.FLOAT16, rawData: float16Bytes(p.values) });
    this.nodes.push({
      opType: 'Cast', name: `cast_${p.name}`, input: [stored], output: [p.name],
      attribute: [attribute('to', DataType.FLOAT)],
    });
    this.weights.set(p.name, p.name);
    return p.name;
  }

  /** A float32 constant (cached by content). */
  constFloat(values: ArrayLike<number>, dims: readonly number[]): string {
    const arr = Array.from(values);
    const key = `f${dims.join('x')}:${arr.join(',')}`;
    return this.constant(key, () => ({ dims: [...dims], dataType: DataType.FLOAT, rawData: littleEndianFloat32(arr) }));
  }

  /** An int64 constant (cached by content); `dims` defaults to a 1-D tensor, `[]` is a scalar. */
  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i${dims.join('x')}:${values.join(',')}`;
    return this.constant(key, () => ({ dims: [...dims], dataType: DataType.INT64, rawData: littleEndianInt64(values) }));
  }

  private constant(key: string, make: () => TensorProto): string {
    const known = this.constants.get(key);
    if (known !== undefined) return known;
    const name = `const_${this.constants.size}`;
    this.initializers.push({ ...make(), name });
    this.constants.set(key, name);
    return name;
  }

  // ---- composite ops ------------------------------------------------------------------

  /** `Reshape` (0 copies the input's dim at that index, −1 is inferred). */
  reshape(x: string, shape: readonly number[]): string {
    return this.op('Reshape', [x, this.constInt64(shape)]);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm });
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return this.op('Unsqueeze', [x, this.constInt64(axes)]);
  }

  /** Splits the last axis into pieces of the given sizes. */
  splitLast(x: string, sizes: readonly number[]): string[] {
    return this.node('Split', [x, this.constInt64(sizes)], { axis: -1 }, sizes.length);
  }

  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  div(a: string, b: string): string { return this.op('Div', [a, b]); }
  scale(x: string, s: number): string { return this.mul(x, this.constFloat([s], [])); }

  /** `x · W + b` over the last axis (W stored as [in, out]). */
  linear(x: string, w: Param, b?: Param): string {
    const y = this.op('MatMul', [x, this.weight(w)]);
    return b === undefined ? y : this.add(y, this.weight(b));
  }

  /** LayerNorm over the last axis, without affine parameters, from primitive ops. */
  layerNorm(x: string, eps = 1e-6): string {
    const mean = this.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });
    const centred = this.sub(x, mean);
    const variance = this.op('ReduceMean', [this.mul(centred, centred)], { axes: [-1], keepdims: 1 });
    const std = this.op('Sqrt', [this.add(variance, this.constFloat([eps], []))]);
    return this.div(centred, std);
  }

  /** `x · (1 + scale) + shift`, the adaptive LayerNorm modulation. */
  modulate(x: string, shift: string, scale: string): string {
    return this.add(this.mul(x, this.add(scale, this.constFloat([1], []))), shift);
  }

  silu(x: string): string {
    return this.mul(x, this.op('Sigmoid', [x]));
  }

  /** Exact GELU: `0.5 · x · (1 + erf(x / √2))`. */
  gelu(x: string): string {
    const erf = this.op('Erf', [this.scale(x, Math.SQRT1_2)]);
    return this.mul(this.scale(x, 0.5), this.add(erf, this.constFloat([1], [])));
  }

  /**
   * Softmax attention without mask: `softmax(q · kᵀ / √d) · v`.
   * q [.., Nq, d], k and v [.., Nk, d] → [.., Nq, d].
   */
  /** Softmax attention; `mask` (additive, broadcast over heads) is added to the logits. */
  attention(q: string, k: string, v: string, headDim: number, mask?: string): string {
    const kT = this.transpose(k, [0, 1, 3, 2]);
    const logits = this.op('MatMul', [this.scale(q, 1 / Math.sqrt(headDim)), kT]);
    const scores = mask === undefined ? logits : this.add(logits, mask);
    const probs = this.op('Softmax', [scores], { axis: -1 });
    return this.op('MatMul', [probs, v]);
  }

  // ---- output ------------------------------------------------------------------------

  toModel(): ModelProto {
    return {
      irVersion: IR_VERSION,
      producerName: 'block-cascade model-builder',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
  }

  /** The serialized ModelProto. */
  encode(): Uint8Array {
    return onnx.ModelProto.encode(onnx.ModelProto.create(this.toModel())).finish();
  }
}
