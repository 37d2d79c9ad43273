// The learned-temperature parameterisation of HET-XL (docs/method.md, "Learned temperature"):
// tau = min + (max - min) * sigmoid(t). Written once: the loader checks a manifest's tau against
// its t and bounds with it, and the trainers and the generator of random checkpoints use it.

export interface TemperatureParameter {
  /** The unconstrained parameter t. */
  t: number;
  min: number;
  max: number;
}

/** tau = min + (max - min) * sigmoid(t). */
export function temperatureTau({ t, min, max }: TemperatureParameter): number {
  return min + (max - min) / (1 + Math.exp(-t));
}

/** The t with temperatureTau({ t, min, max }) = tau, for min < tau < max. */
export function temperatureT(tau: number, min: number, max: number): number {
  if (!(min < tau && tau < max)) throw new RangeError(`tau ${tau} must lie strictly between min ${min} and max ${max}`);
  const s = (tau - min) / (max - min);
  return Math.log(s / (1 - s));
}
