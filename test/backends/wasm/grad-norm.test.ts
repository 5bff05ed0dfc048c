import { describe, expect, it } from 'vitest';
import { gradNormReference } from '../../../src/reference/grad-norm.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runShares, useTestRuntimes } from './harness.js';

const { rng } = testRandom('wasm grad-norm');
const runtimes = useTestRuntimes();

describe('wasm grad-norm', () => {
  it('its parts sum to the squared norm of the reference, for any split over threads', () => {
    for (const rt of runtimes) {
      for (const n of [1, 3, 7, 64, 1001]) {
        for (const threads of [1, 2, 3]) {
          const g = randomFloats(rng, n, -2, 2);
          const arena = new Arena(rt);
          try {
            const partials = arena.tensor(2 * threads);
            runShares(arena, 'gradNorm', { g: arena.tensor(g), n, partials }, threads);
            const parts = new Float64Array(rt.heap.buffer, partials, threads);
            const norm = Math.sqrt(parts.reduce((a, b) => a + b, 0));
            const ref = gradNormReference([g], 0).norm;
            expect(Math.abs(norm - ref), `${describeRuntime(rt)} n=${n} threads=${threads}`).toBeLessThanOrEqual(1e-6 * ref + 1e-7);
          } finally {
            arena.release();
          }
        }
      }
    }
  });
});
