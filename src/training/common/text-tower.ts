// The demo text tower as an ONNX graph: token embedding table, mean over non-pad tokens, linear.
//   input_ids [B, L] int64 (pad id 0)  ->  text_embedding [B, E] (not normalised; the runtime
//   normalises). The pad mask is computed inside the graph from the ids, so callers feed ids only.
// Built with GraphBuilder so the tfjs trainer's forward pass and the served graph are the same
// few ops: Gather, Mul, ReduceSum, Div, MatMul.

import { GraphBuilder } from '../../engine/graph.ts';
import { TEXT_INPUT, TEXT_OUTPUT } from '../../format/manifest.ts';

export interface TextTowerWeights {
  /** Token embedding table, row-major [vocabulary, W]; row 0 is [PAD] and never contributes. */
  tokenEmbeddings: Float32Array;
  /** Projection, row-major [W, E]. */
  projection: Float32Array;
  vocabulary: number;
  width: number;
  dim: number;
}

export function buildTextTower(w: TextTowerWeights): Uint8Array {
  const g = new GraphBuilder('text_tower');
  const ids = g.input(TEXT_INPUT, ['batch', 'length'], 'int64');
  const table = g.initializer('token_embeddings', w.tokenEmbeddings, [w.vocabulary, w.width]);
  const projection = g.initializer('projection', w.projection, [w.width, w.dim]);
  const notPad = g.op('Not', [g.op('Equal', [ids, g.initializer('pad_id', BigInt64Array.from([0n]), [])])]);
  const mask = g.op('Cast', [notPad], { to: 1 }); // [B, L] float32
  const tokens = g.op('Gather', [table, ids], { axis: 0 }); // [B, L, W]
  const masked = g.op('Mul', [tokens, g.op('Unsqueeze', [mask, g.ints([2])])]);
  const sum = g.op('ReduceSum', [masked, g.ints([1])], { keepdims: 0 }); // [B, W]
  const count = g.op('Max', [g.op('ReduceSum', [mask, g.ints([1])], { keepdims: 1 }), g.scalar(1)]); // [B, 1]
  const pooled = g.op('Div', [sum, count]);
  g.output(g.op('MatMul', [pooled, projection]), TEXT_OUTPUT, ['batch', w.dim]);
  return g.toBytes('hetxl-serve zero-shot demo text tower');
}
