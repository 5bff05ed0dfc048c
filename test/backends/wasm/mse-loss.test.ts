import { describe, it } from 'vitest';
import { mseLossReference } from '../../../src/reference/mse-loss.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { checkLoss, LOSS_SHAPES } from './loss-harness.js';

const { rng } = testRandom('wasm mse-loss');
const runtimes = useTestRuntimes();

describe('wasm mse-loss', () => {
  it('matches the float64 reference: loss shares and dY, weighted rows (some 0)', () => {
    for (const rt of runtimes) {
      for (const [R, O] of LOSS_SHAPES) {
        for (const via of ['program', 'shares3'] as const) {
          try {
            checkLoss(rt, rng, 'mse', R, O, via, (s) => mseLossReference({ rows: R, outputs: O, ...s }));
          } catch (e) {
            throw new Error(`${describeRuntime(rt)} ${via} R=${R} O=${O}: ${(e as Error).message}`);
          }
        }
      }
    }
  });
});
