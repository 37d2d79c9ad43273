// --noise-config of `npm run convert -- clip`: the HET-XL noise trained on a dual encoder's image
// embedding (head.safetensors holds its layers under edward2's names). The fields are the
// manifest's; a missing R or an unknown field is refused naming the file and the field.
import { ConvertError } from './errors.ts';

export interface ClipNoiseConfig {
  /** Factors of the low-rank covariance (scale_layer_homoscedastic/kernel is [R, E]). */
  R: number;
  /** Added to the softplus of the diagonal scale; default edward2's 1e-3. */
  minScale: number;
  imageNormalisation: 'after-noise' | 'before-noise';
  /** The manifest's mc section when given (defaultSamples, maxSamples). */
  mc?: { defaultSamples?: number; maxSamples?: number };
}

const FIELDS = ['R', 'minScale', 'imageNormalisation', 'defaultSamples', 'maxSamples'];

export function parseNoiseConfig(raw: unknown, file: string): ClipNoiseConfig {
  const fail = (problem: string): never => {
    throw new ConvertError(`${file}: ${problem}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`the noise config must be a JSON object with ${FIELDS.join(', ')}`);
  const c = raw as Record<string, unknown>;
  const unknown = Object.keys(c).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) fail(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (the fields are ${FIELDS.join(', ')})`);
  if (!Number.isInteger(c.R) || (c.R as number) < 1) fail(`R must be an integer >= 1 (the number of covariance factors), got ${JSON.stringify(c.R)}`);
  if (c.minScale !== undefined && !(typeof c.minScale === 'number' && c.minScale >= 0)) fail(`minScale must be a number >= 0, got ${JSON.stringify(c.minScale)}`);
  if (c.imageNormalisation !== undefined && c.imageNormalisation !== 'after-noise' && c.imageNormalisation !== 'before-noise') {
    fail(`imageNormalisation must be "after-noise" or "before-noise", got ${JSON.stringify(c.imageNormalisation)}`);
  }
  const mc = {
    ...(c.defaultSamples !== undefined ? { defaultSamples: c.defaultSamples as number } : {}),
    ...(c.maxSamples !== undefined ? { maxSamples: c.maxSamples as number } : {}),
  };
  return {
    R: c.R as number,
    minScale: (c.minScale as number | undefined) ?? 1e-3,
    imageNormalisation: (c.imageNormalisation as ClipNoiseConfig['imageNormalisation'] | undefined) ?? 'after-noise',
    ...(Object.keys(mc).length > 0 ? { mc } : {}),
  };
}
