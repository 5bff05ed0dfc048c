import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { resolveCellOptions } from '../../src/spec/cell-functions.js';
import { createGruCellForward } from '../../src/kernels/gru-cell-forward.js';
import { gruCellForwardReference } from '../../src/reference/gru-cell-forward.js';
import { testRandom } from '../helpers/seed.js';
import { cellCases, checkCellStep, checkPersistentLayer, persistentCases, persistentVariant, skipResidentOffSoftware } from './cell-step-harness.js';
import { checkHalfCase, cooperativeCases, cooperativeVariant, expectWeightCache, halfCases, halfVariant, tiledCases, tiledVariant } from './gpu-form-cases.js';

const { rng, seed } = testRandom('gru-cell-forward');
let ctx: GpuContext;

beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

for (const linearBeforeReset of [true, false]) {
  describe(`gru-cell-forward (linearBeforeReset ${linearBeforeReset}) against the float64 reference`, () => {
    for (const c of cellCases(linearBeforeReset)) {
      it(c.name, async () => {
        const kernel = await createGruCellForward(ctx, linearBeforeReset, { batchTile: c.batchTile, direct: c.direct, training: c.training });
        await checkCellStep(ctx, kernel, (s) => gruCellForwardReference({ ...s, linearBeforeReset }), rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
      });
    }
  });
}

describe('gru-cell-forward with ONNX cell functions and clip against the float64 reference', () => {
  const cell = resolveCellOptions('gru', { f: { name: 'HardSigmoid' }, g: { name: 'Elu', alpha: 0.7 }, clip: 1.5 }, { name: 'Sigmoid' });
  for (const c of cellCases(false).filter((k) => k.shape.hidden !== 130)) {
    it(c.name, async () => {
      const kernel = await createGruCellForward(ctx, true, { batchTile: c.batchTile, direct: c.direct, cell });
      await checkCellStep(ctx, kernel, (s) => gruCellForwardReference({ ...s, linearBeforeReset: true, cell }), rng, c.shape, c.step, `cell functions ${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('gru-cell-forward with other functions in the reverse direction against the float64 reference', () => {
  const cell = resolveCellOptions('gru', { reverse: { f: { name: 'HardSigmoid' }, g: { name: 'Relu' } } }, { name: 'Sigmoid' });
  for (const linearBeforeReset of [true, false]) {
    for (const c of cellCases(false).filter((k) => k.shape.hidden !== 130 && k.shape.numDirections === 2)) {
      it(`linearBeforeReset ${linearBeforeReset}, ${c.name}`, async () => {
        const kernel = await createGruCellForward(ctx, linearBeforeReset, { batchTile: c.batchTile, direct: c.direct, cell });
        await checkCellStep(ctx, kernel, (s) => gruCellForwardReference({ ...s, linearBeforeReset, cell }), rng, c.shape, c.step, `per-direction functions ${c.name} (seed ${seed})`, c.lengths);
      });
    }
  }
});

// The cooperative form runs one phase a step: the linear_before_reset = 1 form.
describe('gru-cell-forward, persistent, cooperative: each unit\'s sums split over invocations, against the float64 reference', () => {
  for (const c of cooperativeCases()) {
    it(c.name, async () => {
      const kernel = await createGruCellForward(ctx, true, cooperativeVariant(c));
      expectWeightCache(kernel, c.shape.hidden);
      await checkPersistentLayer(ctx, kernel, (s) => gruCellForwardReference({ ...s, linearBeforeReset: true }), rng, c.shape, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
  it('refuses the two-phase form, the batch tile and sizes past its workgroup, naming why', async () => {
    await expect(createGruCellForward(ctx, false, { ...cooperativeVariant(cooperativeCases()[0]), training: false })).rejects.toThrow(/cooperative form does not take two phases a step/);
    await expect(createGruCellForward(ctx, true, { ...cooperativeVariant(cooperativeCases()[0]), batchTile: true as false })).rejects.toThrow(/cooperative form does not take the batch tile/);
    await expect(createGruCellForward(ctx, true, { ...cooperativeVariant(cooperativeCases()[0]), hidden: 5000 })).rejects.toThrow(/hidden size 5000 does not fit the cooperative form's workgroup/);
    // A kernel that keeps W_hh in workgroup memory serves hidden sizes up to its own.
    const cached = await createGruCellForward(ctx, true, { ...cooperativeVariant(cooperativeCases()[0]), hidden: 7 });
    expect(cached.cachesWeights).toBe(true);
    const shape = { ...cooperativeCases()[0].shape, hidden: 8 };
    expect(() => cached.checkBuffers(shape, {} as never)).toThrow(/keeps W_hh of hidden sizes up to 7 in workgroup memory, not 8/);
  });
});

describe('gru-cell-forward, tiled: the step\'s product as a tiled GEMM, the cell its epilogue, against the float64 reference', () => {
  for (const c of tiledCases()) {
    it(c.name, async () => {
      const kernel = await createGruCellForward(ctx, true, tiledVariant(c));
      await checkCellStep(ctx, kernel, (s) => gruCellForwardReference({ ...s, linearBeforeReset: true }), rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
  it('refuses what the tiled form does not take, naming it', async () => {
    const c = tiledCases()[0];
    await expect(createGruCellForward(ctx, false, tiledVariant(c))).rejects.toThrow(/tiled form does not take two phases a step/);
    await expect(createGruCellForward(ctx, true, { ...tiledVariant(c), persistent: true, hidden: 7 })).rejects.toThrow(/tiled form does not take the persistent kernel/);
    await expect(createGruCellForward(ctx, true, { ...tiledVariant(c), direct: true })).rejects.toThrow(/tiled form does not take the direct product/);
    await expect(createGruCellForward(ctx, true, { ...tiledVariant(c), batchTile: false as true })).rejects.toThrow(/tiled form does not take one row a workgroup/);
  });
});

describe('gru-cell-forward, W_hh in half precision (staged and cooperative forms), against the float64 reference of the rounded weights', () => {
  for (const c of halfCases()) {
    it(c.name, async () => {
      const kernel = await createGruCellForward(ctx, true, halfVariant(c));
      await checkHalfCase(ctx, kernel, (s) => gruCellForwardReference({ ...s, linearBeforeReset: true }), rng, c, `${c.name} (seed ${seed})`);
    });
  }
  it('refuses half precision in the two-phase form and the software forms, naming them', async () => {
    await expect(createGruCellForward(ctx, false, { batchTile: false, half: true })).rejects.toThrow(/half-precision W_hh is read by the staged, cooperative and tiled forms of one-phase cells only, not the two-phase form/);
    await expect(createGruCellForward(ctx, true, { batchTile: false, direct: true, half: true })).rejects.toThrow(/not the direct form/);
  });
});

[true, false].forEach((linearBeforeReset, index) => {
  describe(`gru-cell-forward (linearBeforeReset ${linearBeforeReset}), persistent: every step in one dispatch, against the float64 reference`, () => {
    // The linear_before_reset = 0 form has no training variant.
    for (const c of persistentCases(linearBeforeReset, { index, count: 2 })) {
      it(c.name, async ({ skip }) => {
        skipResidentOffSoftware(ctx, c, skip);
        const kernel = await createGruCellForward(ctx, linearBeforeReset, { ...persistentVariant(c), training: c.training });
        await checkPersistentLayer(ctx, kernel, (s) => gruCellForwardReference({ ...s, linearBeforeReset }), rng, c.shape, `${c.name} (seed ${seed})`, c.lengths, c.rowGroups);
      });
    }
  });
});
