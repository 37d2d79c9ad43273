// POST zero-shot: images and a label list chosen by the client (+ optional templates) -> the same
// shape as classify, over the given labels. Hugging Face's names are accepted too: candidate_labels
// for labels, and hypothesis_template (one template with {} for the label) for templates. read input -> prepare (the pipeline checks the
// prompts, before any image or text work) -> resolve options -> predict -> shape.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { acquireModel } from '../context.ts';
import { requestSignal } from '../cancellation.ts';
import { badRequest, clip } from '../errors.ts';
import { LABEL_PLACEHOLDER } from '../../format/manifest.ts';
import { inputLimitsOf, readInput } from '../input.ts';
import { mergeOptions, resolveOptions } from '../options.ts';
import { classifyPredictions, runInfo } from '../results.ts';
import { InferenceErrors, ModelParams, ZeroShotQuery, ZeroShotResponse, zeroShotBody } from '../schemas.ts';

const ZERO_SHOT_OPTIONS = ['mode', 'samples', 'seed', 'estimator', 'targetStdError', 'deadlineMs', 'topK'] as const;

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

/** Hugging Face's placeholder in a zero-shot pipeline's hypothesis_template ("This is a photo of {}."). */
const HF_PLACEHOLDER = '{}';

/** One of two names for the same field (ours and Hugging Face's); both at once is a 400. */
function eitherName<T>(ours: T | undefined, alias: T | undefined, names: [string, string]): T | undefined {
  if (ours !== undefined && alias !== undefined) {
    throw badRequest('CONFLICTING_FIELDS', `'${names[1]}' is Hugging Face's name for '${names[0]}'; give one of them, not both`);
  }
  return ours ?? alias;
}

/** hypothesis_template: one string with {} where the label goes -> the one template, {} read as {label}. */
export function hypothesisTemplate(raw: unknown): string[] | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw badRequest('INVALID_TEMPLATE', "'hypothesis_template' must be one string (for several, use 'templates')");
  if (!raw.includes(HF_PLACEHOLDER)) {
    throw badRequest('TEMPLATE_WITHOUT_LABEL', `'hypothesis_template' "${clip(raw)}" does not contain ${HF_PLACEHOLDER}, where each label goes`);
  }
  return [raw.split(HF_PLACEHOLDER).join(LABEL_PLACEHOLDER)];
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
      const { labels, templates, candidate_labels: candidateLabels, hypothesis_template: hypothesis, ...fields } = input.fields;
      const prepared = model.prepare({
        images: input.images,
        labels: eitherName(stringList(labels, 'labels'), stringList(candidateLabels, 'candidate_labels'), ['labels', 'candidate_labels']),
        templates: eitherName(stringList(templates, 'templates'), hypothesisTemplate(hypothesis), ['templates', 'hypothesis_template']),
      });
      const options = resolveOptions(model.metadata, mergeOptions(request.query, fields, ZERO_SHOT_OPTIONS), config, prepared.labels.length);
      const predictions = await model.predict(prepared, { ...options.predict, signal: requestSignal(reply, options.deadlineMs) });
      return {
        ...runInfo(model, options.predict),
        templates: [...(prepared.templates ?? [])],
        ...(prepared.warnings.length > 0 ? { warnings: prepared.warnings } : {}),
        predictions: classifyPredictions(predictions, prepared.labels, options.topK, options.predict),
      };
    },
  );
};

export default zeroShotRoutes;
