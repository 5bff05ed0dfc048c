/** float64 reference of the wasm backend's pack-panels: for W [N, K] (row stride ldw), dst[t][k][c] = W[8t + c, k], zero where 8t + c ≥ N. */
export function packPanelsReference(w: ArrayLike<number>, ldw: number, N: number, K: number): Float64Array {
  const panels = Math.ceil(N / 8);
  const dst = new Float64Array(panels * K * 8);
  for (let t = 0; t < panels; t++) for (let k = 0; k < K; k++) for (let c = 0; c < 8; c++) dst[(t * K + k) * 8 + c] = 8 * t + c < N ? w[(8 * t + c) * ldw + k] : 0;
  return dst;
}
