import { describe, expect, it } from 'vitest';
import { simdPeakReference } from '../../../src/reference/simd-peak.js';
import { measureWasmCeilings } from '../../../src/backends/wasm/ceilings.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';
import { Arena, describeRuntime, runKernel, useTestRuntimes } from './harness.js';

const { rng } = testRandom('wasm simd-peak');
const runtimes = useTestRuntimes();

describe('wasm simd-peak', () => {
  it("computes what its float64 reference does, on every thread (so the loop's work is real)", () => {
    for (const rt of runtimes) {
      const seeds = randomFloats(rng, 64);
      const arena = new Arena(rt);
      try {
        const out = arena.tensor(4 * rt.threads);
        runKernel(arena, 'simdPeak', { seeds: arena.tensor(seeds), m: 0.97, c: 0.02, n: 37, out });
        const ref = simdPeakReference(seeds, 0.97, 0.02, 37);
        for (let t = 0; t < rt.threads; t++) expectClose(`${describeRuntime(rt)} thread ${t}`, arena.read(out + 16 * t, 4), ref);
      } finally {
        arena.release();
      }
    }
  });

  it('the ceilings: a peak per thread count and the GEMM rate at a size, its share of the peak', () => {
    const rt = runtimes[runtimes.length - 1];
    const c = measureWasmCeilings(rt, { gemmSizes: [64], runs: 1 });
    expect(c.peak.map((p) => p.threads)).toEqual(rt.threads > 1 ? [1, rt.threads] : [1]);
    for (const p of c.peak) expect(p.gflops).toBeGreaterThan(0);
    expect(c.gemm).toHaveLength(1);
    expect(c.gemm[0].n).toBe(64);
    expect(c.gemm[0].shareOfPeak).toBeCloseTo(c.gemm[0].gflops / c.peak[c.peak.length - 1].gflops, 10);
    expect(rt.heap.stats.blocks).toBe(1); // the pool's control words only: everything else released
  });
});
