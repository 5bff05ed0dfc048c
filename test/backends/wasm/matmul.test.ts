import { describe, expect, it } from 'vitest';
import { matmulReference } from '../../../src/reference/matmul.js';
import { packPanelsReference } from '../../../src/reference/pack-panels.js';
import { resolveMatmulShape } from '../../../src/kernels/matmul.js';
import type { WasmRuntime } from '../../../src/backends/wasm/runtime.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runKernel, runShares, useTestRuntimes } from './harness.js';

const { rng } = testRandom('wasm matmul');
const runtimes = useTestRuntimes();

interface Case {
  M: number;
  N: number;
  K: number;
  /** A stored [K, M] (the weight gradients' dGᵀ) instead of [M, K]. */
  transA?: boolean;
  bias?: boolean;
  accumulate?: boolean;
  /** Extra floats at the end of each row of B and C. */
  padB?: number;
  padC?: number;
  /** B given as pack-panels' panels (of Bᵀ) instead of row-major. */
  packed?: boolean;
}

/**
 * C = A·B (+ bias) (+ C) on fresh random operands against the float64 reference (the GPU's
 * matmul reference with B stored [K, N]); C starts poisoned, or random when accumulating, and
 * its row padding must survive.
 */
function check(rt: WasmRuntime, c: Case, via: 'program' | 'shares3'): void {
  const { M, N, K } = c;
  const ldb = N + (c.padB ?? 0);
  const ldc = N + (c.padC ?? 0);
  const a = randomFloats(rng, M * K);
  const b = randomFloats(rng, K * ldb);
  const bias = randomFloats(rng, N);
  const c0 = c.accumulate ? randomFloats(rng, M * ldc) : new Float32Array(M * ldc).fill(NaN);
  const arena = new Arena(rt);
  try {
    const pc = arena.tensor(c0);
    // Packed: the panels of Bᵀ [N, K] (pack-panels' reference makes them).
    const bT = Array.from({ length: N * K }, (_, i) => b[(i % K) * ldb + Math.floor(i / K)]);
    const args = {
      c: pc, ldc, a: arena.tensor(a), sam: c.transA ? 1 : K, sak: c.transA ? M : 1, b: arena.tensor(c.packed ? packPanelsReference(bT, K, N, K) : b), ldb, packed: c.packed ? 1 : 0,
      bias: c.bias ? arena.tensor(bias) : 0, M, N, K, accumulate: c.accumulate ? 1 : 0,
    };
    if (via === 'program') runKernel(arena, 'matmul', args);
    else runShares(arena, 'matmul', args, 3);
    const got = arena.read(pc, M * ldc);
    const shape = resolveMatmulShape({ M, N, K, transA: c.transA, transB: true, lda: c.transA ? M : K, ldb, ldc, hasBias: c.bias, accumulate: c.accumulate });
    const ref = matmulReference(shape, a, b, bias, Float64Array.from(c0));
    const inside = (x: ArrayLike<number>): number[] => Array.from({ length: M * N }, (_, i) => x[Math.floor(i / N) * ldc + (i % N)]);
    expectClose('C', inside(got), inside(ref));
    // Row padding untouched (NaN where poisoned: compare bits).
    for (let m = 0; m < M; m++) for (let n = N; n < ldc; n++) expect(Object.is(got[m * ldc + n], c0[m * ldc + n]) || (Number.isNaN(got[m * ldc + n]) && Number.isNaN(c0[m * ldc + n]))).toBe(true);
  } finally {
    arena.release();
  }
}

const CASES: Case[] = [
  { M: 1, N: 1, K: 1 },
  { M: 7, N: 13, K: 5 },
  { M: 5, N: 37, K: 29, bias: true },
  { M: 33, N: 17, K: 41, accumulate: true },
  { M: 9, N: 45, K: 23, transA: true },
  { M: 19, N: 11, K: 67, transA: true, bias: true, accumulate: true, padB: 3, padC: 5 },
  { M: 4, N: 8, K: 3 },
  { M: 65, N: 70, K: 31, bias: true, padC: 2 },
  { M: 5, N: 13, K: 9, packed: true },
  { M: 70, N: 37, K: 21, packed: true, bias: true, accumulate: true, padC: 3 },
  { M: 3, N: 8, K: 2, packed: true, transA: true },
  { M: 131, N: 5, K: 17, packed: true, bias: true },
  // Deeper than a block of K (256): later blocks add to C, the bias once.
  { M: 9, N: 37, K: 600, packed: true, bias: true, accumulate: true },
  { M: 6, N: 19, K: 530, transA: true, bias: true, padB: 1 },
  { M: 1, N: 70, K: 513, packed: true, bias: true },
];

describe('wasm matmul', () => {
  it('matches the float64 reference on odd shapes, B row-major or packed, on every runtime, and as three threads in turn', () => {
    for (const rt of runtimes) {
      for (const c of CASES) {
        for (const via of ['program', 'shares3'] as const) {
          try {
            check(rt, c, via);
          } catch (e) {
            throw new Error(`${describeRuntime(rt)}, ${via}, ${JSON.stringify(c)}: ${(e as Error).message}`);
          }
        }
      }
    }
  });

  it('sums the rows of B where A is one 1 read with strides 0 (the bias gradients)', () => {
    for (const rt of runtimes) {
      const K = 23;
      const N = 19;
      const b = randomFloats(rng, K * N);
      const arena = new Arena(rt);
      try {
        const pc = arena.tensor(N);
        runKernel(arena, 'matmul', { c: pc, ldc: N, a: arena.tensor([1]), sam: 0, sak: 0, b: arena.tensor(b), ldb: N, packed: 0, bias: 0, M: 1, N, K, accumulate: 0 });
        const ref = matmulReference(resolveMatmulShape({ M: 1, N, K, transB: true, ldb: N }), new Float32Array(K).fill(1), b, null, new Float64Array(N));
        expectClose('column sums', arena.read(pc, N), ref);
      } finally {
        arena.release();
      }
    }
  });
});
