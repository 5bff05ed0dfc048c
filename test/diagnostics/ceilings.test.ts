/**
 * engine.measureCeilings: the shape and sense of what it reports (the speeds themselves are
 * the benchmark's business), at sizes small enough for a test, and its refusal after destroy.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine.js';
import { gpuEngine } from '../helpers/engines.js';

describe('measureCeilings', () => {
  it('reports a GEMM rate per size, dispatch and submit costs and copy bandwidth, and gives its buffers back', async () => {
    const engine = await gpuEngine();
    try {
      const before = engine.memory;
      const c = await engine.measureCeilings({ gemmSizes: [33, 64], runs: 1, copyBytes: 1 << 16, tiles: { wgX: 8, wgY: 8, tileK: 8 } });
      if (c.backend !== 'webgpu') throw new Error(`a WebGPU engine gave ${c.backend} ceilings`);
      expect(c.gemm.map((g) => g.n)).toEqual([33, 64]);
      for (const g of c.gemm) {
        expect(g.ms).toBeGreaterThan(0);
        // The rate is the flops over the time, 2n³ / (ms · 1e6).
        expect(g.gflops).toBeCloseTo((2 * g.n ** 3) / (g.ms * 1e6), 10);
      }
      expect(c.dispatchMs).toBeGreaterThanOrEqual(0);
      expect(c.submitReadbackMs).toBeGreaterThan(0);
      expect(c.copyGBps).toBeGreaterThan(0);
      expect(engine.memory).toEqual(before);
    } finally {
      engine.destroy();
    }
    expect(() => engine.measureCeilings()).toThrow(/destroyed/);
  });
});
