// POST classify: one or several images -> top-k classes per image with the uncertainty
// statistics. read input -> prepare -> resolve options -> predict -> shape.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { acquireModel } from '../context.ts';
import { requestSignal } from '../cancellation.ts';
import { inputLimitsOf, readInput } from '../input.ts';
import { mergeOptions, resolveOptions } from '../options.ts';
import { classifierPredictions, linkInfo, runInfo } from '../results.ts';
import { ClassifyQuery, ClassifyResponse, InferenceErrors, ModelParams, classifyBody } from '../schemas.ts';

const CLASSIFY_OPTIONS = ['mode', 'samples', 'seed', 'estimator', 'targetStdError', 'tolerance', 'deadlineMs', 'topK', 'threshold', 'include'] as const;

const classifyRoutes: FastifyPluginAsync<RouteContext> = async (fastify, { registry, config }) => {
  const app = fastify as unknown as App;
  const inputLimits = inputLimitsOf(config);

  app.post(
    '/v1/models/:name/classify',
    {
      schema: {
        tags: ['inference'],
        description:
          'Classify one or more images: top-k classes with probabilities, and uncertainty statistics (MC mode adds per-class std and standard error). ' +
          'Sigmoid (multi-label) heads report per-class binary statistics and the labels above `threshold` instead of the softmax statistics.',
        params: ModelParams,
        querystring: ClassifyQuery,
        body: classifyBody,
        response: { 200: ClassifyResponse, ...InferenceErrors },
      },
    },
    async (request, reply) => {
      using lease = acquireModel(registry, request.params.name, 'classification');
      const { model } = lease;
      const input = await readInput(request, 'images', inputLimits);
      const prepared = model.prepare({ images: input.images });
      const options = resolveOptions(model.metadata, mergeOptions(request.query, input.fields, CLASSIFY_OPTIONS), config, prepared.labels.length);
      const predictions = await model.predict(prepared, { ...options.predict, signal: requestSignal(reply, options.deadlineMs) });
      return {
        ...runInfo(model, options.predict),
        ...linkInfo(model, options.threshold),
        predictions: classifierPredictions(predictions, prepared.labels, options.topK, options.threshold, options.predict),
      };
    },
  );
};

export default classifyRoutes;
