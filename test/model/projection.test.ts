/**
 * LSTMs with projections (projSize, PyTorch's proj_size) on the engine's backend against the
 * float64 references: forward with sequence lengths and initial states in both directions,
 * gradients, training steps and resuming them, dropout, streams, and a stack whose middle layer
 * projects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { recurrentBackwardReference } from '../../src/reference/recurrent-backward.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { trainStepReference, type ReferenceOptimizerState } from '../../src/reference/train-step.js';
import { dropoutKeys, dropoutMask } from '../../src/reference/dropout.js';
import { stateSize } from '../../src/spec/spec.js';
import { resolveOptimizer, type OptimizerConfig } from '../../src/train/options.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('projection');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const I = 3;
const B = 3;
const T = 5;

describe('LSTM projections', () => {
  // On WebGPU the first runs the persistent kernels (resident on a software adapter), the second one dispatch a step.
  for (const { bidirectional, numLayers, batchFirst, persistent } of [
    { bidirectional: true, numLayers: 2, batchFirst: false, persistent: true },
    { bidirectional: false, numLayers: 1, batchFirst: true, persistent: false },
  ]) {
    it(`${numLayers} layer${numLayers > 1 ? 's' : ''}, ${bidirectional ? 'bidirectional' : 'one direction'}${persistent ? ', persistent' : ''}: forward and gradients with lengths and initial states match the references`, async () => {
      const model = engine.lstm({ inputSize: I, hiddenSize: 7, projSize: 4, numLayers, bidirectional, batchFirst, outputSize: 2, persistent });
      const D = bidirectional ? 2 : 1;
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      expect((await model.stateDict()).weight_hr_l0).toEqual(dict.weight_hr_l0);
      const seqLens = [5, 2, 4];
      const x = randomFloats(rng, T * B * I);
      const h0 = randomFloats(rng, stateSize(model.spec, B));
      const c0 = randomFloats(rng, stateSize(model.spec, B, true));
      expect([h0.length, c0.length]).toEqual([numLayers * D * B * 4, numLayers * D * B * 7]);
      const options = { batch: B, seqLen: T, seqLens, h0, c0 };
      const got = await model.forward(x, options);
      const want = recurrentForwardReference(model.spec, dict, x, options);
      expect(got.output.length).toBe(T * B * D * 4);
      for (const k of ['output', 'hN', 'cN', 'y'] as const) expectClose(`${k} (seed ${seed})`, got[k as 'y']!, want[k]!);
      const gradOutput = randomFloats(rng, T * B * D * 4);
      const gradHN = randomFloats(rng, h0.length);
      const gradCN = randomFloats(rng, c0.length);
      const g = await model.gradients(x, { ...options, gradOutput, gradHN, gradCN });
      const gr = recurrentBackwardReference(model.spec, dict, x, { ...options, gradOutput, gradHN, gradCN });
      expect(Object.keys(g.params).sort()).toEqual(Object.keys(gr.params).sort());
      for (const p of Object.keys(gr.params)) expectClose(`d${p} (seed ${seed})`, g.params[p], gr.params[p]);
      for (const k of ['input', 'h0', 'c0'] as const) expectClose(`d${k} (seed ${seed})`, g[k]!, gr[k]!);
      // Without initial states and lengths too (the projection of zeros adds nothing).
      expectClose(`forward from zeros (seed ${seed})`, (await model.forward(x, { batch: B, seqLen: T })).y, recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T }).y);
      await expect(model.exportOnnx()).rejects.toThrow(/exportOnnx: an LSTM with projections \(projSize\) is not exported/);
      model.destroy();
    });
  }

  // Adam's eps 1e-4, not 1e-8: an element whose gradient sits at float32's noise floor would
  // take its normalised step from that noise (see ADAM_EPS in test/train/train-step.test.ts).
  for (const optimizer of [{ type: 'adam', lr: 0.02, eps: 1e-4 }, { type: 'sgd', lr: 0.1, momentum: 0.9 }] as OptimizerConfig[]) {
    it(`trains with ${optimizer.type} as the float64 reference does`, async () => {
      const model = engine.lstm({ inputSize: I, hiddenSize: 6, projSize: 2, numLayers: 2, bidirectional: true, outputSize: 2 });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const params = Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, Float64Array.from(v)]));
      const state: ReferenceOptimizerState = {};
      const seqLens = [5, 3, 4];
      for (let s = 1; s <= 3; s++) {
        const x = randomFloats(rng, T * B * I);
        const y = randomFloats(rng, T * B * 2);
        const got = await model.trainStep(x, y, { batch: B, seqLen: T, seqLens, loss: 'mse', optimizer, clipGradNorm: 1 });
        const mask = Float32Array.from({ length: T * B }, (_, i) => (Math.floor(i / B) < seqLens[i % B] ? 1 : 0));
        const ref = trainStepReference(model.spec, params, state, s, x, y, { batch: B, seqLen: T, seqLens, loss: 'mse', lossOn: 'all', mask, optimizer: resolveOptimizer(optimizer), maxNorm: 1, clipValue: 0 });
        expectClose(`step ${s}: loss (seed ${seed})`, [got.loss], [ref.loss]);
      }
      const after = await model.stateDict();
      for (const p of Object.keys(params)) expectClose(`${p} after 3 steps (seed ${seed})`, after[p], params[p]);
      // Resumes from a file with the projections' moments.
      const resumed = await engine.load(await model.save({ optimizer: true }), { format: 'safetensors' });
      expect(resumed.spec).toEqual(model.spec);
      const x = randomFloats(rng, T * B * I);
      const y = randomFloats(rng, T * B * 2);
      const step = { batch: B, seqLen: T, loss: 'mse' as const };
      expect((await resumed.trainStep(x, y, step)).loss).toBeCloseTo((await model.trainStep(x, y, step)).loss!, 5);
      for (const m of [model, resumed]) m.destroy();
    });
  }

  it('drops between projecting layers with masks of their P features a direction', async () => {
    const model = engine.lstm({ inputSize: I, hiddenSize: 5, projSize: 2, numLayers: 2, bidirectional: true, dropout: 0.4, seed: 23 });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * B * I);
    const gradOutput = randomFloats(rng, T * B * 4);
    const masks = [dropoutMask(T * B * 2 * 2, 0.4, dropoutKeys(23, 0, 0))];
    const got = await model.gradients(x, { batch: B, seqLen: T, gradOutput, training: true });
    const ref = recurrentBackwardReference(model.spec, dict, x, { batch: B, seqLen: T, gradOutput, dropoutMasks: masks });
    expectClose(`dropout output (seed ${seed})`, got.output, recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, dropoutMasks: masks }).output);
    for (const p of Object.keys(ref.params)) expectClose(`dropout d${p} (seed ${seed})`, got.params[p], ref.params[p]);
    model.destroy();
  });

  it('streams step by step as forward runs, and projects in a stack\'s middle layer', async () => {
    const model = engine.lstm({ inputSize: I, hiddenSize: 5, projSize: 3, numLayers: 2, outputSize: 2 });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * B * I);
    const h0 = randomFloats(rng, stateSize(model.spec, B));
    const c0 = randomFloats(rng, stateSize(model.spec, B, true));
    const want = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, h0, c0 });
    const s = model.stream({ batch: B, h0, c0 });
    for (let t = 0; t < T; t++) expectClose(`stream step ${t} (seed ${seed})`, (await s.step(x.subarray(t * B * I, (t + 1) * B * I))).y!, want.y.subarray(t * B * 2, (t + 1) * B * 2));
    expectClose(`stream state (seed ${seed})`, (await s.state()).h, want.hN);
    s.close();
    model.destroy();

    const stack = engine.stack({ inputSize: I, outputSize: 2, layers: [{ kind: 'gru', hiddenSize: 4, bidirectional: true }, { kind: 'lstm', hiddenSize: 6, projSize: 3, bidirectional: true }, { kind: 'rnn', hiddenSize: 2 }] });
    const sd = randomStateDict(stack.spec, rng);
    stack.loadStateDict(sd);
    const gradOutput = randomFloats(rng, T * B * 2);
    const options = { batch: B, seqLen: T, seqLens: [4, 5, 1] };
    const g = await stack.gradients(x, { ...options, gradOutput });
    const gr = recurrentBackwardReference(stack.spec, sd, x, { ...options, gradOutput });
    expectClose(`stack output (seed ${seed})`, g.output, recurrentForwardReference(stack.spec, sd, x, options).output);
    for (const p of Object.keys(gr.params)) expectClose(`stack d${p} (seed ${seed})`, g.params[p], gr.params[p]);
    expectClose(`stack dx (seed ${seed})`, g.input, gr.input);
    stack.destroy();
  });
});
