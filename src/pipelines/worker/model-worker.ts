// The worker thread of one served model (started by worker-model.ts): it loads the checkpoint
// folder itself, builds the pipeline of its task with its own ONNX Runtime sessions, and answers
// predictTensor, warmUp and dispose messages. The MC loop's JavaScript (noise rows, the float64
// accumulator, statistics) and every session.run's event-loop turn happen here, so the main
// thread's event loop stays free for HTTP. Each predict call has an AbortController of its own,
// aborted by an 'abort' message; the loop checks it between chunks.
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CHECKPOINT_FILES, loadCheckpoint } from '../../format/checkpoint.ts';
import { CheckpointError } from '../../format/errors.ts';
import { loadServedModel } from '../registry.ts';
import type { ServedModel } from '../served-model.ts';
import { predictionArrays, serializeError, transferablesOf, type WorkerInit, type WorkerReply, type WorkerRequest } from './protocol.ts';

if (isMainThread || !parentPort) throw new Error('model-worker.ts runs as a worker thread (started by WorkerModel)');
const port = parentPort;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  try {
    port.postMessage(message, transfer);
  } catch {
    // A buffer that cannot be detached (one ORT or a library still owns): send a copy instead.
    port.postMessage(message);
  }
}

/** The checkpoint as the main thread saw it, or a CheckpointError when the folder changed in between. */
async function load(init: WorkerInit): Promise<ServedModel> {
  // The main thread confined the folder to MODELS_DIR; this keeps the same check against its parent.
  const checkpoint = await loadCheckpoint(init.dir, { modelsDir: path.dirname(init.dir) });
  if (JSON.stringify(checkpoint.manifest) !== JSON.stringify(init.manifest) || JSON.stringify(checkpoint.labels) !== JSON.stringify(init.labels)) {
    throw new CheckpointError(path.join(init.dir, CHECKPOINT_FILES.manifest), 'the checkpoint changed while the model was loading; load it again');
  }
  return loadServedModel(checkpoint, init.engine, init.limits);
}

async function serve(init: WorkerInit): Promise<void> {
  let model: ServedModel;
  try {
    model = await load(init);
  } catch (error) {
    reply({ type: 'failed', error: serializeError(error) });
    port.close();
    return;
  }
  const calls = new Map<number, AbortController>();
  const textCache = () => model.textCache && { ...model.textCache };

  async function answer(request: Exclude<WorkerRequest, { type: 'abort' }>): Promise<void> {
    const controller = new AbortController();
    calls.set(request.id, controller);
    try {
      if (request.type === 'predict') {
        // A classifier ranks its own labels: the main thread sends labels for zero-shot requests only.
        const input = { images: [], labels: request.labels ?? model.labels ?? [], templates: request.templates, warnings: [] };
        const predictions = await model.predictTensor(request.pixels, input, { ...request.options, signal: controller.signal });
        reply({ type: 'done', id: request.id, predictions, textCache: textCache() }, transferablesOf(predictionArrays(predictions)));
      } else if (request.type === 'warmUp') {
        await model.warmUp();
        reply({ type: 'done', id: request.id, textCache: textCache() });
      } else {
        await model.dispose();
        reply({ type: 'done', id: request.id });
      }
    } catch (error) {
      reply({ type: 'error', id: request.id, error: serializeError(error), textCache: textCache() });
    } finally {
      calls.delete(request.id);
    }
  }

  port.on('message', (request: WorkerRequest) => {
    if (request.type === 'abort') calls.get(request.id)?.abort();
    else void answer(request);
  });
  reply({ type: 'ready', metadata: model.metadata, textCache: textCache() });
}

void serve(workerData as WorkerInit);
