// Checking the ONNX files of a checkpoint before any session exists: that the bytes decode as a
// ModelProto and that the named inputs and outputs have the element types and static sizes the
// manifest implies. Symbolic or unknown sizes pass (ORT checks them at run time).
import onnxProto from 'onnx-proto';
import { CheckpointError } from './errors.ts';
import { backboneNames, textTowerSpec, type Manifest } from './manifest.ts';

const { onnx } = onnxProto;

type Dim = number | string | undefined; // static size, symbolic name, or unknown

function longToNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

function shapeOf(vi: onnxProto.onnx.IValueInfoProto): { elemType?: number; dims?: Dim[] } {
  const tt = vi.type?.tensorType;
  if (!tt) return {};
  const elemType = tt.elemType ?? undefined;
  if (!tt.shape) return { elemType };
  const dims = (tt.shape.dim ?? []).map((d): Dim => {
    const dim = d as onnxProto.onnx.TensorShapeProto.IDimension & { value?: string };
    if (dim.value === 'dimValue' || (dim.value === undefined && dim.dimValue != null)) return longToNumber(dim.dimValue);
    if (dim.value === 'dimParam' || dim.dimParam) return dim.dimParam ?? undefined;
    return undefined;
  });
  return { elemType, dims };
}

const fmtShape = (dims: Dim[]): string => `[${dims.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]`;

type Fail = (problem: string) => never;
type ValueInfo = onnxProto.onnx.IValueInfoProto;

/** Decodes the model: its graph inputs (initialisers are not inputs) and outputs. */
function graphIo(bytes: Uint8Array, fail: Fail): { inputs: ValueInfo[]; outputs: ValueInfo[] } {
  if (bytes.byteLength === 0) fail('empty file, expected an ONNX model');
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    return fail(`not an ONNX model (protobuf ModelProto decode failed: ${(e as Error).message})`);
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0) fail('not an ONNX model (no graph with nodes)');
  const initializers = new Set((graph!.initializer ?? []).map((t) => t.name));
  return { inputs: (graph!.input ?? []).filter((i) => !initializers.has(i.name ?? '')), outputs: graph!.output ?? [] };
}

/** A graph input or output: its name and, where the file declares them, its sizes (number: static, string: symbolic, undefined: unknown). */
export interface TensorInfo {
  name: string;
  dims?: (number | string | undefined)[];
}

/** The inputs and outputs of an ONNX model (for converters, which read the names an exporter gave). Throws CheckpointError naming `file`. */
export function describeOnnx(bytes: Uint8Array, file: string): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
  const { inputs, outputs } = graphIo(bytes, (problem) => {
    throw new CheckpointError(file, problem);
  });
  const info = (vi: ValueInfo): TensorInfo => {
    const { dims } = shapeOf(vi);
    return { name: vi.name ?? '', ...(dims ? { dims } : {}) };
  };
  return { inputs: inputs.map(info), outputs: outputs.map(info) };
}

/** Decodes the model and finds the named graph input and output. */
function findIo(bytes: Uint8Array, inputName: string, outputName: string, fail: Fail): { input: ValueInfo; output: ValueInfo; inputs: ValueInfo[] } {
  const { inputs, outputs } = graphIo(bytes, fail);
  const input = inputs.find((i) => i.name === inputName);
  if (!input) fail(`no input named "${inputName}" (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`);
  const output = outputs.find((o) => o.name === outputName);
  if (!output) fail(`no output named "${outputName}" (outputs: ${outputs.map((o) => o.name).join(', ') || 'none'})`);
  return { input: input!, output: output!, inputs };
}

function checkElemType(what: string, elemType: number | undefined, want: number, fail: Fail): void {
  if (elemType !== undefined && elemType !== want) {
    const name = (t: number) => onnx.TensorProto.DataType[t] ?? String(t);
    fail(`${what} has element type ${name(elemType)}, expected ${name(want)}`);
  }
}

/** A float32 [B, D] embedding output with a dynamic batch. */
function checkEmbeddingOutput(vi: ValueInfo, D: number, fail: Fail): void {
  const what = `output "${vi.name}"`;
  const out = shapeOf(vi);
  checkElemType(what, out.elemType, onnx.TensorProto.DataType.FLOAT, fail);
  if (!out.dims) return;
  if (out.dims.length !== 2) fail(`${what} has shape ${fmtShape(out.dims)}, expected rank 2 [B, D = ${D}]`);
  if (typeof out.dims[1] === 'number' && out.dims[1] !== D) fail(`${what} has shape ${fmtShape(out.dims)}, but the manifest says D = ${D}`);
  if (typeof out.dims[0] === 'number') fail(`${what} has a fixed batch dimension ${out.dims[0]}; export it with a dynamic batch (dim_param)`);
}

