import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { createLstmCellBackward } from '../../src/kernels/lstm-cell-backward.js';
import type { CellBackwardKernel } from '../../src/kernels/recurrent-step-backward.js';
import { lstmCellBackwardReference } from '../../src/reference/lstm-cell-backward.js';
import { lstmCellForwardReference } from '../../src/reference/lstm-cell-forward.js';
import { gradThroughWhh } from '../../src/reference/rnn-cell-backward.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { BACKWARD_VARIANTS, backwardCases, backwardVariant, centralDifferences, checkBackwardStep, checkBackwardSweep, sweepCases, dotLoss, expectMatchesDifferences, random64, whhGradient, type BackwardStepReference } from './cell-backward-harness.js';

const { rng, seed } = testRandom('lstm-cell-backward');
let ctx: GpuContext;
// Every variant a backward case runs (BACKWARD_VARIANTS: the staged product and its tiled form, the direct one, with the batch tile or the wide tile).
const kernels: Record<keyof typeof BACKWARD_VARIANTS, CellBackwardKernel> = {} as never;

beforeAll(async () => {
  ctx = await GpuContext.create();
  for (const [key, variant] of Object.entries(BACKWARD_VARIANTS)) kernels[key as keyof typeof BACKWARD_VARIANTS] = await createLstmCellBackward(ctx, variant);
});
afterAll(() => ctx?.destroy());

const reference: BackwardStepReference = {
  carryIsDh: false,
  randomSaved: (r, n) => [randomFloats(r, n, 0, 1), randomFloats(r, n, 0, 1), randomFloats(r, n, -1, 1), randomFloats(r, n, 0, 1), randomFloats(r, n, -2, 2), randomFloats(r, n, -2, 2)],
  run: (batch, hidden, saved, dh, carry) => {
    const r = lstmCellBackwardReference({ batch, hidden, saved, dh, dc: carry });
    return { dG: r.dG, carry: r.dcPrev };
  },
};

describe('lstm-cell-backward against the float64 reference', () => {
  for (const c of backwardCases()) {
    it(c.name, async () => {
      await checkBackwardStep(ctx, kernels[backwardVariant(c)], reference, rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('lstm-cell-backward, resident: the whole sweep in one dispatch, against the float64 reference', () => {
  for (const c of sweepCases()) {
    it(c.name, async () => {
      const kernel = await createLstmCellBackward(ctx, { direct: true, batchTile: c.batchTile, persistent: true, hidden: c.shape.hidden, subgroups: c.subgroups });
      await checkBackwardSweep(ctx, kernel, reference, rng, c.shape, `${c.name} (seed ${seed})`, c.lengths, c.rowGroups);
    });
  }
});

describe('the LSTM backward reference against central differences of the forward reference', () => {
  for (const [B, H] of [
    [1, 1],
    [2, 3],
    [3, 5],
  ]) {
    it(`B=${B} H=${H}`, () => {
      const xproj = random64(rng, B * 4 * H, -2, 2);
      const hPrev = random64(rng, B * H);
      const cPrev = random64(rng, B * H, -2, 2);
      const whh = random64(rng, 4 * H * H);
      const bhh = random64(rng, 4 * H);
      const wh = random64(rng, B * H);
      const wc = random64(rng, B * H);
      const step = { batch: B, hidden: H, xproj, hPrev, cPrev, whh, bhh };
      const loss = (): number => {
        const r = lstmCellForwardReference(step);
        return dotLoss(r.h, wh) + dotLoss(r.c, wc);
      };
      const fwd = lstmCellForwardReference(step);
      const bw = lstmCellBackwardReference({ batch: B, hidden: H, saved: fwd.saved, dh: wh, dc: wc });
      expectMatchesDifferences('d xproj', bw.dG, centralDifferences(loss, xproj));
      expectMatchesDifferences('d cPrev', bw.dcPrev, centralDifferences(loss, cPrev));
      expectMatchesDifferences('d hPrev', gradThroughWhh(B, H, bw.dG, whh), centralDifferences(loss, hPrev));
      expectMatchesDifferences('d W_hh', whhGradient(B, H, bw.dG, hPrev), centralDifferences(loss, whh));
    });
  }
});
