import { describe, it } from 'vitest';
import { sgdUpdateReference } from '../../../src/reference/sgd-update.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { checkUpdate, UPDATE_CASES } from './optimizer-harness.js';

const { rng } = testRandom('wasm sgd-update');
const runtimes = useTestRuntimes();

const HYPERS = [
  { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: false },
  { lr: 0.02, momentum: 0.8, weightDecay: 0.003, nesterov: true },
];

describe('wasm sgd-update', () => {
  it('matches the float64 reference over three steps: momentum, Nesterov, weight decay, both clippings', () => {
    for (const rt of runtimes) {
      for (const h of HYPERS) {
        for (const c of UPDATE_CASES) {
          try {
            checkUpdate(
              rt, rng, c, 'sgdUpdate',
              (step, p) => ({ p: p.p, grad: p.grad, v: p.s1, n: c.n, partials: p.partials, count: p.count, maxNorm: c.maxNorm, lr: h.lr, momentum: h.momentum, weightDecay: h.weightDecay, nesterov: h.nesterov ? 1 : 0, clipValue: c.clipValue, first: step === 1 ? 1 : 0 }),
              (step, scale, param, grad, s1) => sgdUpdateReference({ ...h, clipValue: c.clipValue }, step === 1, scale, param, grad, s1),
            );
          } catch (e) {
            throw new Error(`${describeRuntime(rt)} ${JSON.stringify(h)} ${JSON.stringify(c)}: ${(e as Error).message}`);
          }
        }
      }
    }
  });
});
