// The embedding's forward: x [rows, I] = weight[ids] (ids i32 [rows], weight [V, I]), a copy of
// one row of the weight per position. Thread mapping: share(rows, 1).
import { share } from './simd';

export function embeddingForward(ids: usize, weight: usize, x: usize, rows: i32, features: i32, thread: i32, threads: i32): void {
  const s = share(rows, 1, thread, threads);
  const bytes = usize(features) << 2;
  for (let r = i32(s >> 32); r < i32(s); r++) {
    memory.copy(x + usize(r) * bytes, weight + usize(load<i32>(ids + (usize(r) << 2))) * bytes, bytes);
  }
}
