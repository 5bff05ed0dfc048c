import { describe, it } from 'vitest';
import { gruCellForwardReference } from '../../../src/reference/gru-cell-forward.js';
import type { CellOptions } from '../../../src/spec/cell-functions.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { checkForwardStep, resolveCell, stepCases } from './cell-harness.js';

const { rng } = testRandom('wasm gru-cell-forward');
const runtimes = useTestRuntimes();

const VARIANTS: Array<{ name: string; cell?: CellOptions; linearBeforeReset: boolean }> = [
  { name: 'PyTorch (linear before reset)', linearBeforeReset: true },
  { name: 'ONNX default (reset before the product)', linearBeforeReset: false },
  { name: 'ONNX functions and clip', linearBeforeReset: false, cell: { f: { name: 'HardSigmoid', alpha: 0.3, beta: 0.4 }, g: { name: 'Affine', alpha: 0.5, beta: 0.1 }, clip: 0.9, reverse: { g: { name: 'ThresholdedRelu', alpha: 0.2 } } } },
];

describe('wasm gru-cell-forward', () => {
  for (const v of VARIANTS) {
    it(`matches the float64 reference: ${v.name}`, () => {
      const cell = resolveCell('gru', v.cell);
      for (const rt of runtimes) {
        for (const c of stepCases(rng, 8)) {
          try {
            checkForwardStep(rt, rng, { kind: 'gru', G: 3, saveSlots: v.linearBeforeReset ? 4 : 0, cell, linearBeforeReset: v.linearBeforeReset, reference: (s) => gruCellForwardReference({ ...s, linearBeforeReset: v.linearBeforeReset, cell }) }, c);
          } catch (e) {
            throw new Error(`${describeRuntime(rt)}, ${JSON.stringify(c)}: ${(e as Error).message}`);
          }
        }
      }
    });
  }
});
