/**
 * Checks and layouts of the Float32Arrays that cross the public API: counts, lengths, shapes,
 * finite values, and the swaps between batch-major and sequence-major order.
 */
import { NonFiniteError, ShapeError, WebRnnError } from './errors.js';

/** Throw unless `n` is a positive integer; `name` is the option's name. */
export function checkCount(name: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new WebRnnError('invalid-option', `forward: ${name} must be a positive integer, got ${String(n)}`);
  }
  return n;
}

/** Validate sequence lengths: B integers in [1, T]. */
export function checkLengths(v: ArrayLike<number>, B: number, T: number): Float32Array {
  if (v === null || typeof v !== 'object' || typeof v.length !== 'number') throw new WebRnnError('invalid-option', `seqLens: an array of ${B} lengths expected`);
  if (v.length !== B) throw new ShapeError('seqLens', [B], [v.length]);
  const out = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    const L = v[b];
    if (!Number.isInteger(L) || L < 1 || L > T) throw new WebRnnError('invalid-option', `seqLens: element ${b} is ${L}; lengths in [1, ${T}] expected`);
    out[b] = L;
  }
  return out;
}

/** Throw unless `v` is a Float32Array with as many elements as `shape`. */
export function checkTensor(name: string, v: unknown, shape: readonly number[]): void {
  if (!(v instanceof Float32Array)) {
    throw new WebRnnError('invalid-option', `${name}: Float32Array of shape [${shape.join(', ')}] expected, got ${Object.prototype.toString.call(v)}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (v.length !== n) throw new ShapeError(name, shape, [v.length]);
}

/** Throw unless `v` is an input of `shape`: a Float32Array, or with `ids` an Int32Array of token ids (their range is checked where they are used). */
export function checkInput(name: string, v: unknown, shape: readonly number[], ids: boolean): void {
  if (!ids) return checkTensor(name, v, shape);
  if (!(v instanceof Int32Array)) throw new WebRnnError('invalid-option', `${name}: the model reads token ids: an Int32Array of shape [${shape.join(', ')}] expected, got ${Object.prototype.toString.call(v)}`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (v.length !== n) throw new ShapeError(name, shape, [v.length]);
}

/** Throw the first non-finite element of `data`, naming `tensor`. */
export function checkFinite(tensor: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new NonFiniteError(tensor, i, data[i]);
  }
}

/** Reorder [B, T, F] to [T, B, F] (or [T, B, F] to [B, T, F] with `inverse`) into `out`. */
export function swapBatchTime<A extends Float32Array | Float64Array | Int32Array>(
  x: ArrayLike<number>,
  B: number,
  T: number,
  F: number,
  inverse: boolean,
  out: A,
): A {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const bt = (b * T + t) * F;
      const tb = (t * B + b) * F;
      for (let f = 0; f < F; f++) {
        if (inverse) out[bt + f] = x[tb + f];
        else out[tb + f] = x[bt + f];
      }
    }
  }
  return out;
}

/**
 * The last layer's final states as one row per sequence: hN [L·D, B, H] (index l·D + d) →
 * [B, D·H], directions concatenated, forward first (what a model with returnSequences false
 * outputs before its read-out).
 */
export function finalStates<A extends Float32Array | Float64Array>(hN: ArrayLike<number>, L: number, D: number, B: number, H: number, out: A): A {
  for (let d = 0; d < D; d++) {
    const from = ((L - 1) * D + d) * B * H;
    for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out[(b * D + d) * H + j] = hN[from + b * H + j];
  }
  return out;
}

/**
 * Steps [t0, t1) of sequences `bs` (in that order) from `a`, a [T, B, f] tensor ([B, T, f] when
 * batchFirst), in the same layout: [t1 − t0, bs.length, f] ([bs.length, t1 − t0, f]).
 */
export function gatherSequences<A extends Float32Array | Int32Array>(a: A, f: number, T: number, B: number, batchFirst: boolean, t0: number, t1: number, bs: readonly number[]): A {
  const n = bs.length;
  const out = new (a.constructor as new (n: number) => A)(n * (t1 - t0) * f);
  bs.forEach((b, q) => {
    for (let t = t0; t < t1; t++) {
      const from = (batchFirst ? b * T + t : t * B + b) * f;
      const to = (batchFirst ? q * (t1 - t0) + (t - t0) : (t - t0) * n + q) * f;
      out.set(a.subarray(from, from + f) as ArrayLike<number>, to);
    }
  });
  return out;
}

/**
 * `a` [T, B, F] (sequence-major) with each row's first L_b steps in reverse order and its
 * padding after them left in place: out[t, b] = a[L_b − 1 − t, b] for t < L_b. Its own inverse.
 */
export function reverseSteps<A extends Float32Array | Int32Array>(a: A, B: number, T: number, F: number, lengths: ArrayLike<number> | null): A {
  const out = a.slice() as A;
  for (let b = 0; b < B; b++) {
    const L = lengths ? lengths[b] : T;
    for (let t = 0; t < L; t++) out.set(a.subarray(((L - 1 - t) * B + b) * F, ((L - 1 - t) * B + b + 1) * F) as ArrayLike<number>, (t * B + b) * F);
  }
  return out;
}
