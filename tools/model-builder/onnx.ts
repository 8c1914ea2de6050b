/**
 * The ONNX protobuf classes (onnx-proto is CommonJS: its namespace is a property of the
 * default export). Build-time only: the runtime never imports this file.
 * @internal
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;
export type AttributeProto = OnnxTypes.IAttributeProto;
export type ModelProto = OnnxTypes.IModelProto;

/** ONNX opset of every built graph. */
export const OPSET = 17;
/** ONNX IR version that goes with opset 17. */
export const IR_VERSION = 8;
