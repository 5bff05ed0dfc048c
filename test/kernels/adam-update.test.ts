import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { createAdamUpdate } from '../../src/kernels/adam-update.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { adamUpdateReference, type AdamHyper } from '../../src/reference/adam-update.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { checkOptimizer } from './optimizer-harness.js';

const { rng, seed } = testRandom('adam-update');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createAdamUpdate(ctx);
});
afterAll(() => ctx?.destroy());

const CASES: Array<[string, AdamHyper]> = [
  ['adam', { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, clipValue: 0 }],
  ['adam, L2 weight decay', { lr: 0.003, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: false, clipValue: 0 }],
  ['adamw', { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, decoupled: true, clipValue: 0 }],
  ['clip by value', { lr: 0.02, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, decoupled: false, clipValue: 0.25 }],
];

describe('adam-update against the float64 reference', () => {
  for (const [name, h] of CASES) {
    for (const n of [1, 67, 4099]) {
      it(`${name}, ${n} elements`, async () => {
        await checkOptimizer(
          ctx,
          kernel,
          randomFloats(rng, n),
          Array.from({ length: 4 }, () => randomFloats(rng, n, -2, 2)),
          [1, 0.5, 1, 0.9],
          ['m1', 'm2'],
          (t) => ({
            count: n,
            lr: h.lr,
            beta1: h.beta1,
            beta2: h.beta2,
            eps: h.eps,
            weightDecay: h.weightDecay,
            decoupled: h.decoupled ? 1 : 0,
            correction1: 1 - h.beta1 ** t,
            correction2: 1 - h.beta2 ** t,
            clipValue: h.clipValue,
          }),
          (t, scale, param, grad, [m1, m2]) => adamUpdateReference(h, t, scale, param, grad, m1, m2),
          `${name} n=${n} (seed ${seed})`,
        );
      });
    }
  }
});
