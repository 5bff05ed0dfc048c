import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { createMseLoss } from '../../src/kernels/mse-loss.js';
import { mseLossReference } from '../../src/reference/mse-loss.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { checkLossKernel } from './loss-harness.js';

const { rng, seed } = testRandom('mse-loss');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createMseLoss(ctx);
});
afterAll(() => ctx?.destroy());

describe('mse-loss against the float64 reference', () => {
  for (const [rows, outputs] of [
    [1, 1],
    [7, 3],
    [65, 5],
    [130, 1],
  ]) {
    it(`rows=${rows} outputs=${outputs}`, async () => {
      await checkLossKernel(ctx, kernel, mseLossReference, rng, rows, outputs, randomFloats(rng, rows * outputs, -2, 2), false, `mse rows=${rows} (seed ${seed})`);
    });
  }
});
