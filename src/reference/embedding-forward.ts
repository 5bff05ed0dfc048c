/** float64 reference of the embedding-forward kernel: x [N, I] = weight[ids], one row per id. */
export function embeddingForwardReference(weight: ArrayLike<number>, ids: ArrayLike<number>, I: number): Float64Array {
  const x = new Float64Array(ids.length * I);
  for (let r = 0; r < ids.length; r++) for (let k = 0; k < I; k++) x[r * I + k] = weight[ids[r] * I + k];
  return x;
}