/** backbone.onnx: "image" float32 [B, ...manifest input] -> "prelogits" float32 [B, D], under the names of `input.names`. */
export function validateBackbone(bytes: Uint8Array, manifest: Manifest, file: string): void {
  const fail: Fail = (problem) => {
    throw new CheckpointError(file, problem);
  };
  const { input, head } = manifest;
  const tensors = backboneNames(input);
  const imageName = tensors.image;
  const io = findIo(bytes, imageName, tensors.prelogits, fail);
  const img = shapeOf(io.input);
  checkElemType(`input "${imageName}"`, img.elemType, onnx.TensorProto.DataType.FLOAT, fail);
  if (img.dims) {
    const want = input.layout === 'NHWC' ? ['B', input.height, input.width, input.channels] : ['B', input.channels, input.height, input.width];
    const names = input.layout === 'NHWC' ? ['batch', 'height', 'width', 'channels'] : ['batch', 'channels', 'height', 'width'];
    const expectedText = `[B, ${want.slice(1).join(', ')}] (${input.layout})`;
    if (img.dims.length !== 4) fail(`input "${imageName}" has shape ${fmtShape(img.dims)}, expected rank 4 ${expectedText}`);
    if (typeof img.dims[0] === 'number') {
      fail(`input "${imageName}" has a fixed batch dimension ${img.dims[0]}; export it with a dynamic batch (dim_param) so requests can be batched`);
    }
    for (let i = 1; i < 4; i++) {
      const d = img.dims[i];
      if (typeof d === 'number' && d !== want[i]) {
        fail(`input "${imageName}" has shape ${fmtShape(img.dims)}, but the manifest's input says ${expectedText}: ${names[i]} ${d} != ${want[i]}`);
      }
    }
  }
  checkEmbeddingOutput(io.output, head.D, fail);
}

/** What validateTextTower found: the static prompt length of a tower exported with one (open_clip: 77). */
export interface TextTowerShape {
  sequenceLength?: number;
}

/**
 * text.onnx (zero-shot): the inputs of `zeroShot.text` (input_ids and, when named, attention_mask:
 * int64 [B, L], nothing else) -> the named embedding float32 [B, D]. L may be static (open_clip
 * exports 77), and then must be the context length; the batch must be dynamic.
 */
export function validateTextTower(bytes: Uint8Array, manifest: Manifest, file: string, contextLength: number | undefined): TextTowerShape {
  const fail: Fail = (problem) => {
    throw new CheckpointError(file, problem);
  };
  const spec = textTowerSpec(manifest.zeroShot!);
  const expected = [spec.inputIds, ...(spec.attentionMask !== undefined ? [spec.attentionMask] : [])];
  const io = findIo(bytes, spec.inputIds, spec.embedding, fail);
  const found = io.inputs.map((i) => i.name ?? '');
  const extra = found.filter((name) => !expected.includes(name));
  const missing = expected.filter((name) => !found.includes(name));
  if (extra.length > 0 || missing.length > 0) {
    const hint = extra.length > 0 && spec.attentionMask === undefined && extra.length === 1 ? ` (set zeroShot.text.attentionMask to "${extra[0]}" if it is the attention mask)` : '';
    fail(`inputs are [${found.join(', ')}]; the manifest's zeroShot.text expects [${expected.join(', ')}]${hint}`);
  }
  let sequenceLength: number | undefined;
  for (const name of expected) {
    const vi = io.inputs.find((i) => i.name === name)!;
    const { elemType, dims } = shapeOf(vi);
    checkElemType(`input "${name}"`, elemType, onnx.TensorProto.DataType.INT64, fail);
    if (!dims) continue;
    if (dims.length !== 2) fail(`input "${name}" has shape ${fmtShape(dims)}, expected rank 2 [B, L]`);
    if (typeof dims[0] === 'number') fail(`input "${name}" has a fixed batch dimension ${dims[0]}; export it with a dynamic batch (dim_param)`);
    if (typeof dims[1] !== 'number') continue;
    if (sequenceLength !== undefined && dims[1] !== sequenceLength) fail(`inputs "${expected[0]}" and "${name}" have different static lengths ${sequenceLength} and ${dims[1]}`);
    sequenceLength = dims[1];
  }
  if (sequenceLength !== undefined && sequenceLength !== contextLength) {
    const known = contextLength === undefined ? 'no context length is given (zeroShot.text.contextLength or tokenizer_config.json model_max_length)' : `the context length is ${contextLength}`;
    fail(`input "${spec.inputIds}" has the static length ${sequenceLength}, but ${known}; they must be equal`);
  }
  checkEmbeddingOutput(io.output, manifest.head.D, fail);
  return sequenceLength !== undefined ? { sequenceLength } : {};
}
