/**
 * float64 reference of the embedding-backward kernel: the gradient of the embedding
 * dE [V, I], dE[v] = Σ over the positions r with ids[r] = v of dx[r] (the gradient of the
 * vectors read), and zero for the padding row (PyTorch's padding_idx) and rows no id reads.
 */
export function embeddingBackwardReference(dx: ArrayLike<number>, ids: ArrayLike<number>, V: number, I: number, paddingIdx: number | null): Float64Array {
  const dE = new Float64Array(V * I);
  for (let r = 0; r < ids.length; r++) {
    if (ids[r] === paddingIdx) continue;
    for (let k = 0; k < I; k++) dE[ids[r] * I + k] += dx[r * I + k];
  }
  return dE;
}
