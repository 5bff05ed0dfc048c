import { describe, expect, it } from 'vitest';
import { packPanelsReference } from '../../../src/reference/pack-panels.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runKernel, runShares, useTestRuntimes } from './harness.js';

const { rng } = testRandom('wasm pack-panels');
const runtimes = useTestRuntimes();

describe('wasm pack-panels', () => {
  it('matches the reference exactly on odd shapes and row strides, zero-padding the last panel', () => {
    for (const rt of runtimes) {
      for (const [N, K, pad] of [[1, 1, 0], [3, 7, 2], [8, 5, 0], [17, 9, 3], [37, 29, 1], [64, 3, 0]]) {
        for (const via of ['program', 'shares3'] as const) {
          const ldw = K + pad;
          const w = randomFloats(rng, N * ldw);
          const ref = packPanelsReference(w, ldw, N, K);
          const arena = new Arena(rt);
          try {
            const dst = arena.tensor(ref.length);
            const args = { dst, w: arena.tensor(w), ldw, N, K };
            if (via === 'program') runKernel(arena, 'packPanels', args);
            else runShares(arena, 'packPanels', args, 3);
            expect(Array.from(arena.read(dst, ref.length)), `${describeRuntime(rt)} ${via} N=${N} K=${K}`).toEqual(Array.from(ref, Math.fround));
          } finally {
            arena.release();
          }
        }
      }
    }
  });
});
