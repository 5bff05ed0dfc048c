import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { createLstmCellForward } from '../../src/kernels/lstm-cell-forward.js';
import type { CellStepKernel } from '../../src/kernels/recurrent-step.js';
import { lstmCellForwardReference } from '../../src/reference/lstm-cell-forward.js';
import { testRandom } from '../helpers/seed.js';
import { cellCases, checkCellStep } from './cell-step-harness.js';

const { rng, seed } = testRandom('lstm-cell-forward');
let ctx: GpuContext;
const kernels = new Map<string, CellStepKernel>();

beforeAll(async () => {
  ctx = await GpuContext.create();
  for (const batchTile of [false, true]) {
    for (const training of [false, true]) kernels.set(`${batchTile} ${training}`, await createLstmCellForward(ctx, { batchTile, training }));
    kernels.set(`${batchTile} peepholes`, await createLstmCellForward(ctx, { batchTile, peepholes: true }));
  }
});
afterAll(() => ctx?.destroy());

describe('lstm-cell-forward with peepholes against the float64 reference', () => {
  for (const c of cellCases(false)) {
    it(c.name, async () => {
      await checkCellStep(ctx, kernels.get(`${c.batchTile} peepholes`)!, (s) => lstmCellForwardReference(s), rng, c.shape, c.step, `peepholes ${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('lstm-cell-forward against the float64 reference', () => {
  for (const c of cellCases()) {
    it(c.name, async () => {
      await checkCellStep(ctx, kernels.get(`${c.batchTile} ${c.training}`)!, (s) => lstmCellForwardReference(s), rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
});
