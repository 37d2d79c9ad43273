// POST predictive: the full distribution over all K classes for one image, in the requested
// encoding. read input -> prepare -> resolve options -> predict -> encode.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { acquireModel } from '../context.ts';
import { requestSignal } from '../cancellation.ts';
import { badRequest } from '../errors.ts';
import { inputLimitsOf, readInput } from '../input.ts';
import { mergeOptions, resolveOptions, type Encoding } from '../options.ts';
import { aboveThreshold, linkInfo, precisionInfo, responseStatistics, runInfo } from '../results.ts';
import { mostProbable } from '../../pipelines/predictions.ts';
import type { Prediction } from '../../pipelines/served-model.ts';
import { InferenceErrors, ModelParams, PredictiveQuery, PredictiveResponse, predictiveBody } from '../schemas.ts';

const PREDICTIVE_OPTIONS = ['mode', 'samples', 'seed', 'estimator', 'targetStdError', 'tolerance', 'deadlineMs', 'encoding', 'topN', 'threshold', 'include'] as const;

/** One K-length array in the requested encoding; 'top-n' keeps only the entries at `indices`. */
function encode(values: Float32Array | Float64Array, encoding: Encoding, indices: number[]): number[] | string {
  if (encoding === 'f32-base64') {
    const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
    return Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength).toString('base64');
  }
  if (encoding === 'top-n') return indices.map((k) => values[k]);
  return Array.from(values);
}

/**
 * The 'top-n' form of the probabilities: the n most probable classes and the mass of the rest
 * (softmax: 1 - the listed mass; sigmoid, whose probabilities do not sum to 1: the sum of the
 * others, the expected number of other labels present).
 */
function topNProbabilities(labels: readonly string[], probs: Float32Array, n: number, sigmoid: boolean) {
  const top = mostProbable(probs, n);
  const listed = top.reduce((sum, c) => sum + c.value, 0);
  const total = sigmoid ? probs.reduce((sum, p) => sum + p, 0) : 1;
  return {
    indices: top.map((c) => c.index),
    labels: top.map((c) => labels[c.index] ?? String(c.index)),
    values: top.map((c) => c.value),
    remainingMass: Math.max(total - listed, 0),
  };
}

/** A sigmoid prediction's per-class binary statistics, and the logits when asked, in the response's encoding. */
function extraArrays({ binary, logits }: Prediction, encoding: Encoding, indices: number[]) {
  return {
    ...(binary ? { binaryEntropy: encode(binary.binaryEntropy, encoding, indices) } : {}),
    ...(binary?.expectedBinaryEntropy ? { expectedBinaryEntropy: encode(binary.expectedBinaryEntropy, encoding, indices) } : {}),
    ...(binary?.mutualInformation ? { mutualInformation: encode(binary.mutualInformation, encoding, indices) } : {}),
    ...(logits ? { logits: encode(logits, encoding, indices) } : {}),
  };
}

const predictiveRoutes: FastifyPluginAsync<RouteContext> = async (fastify, { registry, config }) => {
  const app = fastify as unknown as App;
  const inputLimits = inputLimitsOf(config);

  app.post(
    '/v1/models/:name/predictive',
    {
      schema: {
        tags: ['inference'],
        description:
          'The full predictive distribution over all K classes for one image, with per-class std and standard error (MC mode) and the uncertainty statistics. ' +
          'For large K use encoding=f32-base64 (all K values, compact) or encoding=top-n (the topN most probable classes plus the remaining mass).',
        params: ModelParams,
        querystring: PredictiveQuery,
        body: predictiveBody,
        response: { 200: PredictiveResponse, ...InferenceErrors },
      },
    },
    async (request, reply) => {
      using lease = acquireModel(registry, request.params.name, 'classification');
      const { model } = lease;
      const input = await readInput(request, 'image', { ...inputLimits, maxImages: 1 });
      if (input.images.length !== 1) throw badRequest('TOO_MANY_IMAGES', 'predictive takes exactly one image');
      const prepared = model.prepare({ images: input.images });
      const K = prepared.labels.length;
      const options = resolveOptions(model.metadata, mergeOptions(request.query, input.fields, PREDICTIVE_OPTIONS), config, K);
      // A precision target applies to every probability the response reports.
      if (options.predict.targetStdError !== undefined) options.predict.stopTopK = options.encoding === 'top-n' ? options.topN : K;
      const [prediction] = await model.predict(prepared, { ...options.predict, signal: requestSignal(reply, options.deadlineMs) });
      const sigmoid = prediction.binary !== undefined;
      const top = options.encoding === 'top-n' ? topNProbabilities(prepared.labels, prediction.probs, options.topN, sigmoid) : undefined;
      const indices = top?.indices ?? [];
      return {
        ...runInfo(model, options.predict),
        K,
        encoding: options.encoding,
        probabilities: top ?? encode(prediction.probs, options.encoding, indices),
        ...(prediction.std ? { std: encode(prediction.std, options.encoding, indices) } : {}),
        ...(prediction.stdError ? { stdError: encode(prediction.stdError, options.encoding, indices) } : {}),
        ...precisionInfo(prediction, options.predict),
        ...(prediction.candidates ? { candidates: prediction.candidates } : {}),
        ...linkInfo(model, options.threshold),
        ...extraArrays(prediction, options.encoding, indices),
        ...(sigmoid ? { aboveThreshold: aboveThreshold(prediction.probs, prepared.labels, options.threshold) } : {}),
        statistics: responseStatistics(prediction),
      };
    },
  );
};

export default predictiveRoutes;
