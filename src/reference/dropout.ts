/**
 * float64 reference of the dropout kernel: y = x ⊙ mask, the masks src/spec/dropout.ts defines.
 */
import { dropoutKept, dropoutThreshold } from '../spec/dropout.js';

export { dropoutKeys, dropoutThreshold } from '../spec/dropout.js';

/** The multipliers of a mask of n elements: 1/(1 − p) where kept, 0 where dropped. */
export function dropoutMask(n: number, p: number, keys: readonly [number, number]): Float64Array {
  const threshold = dropoutThreshold(p);
  const scale = 1 / (1 - p);
  const m = new Float64Array(n);
  for (let i = 0; i < n; i++) m[i] = dropoutKept(i, keys[0], keys[1], threshold) ? scale : 0;
  return m;
}

/** What the kernel computes: y = x ⊙ mask (its backward is the same product with the gradient). */
export function dropoutReference(x: ArrayLike<number>, p: number, keys: readonly [number, number]): Float64Array {
  const m = dropoutMask(x.length, p, keys);
  return Float64Array.from(x, (v, i) => v * m[i]);
}
