import { describe, it } from 'vitest';
import { embeddingForwardReference } from '../../../src/reference/embedding-forward.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runKernel, runShares, useTestRuntimes } from './harness.js';

const { rng, seed } = testRandom('wasm embedding-forward');
const runtimes = useTestRuntimes();

describe('wasm embedding-forward', () => {
  it('matches the float64 reference through programs and any split over threads', () => {
    for (const rt of runtimes) {
      for (const [V, I, N] of [[1, 1, 1], [37, 5, 23], [1001, 67, 301]]) {
        const weight = randomFloats(rng, V * I);
        const ids = Int32Array.from({ length: N }, () => Math.floor(rng.uniform() * V));
        const ref = embeddingForwardReference(weight, ids, I);
        const label = `${describeRuntime(rt)} V=${V} I=${I} N=${N} (seed ${seed})`;
        const arena = new Arena(rt);
        try {
          const args = { ids: arena.tensor(ids, true), weight: arena.tensor(weight), rows: N, features: I };
          const x = arena.tensor(N * I);
          runKernel(arena, 'embeddingForward', { ...args, x });
          expectClose(`${label} program`, arena.read(x, N * I), ref);
          const y = arena.tensor(N * I);
          runShares(arena, 'embeddingForward', { ...args, x: y }, 3);
          expectClose(`${label} 3 shares`, arena.read(y, N * I), ref);
        } finally {
          arena.release();
        }
      }
    }
  });
});
