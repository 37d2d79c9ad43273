// POST classify (top-k per image, one or several images) and predictive (the full distribution
// over all K classes for one image). Both: read input -> resolve options -> Model.predict -> shape.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { requireClassifier } from '../context.ts';
import { abortedWhenClientLeaves } from '../cancellation.ts';
import { badRequest } from '../errors.ts';
import { inputLimitsOf, readInput } from '../input.ts';
import { mergeOptions, resolveOptions, type Encoding } from '../options.ts';
import { runInfo, topClasses } from '../results.ts';
import type { Model } from '../../pipelines/classifier.ts';
import { topK } from '../../uncertainty/statistics.ts';
import {
  ClassifyQuery,
  ClassifyResponse,
  InferenceErrors,
  ModelParams,
  PredictiveQuery,
  PredictiveResponse,
  classifyBody,
  predictiveBody,
} from '../schemas.ts';

const CLASSIFY_OPTIONS = ['mode', 'samples', 'seed', 'estimator', 'topK'] as const;
const PREDICTIVE_OPTIONS = ['mode', 'samples', 'seed', 'estimator', 'encoding', 'topN'] as const;


/** One K-length array in the requested encoding; 'top-n' keeps only the entries at `indices`. */
function encode(values: Float32Array, encoding: Encoding, indices: number[]): number[] | string {
  if (encoding === 'f32-base64') return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
  if (encoding === 'top-n') return indices.map((k) => values[k]);
  return Array.from(values);
}

/** The 'top-n' form of the probabilities: the n most probable classes and the mass of the rest. */
function topNProbabilities(model: Model, probs: Float32Array, n: number) {
  const top = topK(probs, n);
  const listed = top.reduce((sum, c) => sum + c.value, 0);
  return {
    indices: top.map((c) => c.index),
    labels: top.map((c) => model.labels[c.index] ?? String(c.index)),
    values: top.map((c) => c.value),
    remainingMass: Math.max(1 - listed, 0),
  };
}

const predictRoutes: FastifyPluginAsync<RouteContext> = async (fastify, { registry, config }) => {
  const app = fastify as unknown as App;
  const inputLimits = inputLimitsOf(config);

  app.post(
    '/v1/models/:name/classify',
    {
      schema: {
        tags: ['inference'],
        description: 'Classify one or more images: top-k classes with probabilities, and uncertainty statistics (MC mode adds per-class std and standard error).',
        params: ModelParams,
        querystring: ClassifyQuery,
        body: classifyBody,
        response: { 200: ClassifyResponse, ...InferenceErrors },
      },
    },
    async (request, reply) => {
      const model = requireClassifier(registry, request.params.name);
      const input = await readInput(request, 'images', inputLimits);
      const options = resolveOptions(model, mergeOptions(request.query, input.fields, CLASSIFY_OPTIONS), config);
      const predictions = await model.predict(input.images, { ...options, signal: abortedWhenClientLeaves(reply) });
      return {
        ...runInfo(model, options),
        predictions: predictions.map((p) => ({ classes: topClasses(model.labels, p, options.topK), statistics: p.statistics })),
      };
    },
  );

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
      const model = requireClassifier(registry, request.params.name);
      const input = await readInput(request, 'image', { ...inputLimits, maxImages: 1 });
      if (input.images.length !== 1) throw badRequest('TOO_MANY_IMAGES', 'predictive takes exactly one image');
      const options = resolveOptions(model, mergeOptions(request.query, input.fields, PREDICTIVE_OPTIONS), config);
      const [prediction] = await model.predict(input.images, { ...options, signal: abortedWhenClientLeaves(reply) });
      const top = options.encoding === 'top-n' ? topNProbabilities(model, prediction.probs, options.topN) : undefined;
      const indices = top?.indices ?? [];
      return {
        ...runInfo(model, options),
        K: model.K,
        encoding: options.encoding,
        probabilities: top ?? encode(prediction.probs, options.encoding, indices),
        ...(prediction.std ? { std: encode(prediction.std, options.encoding, indices) } : {}),
        ...(prediction.stdError ? { stdError: encode(prediction.stdError, options.encoding, indices) } : {}),
        statistics: prediction.statistics,
      };
    },
  );
};

export default predictRoutes;
