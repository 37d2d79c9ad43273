// The zero-shot test scenes, per renderer and split, as the backbone sees them:
//   classic  shapes.ts's fixed scenes (two sizes, three positions, three plain backgrounds), the
//            test set of the first demo model: generateShapes(count, 99, split), 8-bit pixels
//   varied   the training renderer with varied rendering (varied-shapes.ts), another seed (99)
//   svg      the independent renderer (svg-shapes.ts, librsvg), never used in training, seed 101
// Seen pairs are the training split's 21 colour–shape pairs, held-out the other 7. Encoded
// images (varied, svg) are decoded and resized by the server's preprocessing.
import { preprocessImages } from '../../image/preprocess.ts';
import { ZERO_SHOT_INPUT } from './export.ts';
import type { LabelledPixels } from './evaluate.ts';
import { renderSvgShapes } from './svg-shapes.ts';
import { generateVariedShapes } from './varied-shapes.ts';
import { shapesData } from './trainer.ts';

export const RENDERERS = ['classic', 'varied', 'svg'] as const;
export type Renderer = (typeof RENDERERS)[number];
export const SPLITS = ['seen', 'heldOut'] as const;
export type EvaluationSplit = (typeof SPLITS)[number];

export const EVAL_SEEDS: Record<Renderer, number> = { classic: 99, varied: 99, svg: 101 };

export interface EvaluationSet {
  renderer: Renderer;
  split: EvaluationSplit;
  /** How the scenes were made, for the manifest and the docs. */
  data: string;
  pixels: LabelledPixels;
  /** svg: the encoded images (PNG / JPEG), for evaluation through the served model's own decoding. */
  encoded?: Buffer[];
}

/** Every renderer's seen and held-out test scenes, count each. */
export async function evaluationSets(count: number): Promise<EvaluationSet[]> {
  const sets: EvaluationSet[] = [];
  for (const split of SPLITS) {
    const which = split === 'seen' ? 'train' : 'heldout';
    const pairs = split === 'seen' ? 'the 21 seen colour-shape pairs' : 'the 7 held-out pairs';
    const classic = shapesData(count, EVAL_SEEDS.classic, which);
    sets.push({ renderer: 'classic', split, data: `${count} scenes of ${pairs}, generateShapes(${count}, ${EVAL_SEEDS.classic}, '${which}')`, pixels: classic });
    const varied = await generateVariedShapes(count, EVAL_SEEDS.varied, which, ZERO_SHOT_INPUT);
    sets.push({ renderer: 'varied', split, data: `${count} scenes of ${pairs}, generateVariedShapes(${count}, ${EVAL_SEEDS.varied}, '${which}')`, pixels: varied });
    const svg = await renderSvgShapes(count, EVAL_SEEDS.svg, which);
    const images = await preprocessImages(svg.images, ZERO_SHOT_INPUT, { maxInputPixels: 1 << 20 });
    sets.push({ renderer: 'svg', split, data: `${count} scenes of ${pairs}, renderSvgShapes(${count}, ${EVAL_SEEDS.svg}, '${which}') (librsvg)`, pixels: { images, scenes: svg.scenes }, encoded: svg.images });
  }
  return sets;
}
