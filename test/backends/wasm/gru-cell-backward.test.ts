import { describe, it } from 'vitest';
import { gruCellBackwardReference } from '../../../src/reference/gru-cell-backward.js';
import { gruCellForwardReference } from '../../../src/reference/gru-cell-forward.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { stepCases } from './cell-harness.js';
import { checkBackwardStep } from './backward-harness.js';

const { rng } = testRandom('wasm gru-cell-backward');
const runtimes = useTestRuntimes();

describe('wasm gru-cell-backward', () => {
  it('matches the float64 reference and central differences of the forward reference', () => {
    for (const rt of runtimes) {
      for (const c of stepCases(rng, 8)) {
        try {
          checkBackwardStep(rt, rng, {
            kind: 'gru', G: 3, saveSlots: 4,
            // W_hh = 0 and b_hn random: hn = b_hn, so r reaches the loss; xproj is the input side.
            forward: (B, H, xproj, hPrev) => {
              const bhh = Float64Array.from({ length: 3 * H }, (_, i) => (i >= 2 * H ? 0.3 + 0.01 * (i % 7) : 0));
              const r = gruCellForwardReference({ batch: B, hidden: H, xproj, hPrev, whh: new Float64Array(3 * H * H), bhh, linearBeforeReset: true });
              return { h: r.h, saved: r.saved! };
            },
            backward: (B, H, saved, _h, dh) => gruCellBackwardReference({ batch: B, hidden: H, saved, dh }),
          }, c);
        } catch (e) {
          throw new Error(`${describeRuntime(rt)}, ${JSON.stringify(c)}: ${(e as Error).message}`);
        }
      }
    }
  });
});
