// A small builder for ONNX graphs. Heads and test backbones are generated in TypeScript at load
// time from their weights, so the same graph runs on the CPU and CUDA execution providers and
// ORT can fuse it. onnx-proto gives the protobuf messages; this file only adds naming and
// shape bookkeeping, which no maintained JS package offers for hand-built graphs.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type Dim = number | string;
export type AttrValue = number | number[] | string | { floats: number[] } | { tensor: Float32Array | Int32Array | BigInt64Array; dims: number[] };

export const OPSET = 17;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const INT32 = onnx.TensorProto.DataType.INT32;
const DOUBLE = onnx.TensorProto.DataType.DOUBLE;

type ElemType = 'float32' | 'float64' | 'int64' | 'int32';
const ELEM: Record<ElemType, number> = { float32: FLOAT, float64: DOUBLE, int64: INT64, int32: INT32 };
type InitializerData = Float32Array | Float64Array | Int32Array | BigInt64Array;

function valueInfo(name: string, dims: Dim[], elem: ElemType): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensorProto(name: string, data: InitializerData, dims: number[]): onnxProto.onnx.ITensorProto {
  const elemType = data instanceof Float32Array ? FLOAT : data instanceof Float64Array ? DOUBLE : data instanceof Int32Array ? INT32 : INT64;
  // raw_data is little-endian; every platform Node and ORT run on here is little-endian.
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims, dataType: elemType, rawData: raw };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  }
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.TENSOR, t: tensorProto(name, value.tensor, value.dims) };
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly graphName: string) {}

  /** A fresh tensor name, unique in this graph. */
  fresh(hint: string): string {
    let name = `${hint}_${this.counter++}`;
    while (this.used.has(name)) name = `${hint}_${this.counter++}`;
    this.used.add(name);
    return name;
  }

  input(name: string, dims: Dim[], elem: ElemType = 'float32'): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, dims, elem));
    return name;
  }

  /** Declares `tensor` as a graph output under `name` (an Identity node renames it). */
  output(tensor: string, name: string, dims: Dim[], elem: ElemType = 'float32'): void {
    this.used.add(name);
    this.nodes.push({ opType: 'Identity', input: [tensor], output: [name], name: `out_${name}` });
    this.outputs.push(valueInfo(name, dims, elem));
  }

  /** A constant weight stored in the model. */
  initializer(hint: string, data: InitializerData, dims: number[]): string {
    const name = this.fresh(hint);
    this.initializers.push(tensorProto(name, data, dims));
    return name;
  }

  scalar(value: number, hint = 'c'): string {
    return this.initializer(hint, new Float32Array([value]), []);
  }

  ints(values: number[], hint = 'shape'): string {
    return this.initializer(hint, BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  }

  /** One node with one output; returns the output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint = opType.toLowerCase()): string {
    return this.opN(opType, inputs, 1, attrs, hint)[0];
  }

  /** One node with `count` outputs. An empty string in `inputs` marks an omitted optional input. */
  opN(opType: string, inputs: string[], count: number, attrs: Record<string, AttrValue> = {}, hint = opType.toLowerCase()): string[] {
    const outs = Array.from({ length: count }, () => this.fresh(hint));
    this.nodes.push({
      opType,
      input: inputs,
      output: outs,
      name: this.fresh(`n_${hint}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Serialised ModelProto, ready for `InferenceSession.create(bytes)` or a .onnx file. */
  toBytes(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'hetxl-serve',
      docString,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
