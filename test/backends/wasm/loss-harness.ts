/** The wasm loss kernels on random rows against their float64 references (shared by the MSE and cross-entropy tests). */
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import type { Random } from '../../../src/spec/random.js';
import type { WasmRuntime } from '../../../src/backends/wasm/runtime.js';
import { Arena, runKernel, runShares } from './harness.js';

export function checkLoss(rt: WasmRuntime, rng: Random, kind: 'mse' | 'ce', R: number, O: number, via: 'program' | 'shares3', reference: (s: { y: Float32Array; target: Float32Array; mask: Float32Array; scale: number }) => { lossRows: Float64Array; dY: Float64Array }): void {
  const y = randomFloats(rng, R * O, -3, 3);
  const target = kind === 'ce' ? Float32Array.from({ length: R }, () => Math.floor(rng.range(0, O))) : randomFloats(rng, R * O);
  // Row weights, some zero.
  const mask = Float32Array.from({ length: R }, (_, r) => (r % 3 === 1 ? 0 : rng.range(0.2, 2)));
  const scale = 1 / (mask.reduce((a, b) => a + b, 0) * (kind === 'ce' ? 1 : O));
  const arena = new Arena(rt);
  try {
    const lossRows = arena.tensor(R);
    const dY = arena.tensor(R * O);
    const common = { y: arena.tensor(y), target: arena.tensor(target), mask: arena.tensor(mask), lossRows, dY, R, scale };
    if (kind === 'ce') {
      const args = { ...common, C: O };
      if (via === 'program') runKernel(arena, 'crossEntropyLoss', args);
      else runShares(arena, 'crossEntropyLoss', args, 3);
    } else {
      const args = { ...common, O };
      if (via === 'program') runKernel(arena, 'mseLoss', args);
      else runShares(arena, 'mseLoss', args, 3);
    }
    const ref = reference({ y, target, mask, scale });
    expectClose('lossRows', arena.read(lossRows, R), ref.lossRows);
    expectClose('dY', arena.read(dY, R * O), ref.dY);
  } finally {
    arena.release();
  }
}

export const LOSS_SHAPES: Array<[number, number]> = [[1, 1], [5, 3], [17, 11], [40, 7]];
