/**
 * ONNX protobuf messages, decoded and encoded with protobufjs. The schema below is the subset of
 * onnx.proto that the importer reads and the exporter writes (field numbers and types as the ONNX
 * specification defines them); fields it does not name are skipped by the decoder.
 */
import protobuf from 'protobufjs/light.js';
import { WebRnnError } from '../errors.js';

const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4 },
            int32Data: { rule: 'repeated', type: 'int32', id: 5 },
            int64Data: { rule: 'repeated', type: 'int64', id: 7 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            doubleData: { rule: 'repeated', type: 'double', id: 10 },
            dataLocation: { type: 'int32', id: 14 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } } },
        TypeProtoTensor: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');
const TensorProto = root.lookupType('onnx.TensorProto');

/** Decoded messages, as plain objects (int64 as numbers, bytes as Uint8Array). */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  rawData: Uint8Array;
  dataLocation: number;
}
export interface OnnxAttribute {
  name: string;
  f: number;
  i: number;
  s: Uint8Array;
  t?: OnnxTensor;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  type: number;
}
export interface OnnxNode {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  attribute: OnnxAttribute[];
  domain: string;
}
export interface OnnxValueInfo {
  name: string;
  type?: { tensorType?: { elemType: number; shape?: { dim: Array<{ dimValue?: number; dimParam?: string }> } } };
}
export interface OnnxGraph {
  node: OnnxNode[];
  name: string;
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}
export interface OnnxModelProto {
  irVersion: number;
  producerName: string;
  graph?: OnnxGraph;
  opsetImport: Array<{ domain: string; version: number }>;
}

const OBJECT_OPTIONS = { longs: Number, bytes: Uint8Array, defaults: true, arrays: true } as const;

function decode<T>(type: protobuf.Type, bytes: Uint8Array, what: string): T {
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (e) {
    throw new WebRnnError('invalid-file', `onnx: ${what} could not be decoded: ${(e as Error).message}`);
  }
  return type.toObject(message, OBJECT_OPTIONS) as T;
}

export function decodeModel(bytes: Uint8Array): OnnxModelProto {
  return decode<OnnxModelProto>(ModelProto, bytes, 'the ModelProto');
}

/** Encode a ModelProto from a plain object of the shape above (used by exportOnnx and to write test models). */
export function encodeModel(model: Record<string, unknown>): Uint8Array {
  const problem = ModelProto.verify(model);
  if (problem) throw new WebRnnError('invalid-option', `onnx: cannot encode the model: ${problem}`);
  // A plain copy: in Node, protobufjs returns a Buffer, whose slice() shares memory.
  return new Uint8Array(ModelProto.encode(ModelProto.fromObject(model)).finish());
}

export function decodeTensor(bytes: Uint8Array): OnnxTensor {
  return decode<OnnxTensor>(TensorProto, bytes, 'the TensorProto');
}

/** ONNX TensorProto.DataType values read here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;
export const ONNX_DOUBLE = 11;

/** A tensor's values as numbers (float32, int32, int64 or double), with its dims checked. */
export function tensorValues(t: OnnxTensor): { dims: number[]; values: Float32Array | Int32Array | Float64Array } {
  const dims = t.dims.map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new WebRnnError('invalid-file', `onnx: tensor '${t.name}' has dims ${JSON.stringify(t.dims)}`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === 1) throw new WebRnnError('invalid-file', `onnx: tensor '${t.name}' keeps its data in an external file, which is not supported`);
  const raw = t.rawData ?? new Uint8Array(0);
  // The data's length is checked against the dims before anything is allocated: dims that lie
  // can ask for more elements than any array holds.
  const fromRaw = (bytesPer: number, read: (v: DataView, o: number) => number, make: (n: number) => Float32Array | Int32Array | Float64Array): Float32Array | Int32Array | Float64Array => {
    if (raw.length !== count * bytesPer) throw new WebRnnError('invalid-file', `onnx: tensor '${t.name}' has ${raw.length} bytes of data, its dims [${dims}] need ${count * bytesPer}`);
    const out = make(count);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) out[i] = read(v, i * bytesPer);
    return out;
  };
  const fromList = (list: number[], make: (n: number) => Float32Array | Int32Array | Float64Array): Float32Array | Int32Array | Float64Array => {
    if (list.length !== count) throw new WebRnnError('invalid-file', `onnx: tensor '${t.name}' has ${list.length} values, its dims [${dims}] need ${count}`);
    const out = make(count);
    out.set(list);
    return out;
  };
  const f32 = (n: number): Float32Array => new Float32Array(n);
  const f64 = (n: number): Float64Array => new Float64Array(n);
  const i32 = (n: number): Int32Array => new Int32Array(n);
  const useRaw = raw.length > 0 || count === 0;
  switch (t.dataType) {
    case ONNX_FLOAT:
      return { dims, values: useRaw ? fromRaw(4, (v, o) => v.getFloat32(o, true), f32) : fromList(t.floatData, f32) };
    case ONNX_DOUBLE:
      return { dims, values: useRaw ? fromRaw(8, (v, o) => v.getFloat64(o, true), f64) : fromList(t.doubleData, f64) };
    case ONNX_INT32:
      return { dims, values: useRaw ? fromRaw(4, (v, o) => v.getInt32(o, true), i32) : fromList(t.int32Data, i32) };
    case ONNX_INT64:
      return { dims, values: useRaw ? fromRaw(8, (v, o) => Number(v.getBigInt64(o, true)), f64) : fromList(t.int64Data, f64) };
    default:
      throw new WebRnnError('invalid-file', `onnx: tensor '${t.name}' has data type ${t.dataType}; float, double, int32 and int64 are read`);
  }
}
