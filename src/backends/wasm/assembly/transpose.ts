// dst[n, m] = src[m, n] for src [M, N] (row stride lds) and dst [N, M] (row stride ldd): the
// transposed weight copies the products read (W_ihᵀ, W_hhᵀ, the read-out's Wᵀ), refreshed after
// each update. Thread mapping: rows n of dst, share(N, 4), in 4 × 4 blocks.
import { share } from './simd';

export function transpose(dst: usize, ldd: i32, src: usize, lds: i32, M: i32, N: i32, thread: i32, threads: i32): void {
  const s = share(N, 4, thread, threads);
  const n0 = i32(s >> 32);
  const n1 = i32(s);
  for (let m0 = 0; m0 < M; m0 += 4) {
    const m1 = min(m0 + 4, M);
    for (let n = n0; n < n1; n++) {
      for (let m = m0; m < m1; m++) store<f32>(dst + (usize(n * ldd + m) << 2), load<f32>(src + (usize(m * lds + n) << 2)));
    }
  }
}
