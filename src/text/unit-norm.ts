// L2 normalisation of embeddings: text embeddings are compared as unit vectors (cosines), and so
// is the image embedding of a zero-shot model.

/** Scales v to unit L2 norm in place (a zero vector stays zero). */
export function normaliseInPlace(v: Float32Array | Float64Array): void {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += v[i] * v[i];
  const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= inv;
}
