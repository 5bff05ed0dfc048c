import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { createSgdUpdate } from '../../src/kernels/sgd-update.js';
import { sgdUpdateReference, type SgdHyper } from '../../src/reference/sgd-update.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { checkOptimizer } from './optimizer-harness.js';

const { rng, seed } = testRandom('sgd-update');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createSgdUpdate(ctx);
});
afterAll(() => ctx?.destroy());

const CASES: Array<[string, SgdHyper]> = [
  ['plain', { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false, clipValue: 0 }],
  ['momentum', { lr: 0.05, momentum: 0.9, weightDecay: 0, nesterov: false, clipValue: 0 }],
  ['nesterov, weight decay', { lr: 0.05, momentum: 0.8, weightDecay: 0.01, nesterov: true, clipValue: 0 }],
  ['clip by value', { lr: 0.2, momentum: 0.5, weightDecay: 0, nesterov: false, clipValue: 0.3 }],
];

describe('sgd-update against the float64 reference', () => {
  for (const [name, h] of CASES) {
    for (const n of [1, 67, 4099]) {
      it(`${name}, ${n} elements`, async () => {
        const steps = 3;
        await checkOptimizer(
          ctx,
          kernel,
          randomFloats(rng, n),
          Array.from({ length: steps }, () => randomFloats(rng, n, -2, 2)),
          [1, 0.37, 1],
          ['velocity'],
          (t) => ({ count: n, lr: h.lr, momentum: h.momentum, weightDecay: h.weightDecay, nesterov: h.nesterov ? 1 : 0, clipValue: h.clipValue, first: t === 1 ? 1 : 0 }),
          (t, scale, param, grad, [velocity]) => sgdUpdateReference(h, t === 1, scale, param, grad, velocity),
          `sgd ${name} n=${n} (seed ${seed})`,
        );
      });
    }
  }
});
