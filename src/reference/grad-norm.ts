/** float64 reference of shaders/grad-norm.wgsl: the global L2 norm and the clipping factor. */
export function gradNormReference(grads: ReadonlyArray<ArrayLike<number>>, maxNorm: number): { norm: number; scale: number } {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  const norm = Math.sqrt(sum);
  return { norm, scale: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}
