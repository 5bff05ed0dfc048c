import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { resolveCellOptions } from '../../src/spec/cell-functions.js';
import { createLstmCellForward } from '../../src/kernels/lstm-cell-forward.js';
import type { CellStepKernel } from '../../src/kernels/recurrent-step.js';
import { lstmCellForwardReference } from '../../src/reference/lstm-cell-forward.js';
import { testRandom } from '../helpers/seed.js';
import { cellCases, checkCellStep, checkPersistentLayer, persistentCases, persistentVariant, skipResidentOffSoftware } from './cell-step-harness.js';
import { checkHalfCase, cooperativeCases, cooperativeVariant, expectWeightCache, halfCases, halfVariant, tiledCases, tiledVariant } from './gpu-form-cases.js';

const { rng, seed } = testRandom('lstm-cell-forward');
let ctx: GpuContext;
const kernels = new Map<string, CellStepKernel>();

beforeAll(async () => {
  ctx = await GpuContext.create();
  for (const batchTile of [false, true]) {
    for (const direct of [false, true]) {
      for (const training of [false, true]) kernels.set(`${batchTile} ${direct} ${training}`, await createLstmCellForward(ctx, { batchTile, direct, training }));
      kernels.set(`${batchTile} ${direct} peepholes`, await createLstmCellForward(ctx, { batchTile, direct, peepholes: true }));
    }
  }
});
afterAll(() => ctx?.destroy());

describe('lstm-cell-forward with peepholes against the float64 reference', () => {
  for (const c of cellCases(false)) {
    it(c.name, async () => {
      await checkCellStep(ctx, kernels.get(`${c.batchTile} ${c.direct} peepholes`)!, (s) => lstmCellForwardReference(s), rng, c.shape, c.step, `peepholes ${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('lstm-cell-forward against the float64 reference', () => {
  for (const c of cellCases()) {
    it(c.name, async () => {
      await checkCellStep(ctx, kernels.get(`${c.batchTile} ${c.direct} ${c.training}`)!, (s) => lstmCellForwardReference(s), rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('lstm-cell-forward with ONNX cell functions and clip against the float64 reference', () => {
  const cell = resolveCellOptions('lstm', { f: { name: 'HardSigmoid', alpha: 0.3, beta: 0.45 }, g: { name: 'ScaledTanh', alpha: 1.1, beta: 0.8 }, h: { name: 'Softsign' }, clip: 1.2, inputForget: true }, { name: 'Sigmoid' });
  for (const c of cellCases(false).filter((k) => k.shape.hidden !== 130)) {
    it(c.name, async () => {
      const kernel = await createLstmCellForward(ctx, { batchTile: c.batchTile, direct: c.direct, cell });
      await checkCellStep(ctx, kernel, (s) => lstmCellForwardReference({ ...s, cell }), rng, c.shape, c.step, `cell functions ${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('lstm-cell-forward with other functions in the reverse direction against the float64 reference', () => {
  const cell = resolveCellOptions('lstm', { g: { name: 'Softsign' }, reverse: { f: { name: 'HardSigmoid', alpha: 0.25, beta: 0.5 }, g: { name: 'Elu', alpha: 0.9 }, h: { name: 'Affine', alpha: 0.8, beta: 0.1 } } }, { name: 'Sigmoid' });
  for (const c of cellCases(false).filter((k) => k.shape.hidden !== 130 && k.shape.numDirections === 2)) {
    it(c.name, async () => {
      const kernel = await createLstmCellForward(ctx, { batchTile: c.batchTile, direct: c.direct, cell });
      await checkCellStep(ctx, kernel, (s) => lstmCellForwardReference({ ...s, cell }), rng, c.shape, c.step, `per-direction functions ${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('lstm-cell-forward, persistent: every step in one dispatch, against the float64 reference', () => {
  for (const c of persistentCases(true, { index: 0, count: 2 })) {
    it(c.name, async ({ skip }) => {
      skipResidentOffSoftware(ctx, c, skip);
      const kernel = await createLstmCellForward(ctx, { ...persistentVariant(c), training: c.training });
      await checkPersistentLayer(ctx, kernel, (s) => lstmCellForwardReference(s), rng, c.shape, `${c.name} (seed ${seed})`, c.lengths, c.rowGroups);
    });
  }
});

describe('lstm-cell-forward, persistent, cooperative: each unit\'s sums split over invocations, against the float64 reference', () => {
  for (const c of cooperativeCases()) {
    it(c.name, async () => {
      const kernel = await createLstmCellForward(ctx, cooperativeVariant(c));
      expectWeightCache(kernel, c.shape.hidden);
      await checkPersistentLayer(ctx, kernel, (s) => lstmCellForwardReference(s), rng, c.shape, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('lstm-cell-forward, tiled: the step\'s product as a tiled GEMM, the cell its epilogue, against the float64 reference', () => {
  for (const c of tiledCases()) {
    it(c.name, async () => {
      const kernel = await createLstmCellForward(ctx, tiledVariant(c));
      await checkCellStep(ctx, kernel, (s) => lstmCellForwardReference(s), rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
  it('with peepholes and ONNX cell functions', async () => {
    const cell = resolveCellOptions('lstm', { f: { name: 'HardSigmoid', alpha: 0.3, beta: 0.45 }, clip: 1.2, inputForget: true, reverse: { g: { name: 'Softsign' } } }, { name: 'Sigmoid' });
    for (const c of tiledCases().filter((k) => k.shape.numDirections === 2 && k.lengths !== null && !k.half && k.step === 2)) {
      const kernel = await createLstmCellForward(ctx, { ...tiledVariant(c), peepholes: true, cell });
      await checkCellStep(ctx, kernel, (s) => lstmCellForwardReference({ ...s, cell }), rng, c.shape, c.step, `peepholes, functions ${c.name} (seed ${seed})`, c.lengths);
    }
  });
});

describe('lstm-cell-forward, W_hh in half precision (staged and cooperative forms), against the float64 reference of the rounded weights', () => {
  for (const c of halfCases()) {
    it(c.name, async () => {
      const kernel = await createLstmCellForward(ctx, halfVariant(c));
      await checkHalfCase(ctx, kernel, (s) => lstmCellForwardReference(s), rng, c, `${c.name} (seed ${seed})`);
    });
  }
});

describe('lstm-cell-forward, persistent, with peepholes and per-direction cell functions', () => {
  const cell = resolveCellOptions('lstm', { f: { name: 'HardSigmoid', alpha: 0.3, beta: 0.45 }, clip: 1.2, reverse: { g: { name: 'Softsign' } } }, { name: 'Sigmoid' });
  for (const c of persistentCases(false, { index: 1, count: 2 }).filter((k) => k.lengths !== null)) {
    it(c.name, async ({ skip }) => {
      skipResidentOffSoftware(ctx, c, skip);
      const kernel = await createLstmCellForward(ctx, { ...persistentVariant(c), peepholes: true, cell });
      await checkPersistentLayer(ctx, kernel, (s) => lstmCellForwardReference({ ...s, cell }), rng, c.shape, `peepholes, functions ${c.name} (seed ${seed})`, c.lengths, c.rowGroups);
    });
  }
});
