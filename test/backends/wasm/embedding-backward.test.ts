import { describe, it } from 'vitest';
import { embeddingRows } from '../../../src/spec/embedding.js';
import { embeddingBackwardReference } from '../../../src/reference/embedding-backward.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runKernel, runShares, useTestRuntimes } from './harness.js';

const { rng, seed } = testRandom('wasm embedding-backward');
const runtimes = useTestRuntimes();

describe('wasm embedding-backward', () => {
  it('matches the float64 reference through programs and any split over threads, padding row and unread rows zero', () => {
    for (const rt of runtimes) {
      for (const [V, I, N, pad] of [[1, 1, 1, null], [53, 5, 17, null], [9, 7, 301, 0], [257, 33, 129, 4]] as const) {
        const ids = Int32Array.from({ length: N }, () => Math.floor(rng.uniform() * V));
        if (pad !== null) ids[N >> 1] = pad;
        const dx = randomFloats(rng, N * I);
        const ref = embeddingBackwardReference(dx, ids, V, I, pad);
        const { slot, starts, order } = embeddingRows(ids, V, pad);
        const label = `${describeRuntime(rt)} V=${V} I=${I} N=${N} pad=${pad} (seed ${seed})`;
        const arena = new Arena(rt);
        try {
          const args = { slot: arena.tensor(new Int32Array(slot.buffer), true), starts: arena.tensor(new Int32Array(starts.buffer), true), order: arena.tensor(new Int32Array(order.buffer), true), dx: arena.tensor(dx), numEmbeddings: V, features: I };
          const dE = arena.tensor(V * I);
          runKernel(arena, 'embeddingBackward', { ...args, dE });
          expectClose(`${label} program`, arena.read(dE, V * I), ref);
          const dE3 = arena.tensor(V * I);
          runShares(arena, 'embeddingBackward', { ...args, dE: dE3 }, 3);
          expectClose(`${label} 3 shares`, arena.read(dE3, V * I), ref);
        } finally {
          arena.release();
        }
      }
    }
  });
});
