/**
 * weightPrecision 'f16': W_hh rounded to half precision wherever it is written, the forward
 * equal to the float64 reference of the rounded weights (float32 tolerance), within the stated
 * bound of the reference of the weights as given, saved and loaded with the option; gradients
 * and training refused by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { roundToHalf } from '../../src/spec/half.js';
import { stateSize } from '../../src/spec/spec.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('weight-precision');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

/** The bound docs/architecture.md states for the outputs against the unrounded weights' reference (PyTorch's initialisation, inputs in [-1, 1]). */
const F16_OUTPUT_BOUND = 2e-3;

const CASES = [
  { name: 'LSTM, 2 bidirectional layers, H = 65', make: (e: Engine) => e.lstm({ inputSize: 7, hiddenSize: 65, numLayers: 2, bidirectional: true, weightPrecision: 'f16' }) },
  { name: 'GRU, H = 130, persistent', make: (e: Engine) => e.gru({ inputSize: 5, hiddenSize: 130, persistent: true, weightPrecision: 'f16' }) },
  { name: 'Elman tanh, H = 33, per step', make: (e: Engine) => e.rnn({ inputSize: 3, hiddenSize: 33, persistent: false, weightPrecision: 'f16' }) },
  { name: 'GRU linearBeforeReset false, H = 16', make: (e: Engine) => e.gru({ inputSize: 4, hiddenSize: 16, linearBeforeReset: false, weightPrecision: 'f16' }) },
  { name: 'stack: LSTM(24, bidirectional) then Elman(9)', make: (e: Engine) => e.stack({ inputSize: 6, layers: [{ kind: 'lstm', hiddenSize: 24, bidirectional: true }, { kind: 'rnn', hiddenSize: 9 }], weightPrecision: 'f16' }) },
];

describe("weightPrecision 'f16'", () => {
  for (const { name, make } of CASES) {
    it(`${name}: W_hh rounded; the forward is the rounded weights' reference, near the given weights'`, async () => {
      const model = make(engine);
      try {
        const { spec } = model;
        const dict = randomStateDict(spec, rng);
        model.loadStateDict(dict);
        const held = await model.stateDict();
        const rounded: Record<string, Float32Array> = {};
        for (const [k, v] of Object.entries(dict)) {
          const expected = k.startsWith('weight_hh') ? Float32Array.from(v, roundToHalf) : v;
          expect(Array.from(held[k]), k).toEqual(Array.from(expected));
          if (k.startsWith('weight_hh')) expect(Array.from(held[k]), `${k} is rounded`).not.toEqual(Array.from(v));
          rounded[k] = expected;
        }
        const [B, T] = [3, 9];
        const seqLens = [9, 4, 7];
        const x = randomFloats(rng, T * B * spec.inputSize);
        const h0 = randomFloats(rng, stateSize(spec, B), -0.5, 0.5);
        const out = await model.forward(x, { batch: B, seqLen: T, seqLens, h0 });
        const ref = recurrentForwardReference(spec, rounded, x, { batch: B, seqLen: T, seqLens, h0 });
        expectClose(`${name} (seed ${seed}): output`, out.output, ref.output);
        expectClose(`${name} (seed ${seed}): hN`, out.hN, ref.hN);
        const given = recurrentForwardReference(spec, dict, x, { batch: B, seqLen: T, seqLens, h0 });
        let worst = 0;
        for (let i = 0; i < given.output.length; i++) worst = Math.max(worst, Math.abs(out.output[i] - given.output[i]));
        console.info(`${name}: largest |output − reference of the given weights| ${worst.toExponential(2)}`);
        expect(worst, `${name}: largest |output − reference of the given weights|`).toBeLessThanOrEqual(F16_OUTPUT_BOUND);
        expect(worst).toBeGreaterThan(0);
      } finally {
        model.destroy();
      }
    });
  }

  it('streams step on the rounded weights as the forward does', async () => {
    const model = engine.lstm({ inputSize: 4, hiddenSize: 20, weightPrecision: 'f16' });
    model.loadStateDict(randomStateDict(model.spec, rng));
    const x = randomFloats(rng, 5 * 4);
    const all = await model.forward(x, { batch: 1, seqLen: 5 });
    const stream = model.stream({ batch: 1 });
    for (let t = 0; t < 5; t++) {
      const { h } = await stream.step(x.subarray(t * 4, (t + 1) * 4));
      expectClose(`step ${t}`, h, all.output.subarray(t * 20, (t + 1) * 20));
    }
    stream.close();
    model.destroy();
  });

  it('saves the option with the weights and loads it back; initialize rounds too', async () => {
    const model = engine.gru({ inputSize: 3, hiddenSize: 6, weightPrecision: 'f16' });
    model.initialize({ weightHh: 'orthogonal' });
    const before = await model.stateDict();
    for (const [k, v] of Object.entries(before)) if (k.startsWith('weight_hh')) expect(Array.from(v)).toEqual(Array.from(v, roundToHalf));
    const bytes = await model.save();
    expect(JSON.parse(readSafetensors(bytes).metadata['webrnn.model'])).toMatchObject({ weightPrecision: 'f16' });
    const back = await engine.load(bytes, { format: 'safetensors' });
    expect(back.spec.weightPrecision).toBe('f16');
    const after = await back.stateDict();
    for (const k of Object.keys(before)) expect(Array.from(after[k]), k).toEqual(Array.from(before[k]));
    const asF32 = await engine.load(bytes, { format: 'safetensors', weightPrecision: 'f32' });
    expect(asF32.spec.weightPrecision).toBe('f32');
    model.destroy();
    back.destroy();
    asF32.destroy();
  });

  it('refuses gradients, training and what it does not support, by name', async () => {
    const model = engine.rnn({ inputSize: 2, hiddenSize: 3, outputSize: 1, weightPrecision: 'f16' });
    const x = randomFloats(rng, 4 * 2);
    await expect(model.gradients(x, { batch: 1, seqLen: 4, gradOutput: new Float32Array(12) })).rejects.toThrow(/gradients: not available with weightPrecision 'f16'/);
    await expect(model.trainStep(x, new Float32Array(4), { batch: 1, seqLen: 4, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } })).rejects.toThrow(/trainStep: not available with weightPrecision 'f16'/);
    model.destroy();
    expect(() => engine.lstm({ inputSize: 2, hiddenSize: 4, projSize: 2, weightPrecision: 'f16' })).toThrow(/weightPrecision 'f16' with projSize is not supported/);
    expect(() => engine.stack({ inputSize: 2, layers: [{ kind: 'lstm', hiddenSize: 4, projSize: 2 }, { kind: 'gru', hiddenSize: 3 }], weightPrecision: 'f16' })).toThrow(/weightPrecision 'f16' with projSize/);
    expect(() => engine.gru({ inputSize: 2, hiddenSize: 4, weightPrecision: 'bf16' as 'f16' })).toThrow(/weightPrecision must be 'f32' or 'f16', got bf16/);
  });
});
