import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { resolveCellOptions } from '../../src/spec/cell-functions.js';
import { createLstmCellBackward } from '../../src/kernels/lstm-cell-backward.js';
import { createRnnCellBackward } from '../../src/kernels/rnn-cell-backward.js';
import { createRnnCellForward } from '../../src/kernels/rnn-cell-forward.js';
import type { Nonlinearity } from '../../src/spec/spec.js';
import { rnnCellForwardReference } from '../../src/reference/rnn-cell-forward.js';
import { testRandom } from '../helpers/seed.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, runPass, upload } from '../helpers/gpu.js';
import { cellCases, checkCellStep, checkPersistentLayer, persistentCases, persistentVariant, skipResidentOffSoftware, stepUniform } from './cell-step-harness.js';
import { checkHalfCase, cooperativeCases, cooperativeVariant, expectWeightCache, halfCases, halfVariant, tiledCases, tiledVariant } from './gpu-form-cases.js';

const { rng, seed } = testRandom('rnn-cell-forward');
let ctx: GpuContext;

beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

for (const nonlinearity of ['tanh', 'relu', 'identity'] as Nonlinearity[]) {
  describe(`rnn-cell-forward (${nonlinearity}) against the float64 reference`, () => {
    // The Elman cell saves nothing in training (its output sequence is what backward needs).
    for (const c of cellCases(false)) {
      it(c.name, async () => {
        const kernel = await createRnnCellForward(ctx, nonlinearity, { batchTile: c.batchTile, direct: c.direct });
        await checkCellStep(ctx, kernel, (s) => rnnCellForwardReference({ ...s, nonlinearity }), rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
      });
    }
  });
}

describe('rnn-cell-forward with ONNX cell functions and clip against the float64 reference', () => {
  const cell = resolveCellOptions('rnn', { f: { name: 'Softplus' }, clip: 2 }, { name: 'Tanh' });
  for (const c of cellCases(false).filter((k) => k.shape.hidden !== 130)) {
    it(c.name, async () => {
      const kernel = await createRnnCellForward(ctx, 'tanh', { batchTile: c.batchTile, direct: c.direct, cell });
      await checkCellStep(ctx, kernel, (s) => rnnCellForwardReference({ ...s, nonlinearity: 'tanh', cell }), rng, c.shape, c.step, `cell functions ${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('rnn-cell-forward with other functions in the reverse direction against the float64 reference', () => {
  const cell = resolveCellOptions('rnn', { f: { name: 'LeakyRelu', alpha: 0.1 }, reverse: { f: { name: 'Softsign' } } }, { name: 'Tanh' });
  for (const c of cellCases(false).filter((k) => k.shape.hidden !== 130 && k.shape.numDirections === 2)) {
    it(c.name, async () => {
      const kernel = await createRnnCellForward(ctx, 'tanh', { batchTile: c.batchTile, direct: c.direct, cell });
      await checkCellStep(ctx, kernel, (s) => rnnCellForwardReference({ ...s, nonlinearity: 'tanh', cell }), rng, c.shape, c.step, `per-direction functions ${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

const NONLINEARITIES: Nonlinearity[] = ['tanh', 'relu', 'identity'];
NONLINEARITIES.forEach((nonlinearity, index) => {
  describe(`rnn-cell-forward (${nonlinearity}), persistent: every step in one dispatch, against the float64 reference`, () => {
    for (const c of persistentCases(false, { index, count: NONLINEARITIES.length, plainLarge: false, largeCombos: 2 })) {
      it(c.name, async ({ skip }) => {
        skipResidentOffSoftware(ctx, c, skip);
        const kernel = await createRnnCellForward(ctx, nonlinearity, { ...persistentVariant(c) });
        await checkPersistentLayer(ctx, kernel, (s) => rnnCellForwardReference({ ...s, nonlinearity }), rng, c.shape, `${c.name} (seed ${seed})`, c.lengths, c.rowGroups);
      });
    }
  });
});

NONLINEARITIES.forEach((nonlinearity, index) => {
  describe(`rnn-cell-forward (${nonlinearity}), persistent, cooperative: each unit's sums split over invocations, against the float64 reference`, () => {
    // Each nonlinearity takes every third case, all of them together covering the list.
    for (const c of cooperativeCases().filter((_, i) => i % NONLINEARITIES.length === index)) {
      it(c.name, async () => {
        const kernel = await createRnnCellForward(ctx, nonlinearity, cooperativeVariant(c));
        expectWeightCache(kernel, c.shape.hidden);
        await checkPersistentLayer(ctx, kernel, (s) => rnnCellForwardReference({ ...s, nonlinearity }), rng, c.shape, `${c.name} (seed ${seed})`, c.lengths);
      });
    }
  });
});

[['tanh', 0], ['relu', 1]].forEach(([nonlinearity, index]) => {
  describe(`rnn-cell-forward (${nonlinearity}), tiled: the step's product as a tiled GEMM, the cell its epilogue, against the float64 reference`, () => {
    // Each nonlinearity takes every other case, the two together covering the list.
    for (const c of tiledCases().filter((_, i) => i % 2 === index)) {
      it(c.name, async () => {
        const kernel = await createRnnCellForward(ctx, nonlinearity as Nonlinearity, tiledVariant(c));
        await checkCellStep(ctx, kernel, (s) => rnnCellForwardReference({ ...s, nonlinearity: nonlinearity as Nonlinearity }), rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
      });
    }
  });
});

describe('rnn-cell-forward, W_hh in half precision (staged and cooperative forms), against the float64 reference of the rounded weights', () => {
  for (const c of halfCases()) {
    it(c.name, async () => {
      const kernel = await createRnnCellForward(ctx, 'tanh', halfVariant(c));
      await checkHalfCase(ctx, kernel, (s) => rnnCellForwardReference({ ...s, nonlinearity: 'tanh' }), rng, c, `${c.name} (seed ${seed})`);
    });
  }
});

describe('the cells\' tanh (tanhSat, one exponential) at its edges', () => {
  it('matches Math.tanh at 0, at tiny arguments and far past saturation, both signs', async () => {
    // h = tanh(xproj + b_hh + W_hh h0) with W_hh, b_hh and h0 zero: each unit one argument.
    const args = [0, 1e-7, -1e-7, 3e-4, -2.5e-3, 0.1, -0.37, 0.9, -1.6, 3, -7.5, 9.1, -15, 20, -44, 88.7, -1e4, 3e38, -3e38];
    const H = args.length;
    const shape = { batch: 1, hidden: H, seqLen: 1, numDirections: 1, stateBase: 0, stateFloats: H, cellBase: 0, cellFloats: 0 };
    for (const direct of [false, true]) {
      const kernel = await createRnnCellForward(ctx, 'tanh', { batchTile: false, direct });
      const e = kernel.extents(shape);
      const h0 = new Float32Array(e.h0);
      h0[H] = 1; // the one row's length
      const buffers = {
        uniform: stepUniform(ctx, kernel, shape, 0),
        xproj: upload(ctx, 'xproj', Float32Array.from(args)),
        whhT: upload(ctx, 'whhT', new Float32Array(H * H)),
        bhh: upload(ctx, 'bhh', new Float32Array(e.bhh)),
        h0: upload(ctx, 'h0', h0),
        hseq: poisoned(ctx, 'hseq', e.hseq),
        hN: poisoned(ctx, 'hN', e.hN),
      };
      kernel.checkBuffers(shape, buffers);
      await runPass(ctx, (pass) => kernel.encodeStep(pass, kernel.bindGroup(buffers), 0, kernel.workgroups(shape)));
      const got = await download(ctx, buffers.hseq, H);
      expectClose(`tanh (direct ${direct})`, got, args.map((x) => Math.tanh(Math.fround(x))));
      // Saturated: exactly ±1, and the sign of 0's neighbours kept.
      expect([got[H - 2], got[H - 1], Math.sign(got[1]), Math.sign(got[2])]).toEqual([1, -1, 1, -1]);
    }
  });
});

describe('the resident forms\' subgroup sharing (residentLanes)', () => {
  it('takes 4 lanes where the device has subgroups of at least 4 and `subgroups` is not false, else 1', async ({ skip }) => {
    if (!ctx.info.software) skip('the resident form is built for software adapters');
    const can = (ctx.info.subgroupMinSize ?? 0) >= 4;
    const variant = { batchTile: false, persistent: true, direct: true, hidden: 9 };
    expect((await createRnnCellForward(ctx, 'tanh', variant)).lanes).toBe(can ? 4 : 1);
    expect((await createRnnCellForward(ctx, 'tanh', { ...variant, subgroups: false })).lanes).toBe(1);
    // The per-step forms share nothing.
    expect((await createRnnCellForward(ctx, 'tanh', { batchTile: false, direct: true })).lanes).toBe(1);
    const sweep = { direct: true, persistent: true, hidden: 9 };
    expect((await createRnnCellBackward(ctx, 'tanh', sweep)).lanes).toBe(can ? 4 : 1);
    expect((await createRnnCellBackward(ctx, 'tanh', { ...sweep, subgroups: false })).lanes).toBe(1);
    // The gated sweep's batch tile shares matrices, which subgroupBroadcast does not take.
    expect((await createLstmCellBackward(ctx, { ...sweep, batchTile: true })).lanes).toBe(1);
    await expect(createLstmCellBackward(ctx, { ...sweep, batchTile: true, subgroups: true })).rejects.toThrow(/no subgroup form/);
    if (!can) await expect(createRnnCellForward(ctx, 'tanh', { ...variant, subgroups: true })).rejects.toThrow(/subgroupMinSize/);
  });
});
