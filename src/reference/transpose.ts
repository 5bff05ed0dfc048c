/** float64 reference of the wasm backend's transpose: dst[n, m] = src[m, n] for src [M, N] with row stride lds and dst [N, M] with row stride ldd. */
export function transposeReference(src: ArrayLike<number>, lds: number, M: number, N: number, dst: Float64Array, ldd: number): Float64Array {
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) dst[n * ldd + m] = src[m * lds + n];
  return dst;
}
