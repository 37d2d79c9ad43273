// INFERENCE_WORKERS=auto: which runs of a model go to its worker thread and which run on the HTTP
// thread. onnxruntime-node's session.run is synchronous on its caller's thread (its JavaScript
// `run` only defers it with setImmediate), so a run on the HTTP thread holds the event loop for
// its whole length; the hop to a worker thread and back costs ~0.1-0.3 ms of CPU and two thread
// wake-ups per call. For a small classifier's short runs the hop is most of the request; for a
// long MC run it is what keeps /healthz answering. So a small classifier keeps a pipeline of its
// own on the HTTP thread too, and each run goes where its size and the load say (LocalFirstModel below).
//
// The size of a run: images x samples x K x D multiply-adds (one sample in mean mode), the noisy
// logits' product that dominates an MC run. Measured in process on the bundled
// hetxl-fashion-mnist (K = 10, D = 64; 2-vCPU VM, load 6-8, docs/performance.md issue #18):
// 1 x 1,000 (0.64 M) 1.2 ms, 8 x 100 (0.51 M) 0.58 ms, 32 x 100 (2.0 M) 1.2 ms, 8 x 300 (1.5 M)
// 1.1 ms, 1 x 3,000 (1.9 M) 3.5 ms, 32 x 1,000 (20 M) 12 ms. Runs up to 2^20 (~1 M) stay about a
// millisecond, the time of one /healthz answer under such load; longer ones go to the worker. Only
// a lone image's run stays here, and only while no other run is in flight: under load the worker's
// overlap with this thread's HTTP work is worth more than the hop (measured over HTTP, issue #18).
// The backbone's cost is not in the count: only a model whose files total under SMALL_MODEL_BYTES
// (the bound under which its sessions get one ORT thread) keeps a local pipeline at all.
import { SMALL_MODEL_BYTES } from '../../engine/session.ts';
import type { Checkpoint } from '../../format/checkpoint.ts';
import type { InferenceInput, ModelMetadata, PixelBatch, Prediction, PredictOptions, PreparedInput, ServedModel } from '../served-model.ts';

/** The largest run (images x samples x K x D multiply-adds) that runs on the HTTP thread under INFERENCE_WORKERS=auto. */
export const LOCAL_RUN_WORK = 2 ** 20;

/** Whether a checkpoint is small enough to keep a pipeline on the HTTP thread: a classifier whose backbone and head total under SMALL_MODEL_BYTES. */
export function keepsLocalPipeline(checkpoint: Checkpoint): boolean {
  if (checkpoint.manifest.task !== 'classification') return false;
  let bytes = checkpoint.backbone.byteLength;
  for (const { data } of checkpoint.weights.values()) bytes += data.byteLength;
  return bytes < SMALL_MODEL_BYTES;
}

/** A run's multiply-adds in the noisy logits' product: images x samples x K x D (one sample in mean mode, and for a model without MC). */
export function runWork(metadata: ModelMetadata, images: number, options: Pick<PredictOptions, 'mode' | 'samples'>): number {
  const samples = metadata.supportsMc && options.mode === 'mc' ? options.samples : 1;
  return images * samples * metadata.head.K * metadata.head.D;
}

/**
 * A small classifier served from both threads: a run of one image up to LOCAL_RUN_WORK in the HTTP
 * thread's own pipeline when no other run of the model is in flight (low load, where the hop is
 * most of the latency); larger runs, and merged or overlapping runs (load), in the worker, which
 * then computes while this thread parses and answers the other requests (at concurrency 8 and 32,
 * sending every short run to the HTTP thread measured 0.7-1.3x the requests/s of the worker).
 * Both pipelines are built from the same checkpoint with the same engine options (the same ORT
 * thread count), so a request gets the same bytes either way.
 */
export class LocalFirstModel implements ServedModel {
  /** Runs of this model in flight, in either thread. */
  private running = 0;

  constructor(
    private readonly local: ServedModel,
    private readonly worker: ServedModel,
  ) {}

  get name(): string {
    return this.local.name;
  }
  get task() {
    return this.local.task;
  }
  get metadata(): ModelMetadata {
    return this.local.metadata;
  }
  get labels(): readonly string[] | undefined {
    return this.local.labels;
  }

  prepare(input: InferenceInput): PreparedInput {
    return this.local.prepare(input);
  }

  preprocess(input: PreparedInput, signal?: AbortSignal): Promise<PixelBatch> {
    return this.local.preprocess(input, signal);
  }

  /** Whether a run of `images` images with `options`, started now, runs on this thread. */
  runsLocally(images: number, options: Pick<PredictOptions, 'mode' | 'samples'>): boolean {
    return images === 1 && this.running === 0 && runWork(this.metadata, images, options) <= LOCAL_RUN_WORK;
  }

  async predictTensor(pixels: PixelBatch, input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    const target = this.runsLocally(pixels.batch, options) ? this.local : this.worker;
    this.running++;
    try {
      return await target.predictTensor(pixels, input, options);
    } finally {
      this.running--;
    }
  }

  async predict(input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    return this.predictTensor(await this.preprocess(input, options.signal), input, options);
  }

  async warmUp(): Promise<void> {
    await Promise.all([this.local.warmUp(), this.worker.warmUp()]);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.local.dispose(), this.worker.dispose()]);
  }
}
