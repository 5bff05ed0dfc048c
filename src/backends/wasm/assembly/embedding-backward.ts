// The embedding's gradient dE [V, I]: row v the sum of the rows of dx [N, I] at the positions
// that read id v (i32 lists of src/spec/embedding.ts embeddingRows: slot [V], starts, order),
// in increasing position, and zero for rows no position reads. Every row is written. Four
// features a vector. Thread mapping: share(V, 1), a row each.
import { share } from './simd';

export function embeddingBackward(slot: usize, starts: usize, order: usize, dx: usize, dE: usize, numEmbeddings: i32, features: i32, thread: i32, threads: i32): void {
  const s = share(numEmbeddings, 1, thread, threads);
  const bytes = usize(features) << 2;
  for (let v = i32(s >> 32); v < i32(s); v++) {
    const row = dE + usize(v) * bytes;
    const u = load<u32>(slot + (usize(v) << 2));
    memory.fill(row, 0, bytes);
    if (u == 0xffffffff) continue;
    const j1 = load<i32>(starts + (usize(u + 1) << 2));
    for (let j = load<i32>(starts + (usize(u) << 2)); j < j1; j++) {
      const src = dx + usize(load<i32>(order + (usize(j) << 2))) * bytes;
      let k = 0;
      for (; k + 4 <= features; k += 4) {
        const o = usize(k) << 2;
        v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(src + o)));
      }
      for (; k < features; k++) {
        const o = usize(k) << 2;
        store<f32>(row + o, load<f32>(row + o) + load<f32>(src + o));
      }
    }
  }
}
