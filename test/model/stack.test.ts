/**
 * Stacks of unlike layers (engine.stack) on the engine's backend against the float64 references:
 * forward with sequence lengths and initial states, gradients, training steps, dropout between
 * layers, streams, and the shapes and errors of the per-layer states.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { recurrentBackwardReference } from '../../src/reference/recurrent-backward.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { trainStepReference, type ReferenceOptimizerState } from '../../src/reference/train-step.js';
import { dropoutKeys, dropoutMask } from '../../src/reference/dropout.js';
import { stateSize } from '../../src/spec/spec.js';
import type { StackLayerOptions } from '../../src/spec/stack.js';
import { resolveOptimizer, type OptimizerConfig } from '../../src/train/options.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('stack');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const I = 3;
const B = 3;
const T = 5;

// Odd widths, every cell, directions changing between layers.
// On WebGPU the first runs the persistent kernels (resident on a software adapter), the second one dispatch a step.
const STACKS: Array<{ name: string; layers: StackLayerOptions[]; persistent: boolean }> = [
  { name: 'bidirectional LSTM 6 → GRU 5 → Elman relu 3', persistent: true, layers: [{ kind: 'lstm', hiddenSize: 6, bidirectional: true }, { kind: 'gru', hiddenSize: 5 }, { kind: 'rnn', hiddenSize: 3, nonlinearity: 'relu' }] },
  { name: 'GRU 7 → bidirectional LSTM 3 → LSTM 5', persistent: false, layers: [{ kind: 'gru', hiddenSize: 7 }, { kind: 'lstm', hiddenSize: 3, bidirectional: true }, { kind: 'lstm', hiddenSize: 5 }] },
];

describe('stacks of unlike layers', () => {
  for (const { name, layers, persistent } of STACKS) {
    it(`${name}${persistent ? ', persistent' : ''}: forward and gradients match the float64 references`, async () => {
      const model = engine.stack({ inputSize: I, layers, batchFirst: true, outputSize: 2, persistent });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const seqLens = [5, 2, 4];
      const x = randomFloats(rng, T * B * I);
      const h0 = randomFloats(rng, stateSize(model.spec, B));
      const c0 = randomFloats(rng, stateSize(model.spec, B, true));
      const options = { batch: B, seqLen: T, seqLens, h0, c0 };
      const got = await model.forward(x, options);
      const want = recurrentForwardReference(model.spec, dict, x, options);
      for (const k of ['output', 'hN', 'cN', 'y'] as const) expectClose(`${k} (seed ${seed})`, got[k as 'y']!, want[k]!);
      expect(got.hN.length).toBe(B * layers.reduce((n, l) => n + (l.bidirectional ? 2 : 1) * l.hiddenSize, 0));

      const last = layers[layers.length - 1];
      const gradOutput = randomFloats(rng, T * B * (last.bidirectional ? 2 : 1) * last.hiddenSize);
      const gradHN = randomFloats(rng, h0.length);
      const gradCN = randomFloats(rng, c0.length);
      const g = await model.gradients(x, { ...options, gradOutput, gradHN, gradCN });
      const gr = recurrentBackwardReference(model.spec, dict, x, { ...options, gradOutput, gradHN, gradCN });
      expect(Object.keys(g.params).sort()).toEqual(Object.keys(gr.params).sort());
      for (const p of Object.keys(gr.params)) expectClose(`d${p} (seed ${seed})`, g.params[p], gr.params[p]);
      expectClose(`dx (seed ${seed})`, g.input, gr.input);
      expectClose(`dh0 (seed ${seed})`, g.h0, gr.h0);
      expectClose(`dc0 (seed ${seed})`, g.c0!, gr.c0!);
      model.destroy();
    });
  }

  // Adam's eps 1e-4, not 1e-8: an element whose gradient sits at float32's noise floor would
  // take its normalised step from that noise (see ADAM_EPS in test/train/train-step.test.ts).
  for (const optimizer of [{ type: 'adam', lr: 0.02, eps: 1e-4 }, { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }] as OptimizerConfig[]) {
    it(`trains with ${optimizer.type} as the float64 reference does (loss on the final states, clipping)`, async () => {
      const model = engine.stack({ inputSize: I, layers: STACKS[0].layers, outputSize: 2, returnSequences: false });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const params = Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, Float64Array.from(v)]));
      const state: ReferenceOptimizerState = {};
      const step = { batch: B, seqLen: T, loss: 'mse' as const, optimizer, clipGradNorm: 0.5 };
      for (let s = 1; s <= 3; s++) {
        const x = randomFloats(rng, T * B * I);
        const y = randomFloats(rng, B * 2);
        const got = await model.trainStep(x, y, step);
        const ref = trainStepReference(model.spec, params, state, s, x, y, { batch: B, seqLen: T, loss: 'mse', lossOn: 'final', mask: new Float32Array(B).fill(1), optimizer: resolveOptimizer(optimizer), maxNorm: 0.5, clipValue: 0 });
        expectClose(`step ${s}: loss (seed ${seed})`, [got.loss], [ref.loss]);
      }
      const after = await model.stateDict();
      for (const p of Object.keys(params)) expectClose(`${p} after 3 steps (seed ${seed})`, after[p], params[p]);
      const history = await model.fit(randomFloats(rng, T * 6 * I), randomFloats(rng, 6 * 2), { batch: 6, seqLen: T, loss: 'mse', batchSize: 3, epochs: 2, optimizer });
      expect(history.steps).toBe(4);
      model.destroy();
    });
  }

  it('drops between unlike layers with each boundary\'s masks, as the reference does', async () => {
    const layers = STACKS[0].layers;
    const model = engine.stack({ inputSize: I, layers, dropout: 0.4, seed: 17 });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * B * I);
    const gradOutput = randomFloats(rng, T * B * 3);
    const seqLens = [5, 3, 4];
    // Boundary l masks layer l's output, [T, B, D_l·H_l].
    const masks = [0, 1].map((l) => dropoutMask(T * B * model.spec.layers[l].numDirections * model.spec.layers[l].hiddenSize, 0.4, dropoutKeys(17, 0, l)));
    const got = await model.gradients(x, { batch: B, seqLen: T, seqLens, gradOutput, training: true });
    const opts = { batch: B, seqLen: T, seqLens, dropoutMasks: masks };
    const ref = recurrentBackwardReference(model.spec, dict, x, { ...opts, gradOutput });
    expectClose(`dropout output (seed ${seed})`, got.output, recurrentForwardReference(model.spec, dict, x, opts).output);
    for (const p of Object.keys(ref.params)) expectClose(`dropout d${p} (seed ${seed})`, got.params[p], ref.params[p]);
    expectClose(`dropout dx (seed ${seed})`, got.input, ref.input);
    await expect(model.exportOnnx()).rejects.toThrow(/exportOnnx: a stack of layers that differ/);
    model.destroy();
  });

  it('streams a unidirectional stack step by step as forward runs it', async () => {
    const model = engine.stack({ inputSize: I, layers: [{ kind: 'lstm', hiddenSize: 4 }, { kind: 'rnn', hiddenSize: 6 }, { kind: 'gru', hiddenSize: 3 }], outputSize: 2 });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * B * I);
    const h0 = randomFloats(rng, stateSize(model.spec, B));
    const c0 = randomFloats(rng, stateSize(model.spec, B, true));
    const want = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, h0, c0 });
    const s = model.stream({ batch: B, h0, c0 });
    for (let t = 0; t < T; t++) expectClose(`stream step ${t} (seed ${seed})`, (await s.step(x.subarray(t * B * I, (t + 1) * B * I))).y!, want.y.subarray(t * B * 2, (t + 1) * B * 2));
    const states = await s.state();
    expectClose(`stream states h (seed ${seed})`, states.h, want.hN);
    expectClose(`stream states c (seed ${seed})`, states.c!, want.cN!);
    s.close();
    // Initialisers work layer by layer: the LSTM's forget gate bias, each W_hh orthogonal at its own width.
    model.initialize({ forgetBias: 1, weightHh: 'orthogonal' });
    const init = await model.stateDict();
    expect([...init.bias_ih_l0.subarray(4, 8)]).toEqual([1, 1, 1, 1]);
    expect(init.bias_ih_l1.length).toBe(6);
    const w = init.weight_hh_l1;
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) expect(Math.abs(w.slice(i * 6, i * 6 + 6).reduce((a, v, k) => a + v * w[j * 6 + k], 0) - (i === j ? 1 : 0))).toBeLessThan(1e-5);
    model.destroy();
  });

  it('names the states\' shapes and refuses what a stack cannot take', async () => {
    const model = engine.stack({ inputSize: I, layers: [{ kind: 'gru', hiddenSize: 4, bidirectional: true }, { kind: 'rnn', hiddenSize: 2 }] });
    expect(model.kind).toBe('rnn');
    const x = randomFloats(rng, T * B * I);
    await expect(model.forward(x, { batch: B, seqLen: T, h0: new Float32Array(3) })).rejects.toThrow(/h0.*\[30\]/);
    await expect(model.forward(x, { batch: B, seqLen: T, c0: new Float32Array(30) })).rejects.toThrow(/c0 is only for LSTM models \(or stacks with LSTM layers\), this is stack of gru\(4, bidirectional\), rnn\(2\)/);
    expect(() => model.stream({ batch: B })).toThrow(/stream: a bidirectional model/);
    const r = await model.forward(x, { batch: B, seqLen: T });
    expect(r.output.length).toBe(T * B * 2);
    expect(r.hN.length).toBe(B * (8 + 2));
    expect('cN' in r).toBe(false);
    model.destroy();
  });
});
