import { describe, expect, it } from 'vitest';
import { dropoutKeys, dropoutReference } from '../../../src/reference/dropout.js';
import { dropoutUniform } from '../../../src/spec/dropout.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runKernel, runShares, useTestRuntimes } from './harness.js';

const { rng, seed } = testRandom('wasm dropout');
const runtimes = useTestRuntimes();

describe('wasm dropout', () => {
  it('matches the float64 reference, into another tensor and in place, through programs and any split over threads', () => {
    for (const rt of runtimes) {
      for (const [n, p] of [[1, 0.5], [7, 0.1], [1001, 0.5], [4099, 0.9], [33, 0]] as const) {
        const keys = dropoutKeys(Math.floor(rng.uniform() * 2 ** 32), Math.floor(rng.uniform() * 100), Math.floor(rng.uniform() * 3));
        const x = randomFloats(rng, n, -3, 3);
        x[n >> 1] = NaN;
        const ref = dropoutReference(x, p, keys);
        const args = dropoutUniform(n, p, keys);
        const label = `${describeRuntime(rt)} n=${n} p=${p} (seed ${seed})`;
        const compare = (got: Float32Array, how: string): void => {
          expect(Number.isNaN(got[n >> 1]), `${label} ${how}: NaN stays NaN`).toBe(true);
          expectClose(`${label} ${how}`, got.filter((_, i) => i !== n >> 1), ref.filter((_, i) => i !== n >> 1));
        };
        const arena = new Arena(rt);
        try {
          const xp = arena.tensor(x);
          const y = arena.tensor(n);
          runKernel(arena, 'dropout', { x: xp, y, ...args });
          compare(arena.read(y, n), 'program');
          runKernel(arena, 'dropout', { x: xp, y: xp, ...args });
          compare(arena.read(xp, n), 'in place');
          for (const threads of [2, 3]) {
            const z = arena.tensor(n);
            runShares(arena, 'dropout', { x: arena.tensor(x), y: z, ...args }, threads);
            compare(arena.read(z, n), `${threads} shares`);
          }
        } finally {
          arena.release();
        }
      }
    }
  });
});
