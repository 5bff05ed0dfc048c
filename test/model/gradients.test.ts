/**
 * model.gradients on the GPU against the float64 whole-model gradient reference (itself checked
 * against finite differences in test/reference): every cell kind, 1–3 layers, both directions,
 * batchFirst, initial states and gradients of hN and cN given or not.
 *
 * Norm: per tensor, ‖gpu − ref‖₂ ≤ 1e-4·‖ref‖₂ + 1e-6 (relative L2 error 1e-4, with a floor for
 * tensors whose gradient is zero).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { recurrentBackwardReference } from '../../src/reference/recurrent-backward.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose, expectRelativeL2 } from '../helpers/compare.js';
import { countDeviceCalls, randomFloats } from '../helpers/gpu.js';
import { CELL_CONFIGS, randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('gradients');
let engine: Engine;

beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const TRAINABLE = CELL_CONFIGS.filter((c) => c.name !== 'gru linearBeforeReset=false');

describe.each(TRAINABLE)('$name gradients', (config) => {
  for (const numLayers of [1, 2, 3]) {
    for (const bidirectional of [false, true]) {
      for (const batchFirst of [false, true]) {
        // Half the combinations with each forward kernel: persistent, or one dispatch per step.
        const persistent = (numLayers + Number(bidirectional) + Number(batchFirst)) % 2 === 0;
        it(`L=${numLayers} bidirectional=${bidirectional} batchFirst=${batchFirst} ${persistent ? 'persistent' : 'per step'}`, async () => {
          const I = 4;
          const H = 5 + numLayers;
          const model = config.make(engine, { inputSize: I, hiddenSize: H, numLayers, bidirectional, batchFirst, persistent });
          const dict = randomStateDict(model.spec, rng);
          model.loadStateDict(dict);
          const isLstm = model.kind === 'lstm';
          const D = bidirectional ? 2 : 1;
          // Batch 5 exercises the 4-row batch tile of the training forward (with a partial tile).
          const batch = numLayers === 2 ? 5 : 2;
          const seqLen = 3 + numLayers;
          const state = numLayers * D * batch * H;
          const withStates = numLayers !== 1;
          const x = randomFloats(rng, seqLen * batch * I, -1.5, 1.5);
          const h0 = withStates ? randomFloats(rng, state) : undefined;
          const c0 = withStates && isLstm ? randomFloats(rng, state) : undefined;
          const gradOutput = randomFloats(rng, seqLen * batch * D * H);
          const gradHN = withStates ? randomFloats(rng, state) : undefined;
          const gradCN = withStates && isLstm ? randomFloats(rng, state) : undefined;
          const g = await model.gradients(x, { batch, seqLen, h0, c0, gradOutput, gradHN, gradCN });
          const ref = recurrentBackwardReference(model.spec, dict, x, { batch, seqLen, h0, c0, gradOutput, gradHN, gradCN });
          const label = `${config.name} L=${numLayers} D=${D} batchFirst=${batchFirst} (seed ${seed})`;
          expect(Object.keys(g.params).sort()).toEqual(Object.keys(ref.params).sort());
          for (const name of Object.keys(ref.params)) expectRelativeL2(`${label}: ${name}`, g.params[name], ref.params[name]);
          expectRelativeL2(`${label}: input`, g.input, ref.input);
          expectRelativeL2(`${label}: h0`, g.h0, ref.h0);
          if (isLstm) expectRelativeL2(`${label}: c0`, g.c0!, ref.c0!);
          else expect(g.c0).toBeUndefined();
          // The forward results of the training pass match the inference reference.
          const fwd = recurrentForwardReference(model.spec, dict, x, { batch, seqLen, h0, c0 });
          expectClose(`${label}: output`, g.output, fwd.output);
          expectClose(`${label}: hN`, g.hN, fwd.hN);
          model.destroy();
        });
      }
    }
  }
});

describe.each(TRAINABLE)('$name gradients with variable lengths', (config) => {
  for (const batchFirst of [false, true]) {
    it(`2 layers, bidirectional, batchFirst=${batchFirst}: the sum over the sequences alone`, async () => {
      const I = 3;
      const H = 5;
      const B = 5;
      const T = 4;
      const model = config.make(engine, { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst, persistent: batchFirst });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const isLstm = model.kind === 'lstm';
      const state = 4 * B * H;
      const seqLens = [4, 1, 3, 2, 4];
      const x = randomFloats(rng, T * B * I);
      const h0 = randomFloats(rng, state);
      const c0 = isLstm ? randomFloats(rng, state) : undefined;
      const gradOutput = randomFloats(rng, T * B * 2 * H);
      const gradHN = randomFloats(rng, state);
      const gradCN = isLstm ? randomFloats(rng, state) : undefined;
      const g = await model.gradients(x, { batch: B, seqLen: T, seqLens, h0, c0, gradOutput, gradHN, gradCN });
      const ref = recurrentBackwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens, h0, c0, gradOutput, gradHN, gradCN });
      const label = `${config.name} seqLens batchFirst=${batchFirst} (seed ${seed})`;
      for (const name of Object.keys(ref.params)) expectRelativeL2(`${label}: ${name}`, g.params[name], ref.params[name]);
      expectRelativeL2(`${label}: input`, g.input, ref.input);
      expectRelativeL2(`${label}: h0`, g.h0, ref.h0);
      if (isLstm) expectRelativeL2(`${label}: c0`, g.c0!, ref.c0!);
      const fwd = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens, h0, c0 });
      expectClose(`${label}: output`, g.output, fwd.output);
      model.destroy();
    });
  }
});

describe('gradients: scheduling and errors', () => {
  it('bad gradient inputs are refused with the tensor and shapes named', async () => {
    const model = engine.gru({ inputSize: 2, hiddenSize: 3 });
    const x = new Float32Array(4 * 1 * 2);
    await expect(model.gradients(x, { batch: 1, seqLen: 4, gradOutput: new Float32Array(5) })).rejects.toMatchObject({ tensor: 'gradOutput', expected: [4, 1, 3] });
    await expect(model.gradients(x, { batch: 1, seqLen: 4, gradOutput: new Float32Array(12), gradHN: new Float32Array(2) })).rejects.toMatchObject({ tensor: 'gradHN', expected: [1, 1, 3] });
    await expect(model.gradients(x, { batch: 1, seqLen: 4, gradOutput: new Float32Array(12), gradCN: new Float32Array(3) })).rejects.toThrow(/gradCN is only for LSTM/);
    const onnx = engine.gru({ inputSize: 2, hiddenSize: 3, linearBeforeReset: false });
    await expect(onnx.gradients(x, { batch: 1, seqLen: 4, gradOutput: new Float32Array(12) })).rejects.toThrow(/not available for a GRU with linearBeforeReset: false/);
    model.destroy();
    onnx.destroy();
  });
});
