import { describe, it } from 'vitest';
import { lstmCellForwardReference } from '../../../src/reference/lstm-cell-forward.js';
import type { CellOptions } from '../../../src/spec/cell-functions.js';
import { testRandom } from '../../helpers/seed.js';
import { describeRuntime, useTestRuntimes } from './harness.js';
import { checkForwardStep, resolveCell, stepCases } from './cell-harness.js';

const { rng } = testRandom('wasm lstm-cell-forward');
const runtimes = useTestRuntimes();

const VARIANTS: Array<{ name: string; cell?: CellOptions; peephole?: boolean }> = [
  { name: 'PyTorch' },
  { name: 'peepholes', peephole: true },
  { name: 'ONNX functions, clip, input_forget', cell: { f: { name: 'HardSigmoid' }, g: { name: 'ScaledTanh', alpha: 1.3, beta: 0.7 }, h: { name: 'Softsign' }, clip: 1.1, inputForget: true, reverse: { f: { name: 'Sigmoid' }, h: { name: 'Elu', alpha: 0.6 } } } },
  { name: 'ONNX functions with peepholes', peephole: true, cell: { f: { name: 'LeakyRelu', alpha: 0.1 }, g: { name: 'Softplus' }, h: { name: 'Relu' } } },
];

describe('wasm lstm-cell-forward', () => {
  for (const v of VARIANTS) {
    it(`matches the float64 reference: ${v.name}`, () => {
      const cell = resolveCell('lstm', v.cell);
      for (const rt of runtimes) {
        for (const c of stepCases(rng, 8)) {
          try {
            checkForwardStep(rt, rng, { kind: 'lstm', G: 4, saveSlots: 6, cell, peephole: v.peephole, reference: (s) => lstmCellForwardReference({ ...s, cell }) }, c);
          } catch (e) {
            throw new Error(`${describeRuntime(rt)}, ${JSON.stringify(c)}: ${(e as Error).message}`);
          }
        }
      }
    });
  }
});
