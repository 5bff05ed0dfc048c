import { describe, it } from 'vitest';
import { lstmCellBackwardReference } from '../../../src/reference/lstm-cell-backward.js';
import { lstmCellForwardReference } from '../../../src/reference/lstm-cell-forward.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { stepCases } from './cell-harness.js';
import { checkBackwardStep } from './backward-harness.js';

const { rng } = testRandom('wasm lstm-cell-backward');
const runtimes = useTestRuntimes();

describe('wasm lstm-cell-backward', () => {
  it('matches the float64 reference and central differences of the forward reference', () => {
    for (const rt of runtimes) {
      for (const c of stepCases(rng, 8)) {
        try {
          checkBackwardStep(rt, rng, {
            kind: 'lstm', G: 4, saveSlots: 6,
            // W_hh = 0: the pre-activations are xproj alone.
            forward: (B, H, xproj, hPrev, cPrev) => lstmCellForwardReference({ batch: B, hidden: H, xproj, hPrev, cPrev, whh: new Float64Array(4 * H * H), bhh: null }),
            backward: (B, H, saved, _h, dh, dc) => lstmCellBackwardReference({ batch: B, hidden: H, saved, dh, dc }),
          }, c);
        } catch (e) {
          throw new Error(`${describeRuntime(rt)}, ${JSON.stringify(c)}: ${(e as Error).message}`);
        }
      }
    }
  });
});
