import { describe, it } from 'vitest';
import { rnnCellForwardReference } from '../../../src/reference/rnn-cell-forward.js';
import type { CellOptions } from '../../../src/spec/cell-functions.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { checkForwardStep, resolveCell, stepCases } from './cell-harness.js';

const { rng } = testRandom('wasm rnn-cell-forward');
const runtimes = useTestRuntimes();

const VARIANTS: Array<{ name: string; cell: CellOptions }> = [
  { name: 'tanh', cell: { f: { name: 'Tanh' } } },
  { name: 'relu', cell: { f: { name: 'Relu' } } },
  { name: 'identity', cell: { f: { name: 'Affine', alpha: 1, beta: 0 } } },
  { name: 'ONNX functions and clip', cell: { f: { name: 'Elu', alpha: 0.7 }, clip: 0.8, reverse: { f: { name: 'Softplus' } } } },
];

describe('wasm rnn-cell-forward', () => {
  for (const v of VARIANTS) {
    it(`matches the float64 reference: ${v.name}`, () => {
      const cell = resolveCell('rnn', v.cell);
      for (const rt of runtimes) {
        for (const c of stepCases(rng, 8)) {
          try {
            checkForwardStep(rt, rng, { kind: 'rnn', G: 1, saveSlots: 0, cell, reference: (s) => rnnCellForwardReference({ ...s, nonlinearity: 'tanh', cell }) }, c);
          } catch (e) {
            throw new Error(`${describeRuntime(rt)}, ${JSON.stringify(c)}: ${(e as Error).message}`);
          }
        }
      }
    });
  }
});
