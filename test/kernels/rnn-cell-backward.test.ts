import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { createRnnCellBackward } from '../../src/kernels/rnn-cell-backward.js';
import type { Nonlinearity } from '../../src/spec/spec.js';
import { gradThroughWhh, rnnCellBackwardReference } from '../../src/reference/rnn-cell-backward.js';
import { rnnCellForwardReference } from '../../src/reference/rnn-cell-forward.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { BACKWARD_VARIANTS, backwardCases, backwardVariant, centralDifferences, checkBackwardStep, checkBackwardSweep, sweepCases, dotLoss, expectMatchesDifferences, random64, whhGradient, type BackwardStepReference } from './cell-backward-harness.js';

const { rng, seed } = testRandom('rnn-cell-backward');
let ctx: GpuContext;

beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

const NONLINEARITIES: Nonlinearity[] = ['tanh', 'relu', 'identity'];
NONLINEARITIES.forEach((nonlinearity, index) => {
  const reference: BackwardStepReference = {
    carryIsDh: false,
    // The saved activation is h itself: tanh in (−1, 1); relu at 0 half of the time.
    randomSaved: (r, n) => [nonlinearity === 'relu' ? randomFloats(r, n, -1, 1).map((v) => Math.max(v, 0)) : randomFloats(r, n, -1, 1)],
    run: (batch, hidden, saved, dh) => rnnCellBackwardReference({ batch, hidden, nonlinearity, h: saved[0], dh }),
  };

  describe(`rnn-cell-backward (${nonlinearity}) against the float64 reference`, () => {
    for (const c of backwardCases()) {
      it(c.name, async () => {
        const kernel = await createRnnCellBackward(ctx, nonlinearity, BACKWARD_VARIANTS[backwardVariant(c)]);
        await checkBackwardStep(ctx, kernel, reference, rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
      });
    }
  });

  describe(`rnn-cell-backward (${nonlinearity}), resident: the whole sweep in one dispatch, against the float64 reference`, () => {
    for (const c of sweepCases({ index, count: NONLINEARITIES.length, plainLarge: false })) {
      it(c.name, async () => {
        const kernel = await createRnnCellBackward(ctx, nonlinearity, { direct: true, batchTile: c.batchTile, persistent: true, hidden: c.shape.hidden, subgroups: c.subgroups });
        await checkBackwardSweep(ctx, kernel, reference, rng, c.shape, `${c.name} (seed ${seed})`, c.lengths, c.rowGroups);
      });
    }
  });

  describe(`the Elman (${nonlinearity}) backward reference against central differences of the forward reference`, () => {
    for (const [B, H] of [
      [1, 1],
      [2, 3],
      [3, 5],
    ]) {
      it(`B=${B} H=${H}`, () => {
        // Pre-activations kept away from relu's kink, where the derivative is not defined.
        const xproj = random64(rng, B * H, -2, 2).map((v) => (Math.abs(v) < 0.2 ? v + 0.5 : v));
        const hPrev = random64(rng, B * H, -0.05, 0.05);
        const whh = random64(rng, H * H, -0.1, 0.1);
        const bhh = random64(rng, H, -0.01, 0.01);
        const wh = random64(rng, B * H);
        const step = { batch: B, hidden: H, xproj, hPrev, whh, bhh, nonlinearity };
        const loss = (): number => dotLoss(rnnCellForwardReference(step).h, wh);
        const h = rnnCellForwardReference(step).h;
        const bw = rnnCellBackwardReference({ batch: B, hidden: H, nonlinearity, h, dh: wh });
        expectMatchesDifferences('d xproj', bw.dG, centralDifferences(loss, xproj));
        expectMatchesDifferences('d hPrev', gradThroughWhh(B, H, bw.dG, whh), centralDifferences(loss, hPrev));
        expectMatchesDifferences('d W_hh', whhGradient(B, H, bw.dG, hPrev), centralDifferences(loss, whh));
      });
    }
  });
});
