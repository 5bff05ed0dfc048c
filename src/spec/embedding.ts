/**
 * Token ids in: their checks, their lengths under maskZero, and the rows of the embedding's
 * gradient they touch (what the backends' embedding-backward kernels read).
 */
import { ShapeError, WebRnnError } from '../errors.js';
import type { ModelSpec } from './spec.js';

/** Throw unless `ids` is an Int32Array of `n` ids in [0, numEmbeddings), naming the first that is not. */
export function checkIds(spec: ModelSpec, name: string, ids: unknown, shape: readonly number[]): Int32Array {
  const V = spec.embedding!.numEmbeddings;
  if (!(ids instanceof Int32Array)) throw new WebRnnError('invalid-option', `${name}: the model reads token ids: an Int32Array of shape [${shape.join(', ')}] expected, got ${Object.prototype.toString.call(ids)}`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (ids.length !== n) throw new ShapeError(name, shape, [ids.length]);
  for (let i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= V) throw new WebRnnError('invalid-option', `${name}: element ${i} is id ${ids[i]}; ids in [0, ${V}) expected`);
  }
  return ids;
}

/**
 * Each sequence's length under maskZero: the steps before its trailing zeros (at least 1, so a
 * sequence of zeros only runs one step, as a masked-out row would produce nothing). A zero
 * before a non-zero id is padding that is not at the end: refused.
 *
 * @param ids sequence-major [T, B]
 */
export function lengthsFromIds(ids: Int32Array, B: number, T: number): Float32Array {
  const lens = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    let n = T;
    while (n > 0 && ids[(n - 1) * B + b] === 0) n--;
    for (let t = 0; t < n; t++) {
      if (ids[t * B + b] === 0) throw new WebRnnError('invalid-option', `maskZero: sequence ${b} has id 0 at step ${t} before a later id; padding is taken only at the end of a sequence`);
    }
    lens[b] = Math.max(1, n);
  }
  return lens;
}

/**
 * The rows of the embedding's gradient that `ids` [N] touch, for the embedding-backward
 * kernels: `slot` [V] gives row v's place u among them (0xffffffff for rows not read, and for
 * the padding row, whose gradient is zero), `starts` [U + 1] and `order` [N] list the
 * positions reading each of them: positions order[starts[u]] … order[starts[u + 1] − 1], in
 * increasing position.
 */
export function embeddingRows(ids: ArrayLike<number>, V: number, paddingIdx: number | null): { slot: Uint32Array; starts: Uint32Array; order: Uint32Array } {
  const N = ids.length;
  const counts = new Uint32Array(V);
  for (let i = 0; i < N; i++) if (ids[i] !== paddingIdx) counts[ids[i]]++;
  const slot = new Uint32Array(V).fill(0xffffffff);
  const starts = new Uint32Array(N + 1);
  let u = 0;
  let at = 0;
  for (let v = 0; v < V; v++) {
    if (counts[v] === 0) continue;
    slot[v] = u;
    starts[u] = at;
    at += counts[v];
    u++;
  }
  starts.fill(at, u);
  const order = new Uint32Array(N);
  const next = new Uint32Array(u);
  for (let i = 0; i < N; i++) {
    const v = ids[i];
    if (v === paddingIdx) continue;
    const s = slot[v];
    order[starts[s] + next[s]++] = i;
  }
  return { slot, starts, order };
}

/** u32 words of the rows buffer for V ids and N positions: slot [V], starts [N + 1], order [N]. */
export function embeddingRowsWords(V: number, N: number): { startsAt: number; orderAt: number; words: number } {
  return { startsAt: V, orderAt: V + N + 1, words: V + 2 * N + 1 };
}
