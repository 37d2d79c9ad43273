// One entry point from (spec, weights) to the head's graph set.
import type { HeadSpec } from '../format/manifest.ts';
import { buildDetGraphs } from './det.ts';
import type { HeadGraphs } from './graph-io.ts';
import { buildHetXlGraphs } from './het-xl.ts';
import { buildHetGraphs } from './het.ts';
import type { HeadWeights } from '../format/head-params.ts';
import { validateHeadWeights } from '../format/head-params.ts';

export function buildHeadGraphs(spec: HeadSpec, weights: HeadWeights): HeadGraphs {
  validateHeadWeights(spec, weights);
  switch (spec.type) {
    case 'det':
      return buildDetGraphs(spec, weights);
    case 'het':
      return buildHetGraphs(spec, weights);
    case 'het-xl':
      return buildHetXlGraphs(spec, weights);
  }
}
