/**
 * float64 reference of shaders/matmul.wgsl, on the same flat storage and the same resolved
 * shape (strides, offsets, transposes), so a test can feed both the same buffers.
 */
import type { ResolvedMatmulShape } from '../kernels/matmul.js';

/**
 * C[z][m, n] = Σ_k A'[z][m, k]·B'[z][n, k] (+ bias[offsetBias + n]) (+ C[z][m, n]).
 * Writes into `c` (float64) and returns it; elements of `c` outside the product are untouched.
 */
export function matmulReference(
  s: ResolvedMatmulShape,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  c: Float64Array,
): Float64Array {
  for (let z = 0; z < s.batch; z++) {
    const aBase = s.offsetA + z * s.strideA;
    const bBase = s.offsetB + z * s.strideB;
    const cBase = s.offsetC + z * s.strideC;
    for (let m = 0; m < s.M; m++) {
      for (let n = 0; n < s.N; n++) {
        let acc = 0;
        for (let k = 0; k < s.K; k++) {
          const av = a[aBase + (s.transA ? k * s.lda + m : m * s.lda + k)];
          const bv = b[bBase + (s.transB ? k * s.ldb + n : n * s.ldb + k)];
          acc += av * bv;
        }
        if (s.hasBias && bias) acc += bias[s.offsetBias + n];
        const ci = cBase + m * s.ldc + n * s.colStrideC;
        c[ci] = s.accumulate ? c[ci] + acc : acc;
      }
    }
  }
  return c;
}
