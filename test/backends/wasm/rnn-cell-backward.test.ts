import { describe, it } from 'vitest';
import { rnnCellBackwardReference } from '../../../src/reference/rnn-cell-backward.js';
import { rnnCellForwardReference } from '../../../src/reference/rnn-cell-forward.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { stepCases } from './cell-harness.js';
import { checkBackwardStep } from './backward-harness.js';

const { rng } = testRandom('wasm rnn-cell-backward');
const runtimes = useTestRuntimes();

describe('wasm rnn-cell-backward', () => {
  it('matches the float64 reference and central differences of the forward reference: tanh, relu, identity', () => {
    for (const [code, nonlinearity] of (['tanh', 'relu', 'identity'] as const).entries()) for (const rt of runtimes) {
      for (const c of stepCases(rng, 8)) {
        try {
          checkBackwardStep(rt, rng, {
            kind: 'rnn', G: 1, saveSlots: 0, nonlinearity: code,
            forward: (B, H, xproj, hPrev) => ({ ...rnnCellForwardReference({ batch: B, hidden: H, xproj, hPrev, whh: new Float64Array(H * H), bhh: null, nonlinearity }), saved: [] }),
            backward: (B, H, _saved, h, dh) => rnnCellBackwardReference({ batch: B, hidden: H, nonlinearity, h, dh }),
          }, c);
        } catch (e) {
          throw new Error(`${nonlinearity}, ${describeRuntime(rt)}, ${JSON.stringify(c)}: ${(e as Error).message}`);
        }
      }
    }
  });
});
