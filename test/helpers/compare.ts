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

/**
 * Assert that ‖gpu − ref‖₂ ≤ 1e-4·‖ref‖₂ + 1e-6: for gradients, sums over many steps and rows
 * whose elements near zero come from cancellation, where an element-wise bound would not hold.
 */
export function expectRelativeL2(name: string, gpu: ArrayLike<number>, ref: ArrayLike<number>): void {
  expect(gpu.length, `${name}: length`).toBe(ref.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    diff += (gpu[i] - ref[i]) ** 2;
    norm += ref[i] ** 2;
  }
  const bound = 1e-4 * Math.sqrt(norm) + 1e-6;
  expect(Math.sqrt(diff), `${name}: ‖gpu − ref‖₂ = ${Math.sqrt(diff).toExponential(3)}, ‖ref‖₂ = ${Math.sqrt(norm).toExponential(3)}`).toBeLessThanOrEqual(bound);
}
