// POST zero-shot: images and a label list chosen by the client (+ optional templates) -> the same
// shape as classify, over the given labels. read input -> prepare (the pipeline checks the
// prompts, before any image or text work) -> resolve options -> predict -> shape.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { acquireModel } from '../context.ts';
import { requestSignal } from '../cancellation.ts';
import { badRequest } from '../errors.ts';
import { inputLimitsOf, readInput } from '../input.ts';
import { mergeOptions, resolveOptions } from '../options.ts';
import { classifyPredictions, runInfo } from '../results.ts';
import { InferenceErrors, ModelParams, ZeroShotQuery, ZeroShotResponse, zeroShotBody } from '../schemas.ts';

const ZERO_SHOT_OPTIONS = ['mode', 'samples', 'seed', 'estimator', 'deadlineMs', 'topK'] as const;

/**
 * A list of strings from a JSON body (already an array) or multipart fields: repeated fields arrive
 * as a list, a single field as a string, which may hold a JSON array.
 */
export function stringList(raw: unknown, name: string): string[] | undefined {
  if (raw === undefined) return undefined;
  let value = raw;
  if (typeof raw === 'string' && raw.trimStart().startsWith('[')) {
    try {
      value = JSON.parse(raw);
    } catch {
      throw badRequest('INVALID_LABELS', `'${name}' looks like a JSON array but does not parse`);
    }
  } else if (typeof raw === 'string') {
    value = [raw];
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw badRequest('INVALID_LABELS', `'${name}' must be a list of strings`);
  }
  return value as string[];
}

const zeroShotRoutes: FastifyPluginAsync<RouteContext> = async (fastify, { registry, config }) => {
  const app = fastify as unknown as App;
  const inputLimits = inputLimitsOf(config);

  app.post(
    '/v1/models/:name/zero-shot',
    {
      schema: {
        tags: ['zero-shot'],
        description:
          'Classify one or more images over labels given in the request (zero-shot models only). Each label is put into every template, the prompts go through the text tower ' +
          '(cached), and the image embedding is compared with the label embeddings; MC mode samples the HET-XL noise on the image embedding. Same response as classify.',
        params: ModelParams,
        querystring: ZeroShotQuery,
        body: zeroShotBody,
        response: { 200: ZeroShotResponse, ...InferenceErrors },
      },
    },
    async (request, reply) => {
      using lease = acquireModel(registry, request.params.name, 'zero-shot');
      const { model } = lease;
      const input = await readInput(request, 'images', inputLimits);
      const { labels, templates, ...fields } = input.fields;
      const prepared = model.prepare({ images: input.images, labels: stringList(labels, 'labels'), templates: stringList(templates, 'templates') });
      const options = resolveOptions(model.metadata, mergeOptions(request.query, fields, ZERO_SHOT_OPTIONS), config, prepared.labels.length);
      const predictions = await model.predict(prepared, { ...options.predict, signal: requestSignal(reply, options.deadlineMs) });
      return {
        ...runInfo(model, options.predict),
        templates: [...(prepared.templates ?? [])],
        ...(prepared.warnings.length > 0 ? { warnings: prepared.warnings } : {}),
        predictions: classifyPredictions(predictions, prepared.labels, options.topK),
      };
    },
  );
};

export default zeroShotRoutes;
