import { describe, it } from 'vitest';
import { adamUpdateReference } from '../../../src/reference/adam-update.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { checkUpdate, UPDATE_CASES } from './optimizer-harness.js';

const { rng } = testRandom('wasm adam-update');
const runtimes = useTestRuntimes();

const HYPERS = [
  { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
  { lr: 0.003, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.02, decoupled: false },
  { lr: 0.005, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true },
];

describe('wasm adam-update', () => {
  it('matches the float64 reference over three steps: Adam, AdamW, both clippings', () => {
    for (const rt of runtimes) {
      for (const h of HYPERS) {
        for (const c of UPDATE_CASES) {
          try {
            checkUpdate(
              rt, rng, c, 'adamUpdate',
              (step, p) => ({ p: p.p, grad: p.grad, m1: p.s1, m2: p.s2, n: c.n, partials: p.partials, count: p.count, maxNorm: c.maxNorm, lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay, decoupled: h.decoupled ? 1 : 0, clipValue: c.clipValue, c1: 1 - h.beta1 ** step, c2: 1 - h.beta2 ** step }),
              (step, scale, param, grad, s1, s2) => adamUpdateReference({ ...h, clipValue: c.clipValue }, step, scale, param, grad, s1, s2),
            );
          } catch (e) {
            throw new Error(`${describeRuntime(rt)} ${JSON.stringify(h)} ${JSON.stringify(c)}: ${(e as Error).message}`);
          }
        }
      }
    }
  });
});
