// Tiny generated checkpoints for tests anywhere in the project. Usage:
//   const dir = await makeTinyCheckpoint(await mkdtemp(join(tmpdir(), 'x-')), { type: 'het-xl', covariance: 'full' });
//   const ckpt = await loadCheckpoint(dir);
// Defaults: 1x4x4 grayscale NCHW input, D = 6, K = 5, R = 3, het-xl param-efficient, seed 1.
import { generateCheckpoint, type GenerateOptions } from '../../src/synthetic/random-checkpoint.ts';
import type { Covariance, HeadType, Link } from '../../src/format/manifest.ts';

export interface TinyCheckpointOptions {
  /** Folder name (= manifest name); default `tiny-<type>[-<covariance>]`. */
  name?: string;
  type?: HeadType;
  covariance?: Covariance;
  D?: number;
  K?: number;
  /** 0: diagonal-only noise. */
  R?: number;
  tau?: number;
  link?: Link;
  seed?: number;
  /** 3x4x4 RGB input instead of 1x4x4 grayscale. */
  rgb?: boolean;
  layout?: 'NCHW' | 'NHWC';
  height?: number;
  width?: number;
  labels?: string[];
  mc?: { defaultSamples?: number; maxSamples?: number };
}

/** Writes a valid tiny checkpoint under `parentDir` and returns its folder path. */
export async function makeTinyCheckpoint(parentDir: string, overrides: TinyCheckpointOptions = {}): Promise<string> {
  const type = overrides.type ?? 'het-xl';
  const covariance = overrides.covariance ?? 'param-efficient';
  const channels = overrides.rgb ? 3 : 1;
  const options: GenerateOptions = {
    modelsDir: parentDir,
    name: overrides.name ?? (type === 'det' ? 'tiny-det' : `tiny-${type}-${covariance}`),
    seed: overrides.seed ?? 1,
    head: { type, covariance, D: overrides.D ?? 6, K: overrides.K ?? 5, R: overrides.R ?? 3, tau: overrides.tau ?? 1, link: overrides.link },
    input: {
      height: overrides.height ?? 4,
      width: overrides.width ?? 4,
      channels,
      layout: overrides.layout ?? 'NCHW',
      mean: Array.from({ length: channels }, () => 0.5),
      std: Array.from({ length: channels }, () => 0.25),
    },
    mc: { defaultSamples: 100, maxSamples: 1000, ...overrides.mc },
    labels: overrides.labels,
  };
  return (await generateCheckpoint(options)).dir;
}
