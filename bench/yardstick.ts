// The yardstick of issue #4: the engine's bare [S x D] @ [D x K] product with the model's own W,
// reduced inside the engine (ReduceSum over K) so that copying S x K floats out is not counted.
// Same session options (threads, provider, spinning) as the heads' sample graph.
import { GraphBuilder } from '../src/engine/graph.ts';
import { createSession, floatTensor, type EngineOptions, type Session } from '../src/engine/session.ts';

export interface Yardstick {
  /** One run of the product for `rows` = batch x S rows. */
  run(rows: number): Promise<void>;
  release(): Promise<void>;
}

export async function createYardstick(W: Float32Array, D: number, K: number, engine: EngineOptions): Promise<Yardstick> {
  const g = new GraphBuilder('yardstick');
  const x = g.input('x', ['rows', D]);
  const product = g.op('MatMul', [x, g.initializer('w', W, [D, K])]);
  g.output(g.op('ReduceSum', [product, g.ints([1])], { keepdims: 0 }), 'y', ['rows']);
  const session: Session = await createSession(g.toBytes('bare product, reduced'), engine, { spinning: true });
  const inputs = new Map<number, Float32Array>();
  return {
    async run(rows) {
      let x = inputs.get(rows);
      if (!x) inputs.set(rows, (x = Float32Array.from({ length: rows * D }, (_, i) => Math.sin(0.37 * i))));
      await session.run({ x: floatTensor(x, [rows, D]) });
    },
    release: () => session.release(),
  };
}
