// B = Wᵀ in the panels matmul.ts reads (its `packed` form): for W [N, K] (row stride ldw; a
// weight in PyTorch's [out, in] layout), dst[t][k][c] = W[8t + c, k], zero where 8t + c ≥ N:
// ⌈N/8⌉ panels of K rows of 8 floats. Thread mapping: panels, share(⌈N/8⌉, 1).
import { share } from './simd';

export function packPanels(dst: usize, w: usize, ldw: i32, N: i32, K: i32, thread: i32, threads: i32): void {
  const panels = (N + 7) >> 3;
  const s = share(panels, 1, thread, threads);
  for (let t = i32(s >> 32); t < i32(s); t++) {
    const pd = dst + ((usize(t) * usize(K)) << 5);
    for (let cc = 0; cc < 8; cc++) {
      const n = 8 * t + cc;
      const row = w + (usize(n * ldw) << 2);
      for (let k = 0; k < K; k++) store<f32>(pd + (usize(k) << 5) + (usize(cc) << 2), n < N ? load<f32>(row + (usize(k) << 2)) : 0);
    }
  }
}
