// The one place that talks to onnxruntime-node: session creation and the execution provider.
import ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface EngineOptions {
  /** 'auto' uses CUDA when onnxruntime-node was installed with its CUDA binaries, else the CPU. */
  provider: 'auto' | ExecutionProvider;
  /** ORT intra-op threads; 0: ORT chooses (one per physical core), or one for a small model (intraOpThreadsFor). */
  threads: number;
}

export const defaultEngineOptions: EngineOptions = { provider: 'auto', threads: 0 };

let cudaAvailable: boolean | undefined;

/** Whether the CUDA execution provider can actually create a session here (checked once). */
async function probeCuda(): Promise<boolean> {
  if (cudaAvailable !== undefined) return cudaAvailable;
  const backends = ort.listSupportedBackends?.() ?? [];
  if (!backends.some((b) => b.name === 'cuda')) return (cudaAvailable = false);
  // Without ONNXRUNTIME_NODE_INSTALL=cuda12 the provider library is absent; trying a session
  // anyway would only make ORT print an error on every CPU host.
  if (!cudaProviderInstalled()) return (cudaAvailable = false);
  try {
    // The binding lists cuda on every Linux x64 build; only a real session proves the
    // provider library and a GPU are there.
    const { GraphBuilder } = await import('./graph.ts');
    const g = new GraphBuilder('probe');
    g.output(g.op('Identity', [g.input('x', [1])]), 'y', [1]);
    const s = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ['cuda'] });
    await s.release();
    cudaAvailable = true;
  } catch {
    cudaAvailable = false;
  }
  return cudaAvailable;
}

function cudaProviderInstalled(): boolean {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const binDir = path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(path.join(binDir, 'libonnxruntime_providers_cuda.so'));
}

export async function resolveProvider(options: EngineOptions): Promise<ExecutionProvider> {
  if (options.provider === 'cpu') return 'cpu';
  const cuda = await probeCuda();
  if (options.provider === 'cuda' && !cuda) throw new Error('ORT_PROVIDER=cuda but the CUDA execution provider is not available');
  return cuda ? 'cuda' : 'cpu';
}

export interface Session {
  readonly provider: ExecutionProvider;
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  /**
   * Let the intra-op threads spin between kernels (ORT's default). Only for the one heavy graph a
   * request runs (a head's sample graph): every session has its own thread pool, and threads left
   * spinning by a light session (backbone, noise scales, text tower) take the cores from the next
   * one. Measured at K = 29,593, D = 1024 on 2 cores, model alone: mean mode 16 -> 9-11 ms, MC
   * S = 100 107-132 -> 55-67 ms, S = 1000 595-651 -> 535-627 ms with spinning off everywhere else.
   */
  spinning?: boolean;
  /**
   * Its runs are long whatever the model's size (a graph with no weights to speak of over large
   * inputs): a thread per core under ORT_THREADS = 0, not the small-model rule's one.
   */
  computeBound?: boolean;
}

/**
 * A model (weights included) under this size gets one intra-op thread when ORT_THREADS is 0
 * (auto): its runs are tens to hundreds of microseconds, shorter than waking a pool thread, so
 * splitting them only adds CPU. Measured on the bundled hetxl-fashion-mnist (2 cores), backbone
 * and head in process: mean mode 123-196 -> 78-104 us CPU per image, MC S = 100 329-432 ->
 * 161-213 us, with the wall time down too; at S = 1000 the CPU halves (0.8-1.1 -> 0.47 ms) but
 * a lone request on an idle machine takes ~2.3x as long (1.2 -> 2.6 ms). ORT_THREADS > 0 sets
 * the threads of every session.
 */
export const SMALL_MODEL_BYTES = 4 * 1024 * 1024;

/** ORT's intra-op threads for a session of `model`: ORT_THREADS, or for 0 one per core (0) or one for a small model. */
export function intraOpThreadsFor(model: Uint8Array, options: EngineOptions, session: SessionOptions = {}): number {
  if (options.threads > 0) return options.threads;
  return model.byteLength < SMALL_MODEL_BYTES && !session.computeBound ? 1 : 0;
}

export async function createSession(model: Uint8Array, options: EngineOptions, session: SessionOptions = {}): Promise<Session> {
  const provider = await resolveProvider(options);
  const created = await ort.InferenceSession.create(model, {
    executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    intraOpNumThreads: intraOpThreadsFor(model, options, session),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    ...(session.spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  });
  return {
    provider,
    run: (feeds) => created.run(feeds),
    release: () => created.release(),
  };
}

export function floatTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64Tensor(data: BigInt64Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', data, dims);
}

export type { Tensor } from 'onnxruntime-node';
