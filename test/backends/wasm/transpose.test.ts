import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transposeReference } from '../../../src/reference/transpose.js';
import type { WasmRuntime } from '../../../src/backends/wasm/runtime.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runKernel, runShares, testRuntimes } from './harness.js';

const { rng } = testRandom('wasm transpose');
let runtimes: WasmRuntime[] = [];
beforeAll(async () => {
  runtimes = await testRuntimes();
});
afterAll(() => runtimes.forEach((r) => r.destroy()));

describe('wasm transpose', () => {
  it('matches the reference exactly on odd shapes with row padding, leaving the padding alone', () => {
    for (const rt of runtimes) {
      for (const [M, N, padS, padD] of [[1, 1, 0, 0], [3, 7, 2, 1], [17, 5, 0, 3], [33, 29, 1, 0], [4, 9, 0, 0]]) {
        for (const via of ['program', 'shares3'] as const) {
          const lds = N + padS;
          const ldd = M + padD;
          const src = randomFloats(rng, M * lds);
          const arena = new Arena(rt);
          try {
            const dst = arena.tensor(N * ldd);
            const args = { dst, ldd, src: arena.tensor(src), lds, M, N };
            if (via === 'program') runKernel(arena, 'transpose', args);
            else runShares(arena, 'transpose', args, 3);
            const ref = transposeReference(src, lds, M, N, new Float64Array(N * ldd).fill(NaN), ldd);
            expect(Array.from(arena.read(dst, N * ldd)), `${describeRuntime(rt)} ${via} ${M}x${N}`).toEqual(Array.from(ref, (v) => (Number.isNaN(v) ? NaN : Math.fround(v))));
          } finally {
            arena.release();
          }
        }
      }
    }
  });
});
