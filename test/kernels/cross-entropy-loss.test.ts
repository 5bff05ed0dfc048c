import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { createCrossEntropyLoss } from '../../src/kernels/cross-entropy-loss.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { crossEntropyLossReference } from '../../src/reference/cross-entropy-loss.js';
import { testRandom } from '../helpers/seed.js';
import { checkLossKernel } from './loss-harness.js';

const { rng, seed } = testRandom('cross-entropy-loss');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createCrossEntropyLoss(ctx);
});
afterAll(() => ctx?.destroy());

describe('cross-entropy-loss against the float64 reference', () => {
  for (const [rows, classes] of [
    [1, 2],
    [7, 3],
    [65, 11],
    [130, 5],
  ]) {
    it(`rows=${rows} classes=${classes}`, async () => {
      const target = Float32Array.from({ length: rows }, () => Math.floor(rng.uniform() * classes));
      await checkLossKernel(ctx, kernel, (s) => crossEntropyLossReference({ ...s, classes: s.outputs }), rng, rows, classes, target, true, `cross-entropy rows=${rows} (seed ${seed})`);
    });
  }
});
