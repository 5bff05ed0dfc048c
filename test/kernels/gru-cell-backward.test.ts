import { afterAll, beforeAll, describe, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { createGruCellBackward } from '../../src/kernels/gru-cell-backward.js';
import type { CellBackwardKernel } from '../../src/kernels/recurrent-step-backward.js';
import { gruCellBackwardReference } from '../../src/reference/gru-cell-backward.js';
import { gruCellForwardReference } from '../../src/reference/gru-cell-forward.js';
import { gradThroughWhh } from '../../src/reference/rnn-cell-backward.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { BACKWARD_VARIANTS, backwardCases, backwardVariant, centralDifferences, checkBackwardStep, checkBackwardSweep, sweepCases, dotLoss, expectMatchesDifferences, random64, whhGradient, type BackwardStepReference } from './cell-backward-harness.js';

const { rng, seed } = testRandom('gru-cell-backward');
let ctx: GpuContext;
// Every variant a backward case runs (BACKWARD_VARIANTS: the staged product and its tiled form, the direct one, with the batch tile or the wide tile).
const kernels: Record<keyof typeof BACKWARD_VARIANTS, CellBackwardKernel> = {} as never;

beforeAll(async () => {
  ctx = await GpuContext.create();
  for (const [key, variant] of Object.entries(BACKWARD_VARIANTS)) kernels[key as keyof typeof BACKWARD_VARIANTS] = await createGruCellBackward(ctx, variant);
});
afterAll(() => ctx?.destroy());

const reference: BackwardStepReference = {
  carryIsDh: true,
  randomSaved: (r, n) => [randomFloats(r, n, 0, 1), randomFloats(r, n, 0, 1), randomFloats(r, n, -1, 1), randomFloats(r, n, -2, 2), randomFloats(r, n, -1, 1)],
  run: (batch, hidden, saved, dh) => {
    const r = gruCellBackwardReference({ batch, hidden, saved, dh });
    return { dG: r.dG, dGrec: r.dGrec, carry: r.direct };
  },
};

describe('gru-cell-backward against the float64 reference', () => {
  for (const c of backwardCases()) {
    it(c.name, async () => {
      await checkBackwardStep(ctx, kernels[backwardVariant(c)], reference, rng, c.shape, c.step, `${c.name} (seed ${seed})`, c.lengths);
    });
  }
});

describe('gru-cell-backward, resident: the whole sweep in one dispatch, against the float64 reference', () => {
  for (const c of sweepCases()) {
    it(c.name, async () => {
      const kernel = await createGruCellBackward(ctx, { direct: true, batchTile: c.batchTile, persistent: true, hidden: c.shape.hidden, subgroups: c.subgroups });
      await checkBackwardSweep(ctx, kernel, reference, rng, c.shape, `${c.name} (seed ${seed})`, c.lengths, c.rowGroups);
    });
  }
});

describe('the GRU backward reference against central differences of the forward reference', () => {
  for (const [B, H] of [
    [1, 1],
    [2, 3],
    [3, 5],
  ]) {
    it(`B=${B} H=${H}`, () => {
      const xproj = random64(rng, B * 3 * H, -2, 2);
      const hPrev = random64(rng, B * H);
      const whh = random64(rng, 3 * H * H);
      const bhh = random64(rng, 3 * H);
      const wh = random64(rng, B * H);
      const step = { batch: B, hidden: H, xproj, hPrev, whh, bhh, linearBeforeReset: true };
      const loss = (): number => dotLoss(gruCellForwardReference(step).h, wh);
      const fwd = gruCellForwardReference(step);
      const bw = gruCellBackwardReference({ batch: B, hidden: H, saved: fwd.saved!, dh: wh });
      expectMatchesDifferences('d xproj', bw.dG, centralDifferences(loss, xproj));
      const dhPrev = gradThroughWhh(B, H, bw.dGrec, whh).map((v, i) => v + bw.direct[i]);
      expectMatchesDifferences('d hPrev', dhPrev, centralDifferences(loss, hPrev));
      expectMatchesDifferences('d W_hh', whhGradient(B, H, bw.dGrec, hPrev), centralDifferences(loss, whh));
      const dbhh = new Float64Array(3 * H);
      for (let b = 0; b < B; b++) for (let r = 0; r < 3 * H; r++) dbhh[r] += bw.dGrec[b * 3 * H + r];
      expectMatchesDifferences('d b_hh', dbhh, centralDifferences(loss, bhh));
    });
  }
});
