/**
 * Comparison of a GPU result with its float64 reference: |gpu − ref| ≤ atol + rtol·|ref|
 * (DESIGN.md: atol 1e-5, rtol 1e-4). A failure names the tensor, the index and the first
 * few mismatches.
 */
import { expect } from 'vitest';

export const ATOL = 1e-5;
export const RTOL = 1e-4;

export function mismatches(gpu: ArrayLike<number>, ref: ArrayLike<number>, atol = ATOL, rtol = RTOL): string[] {
  const out: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const g = gpu[i];
    const r = ref[i];
    const ok = Number.isFinite(g) && Math.abs(g - r) <= atol + rtol * Math.abs(r);
    if (!ok) out.push(`[${i}] gpu ${g} ref ${r} (diff ${Math.abs(g - r).toExponential(2)})`);
  }
  return out;
}

/** Assert that `gpu` matches `ref` element-wise within tolerance, lengths included. */
export function expectClose(tensor: string, gpu: ArrayLike<number>, ref: ArrayLike<number>, atol = ATOL, rtol = RTOL): void {
  expect(gpu.length, `${tensor}: length`).toBe(ref.length);
  const bad = mismatches(gpu, ref, atol, rtol);
  expect(bad.length, `${tensor}: ${bad.length} of ${ref.length} elements differ; first: ${bad.slice(0, 5).join('; ')}`).toBe(0);
}
