/**
 * Dropout between layers on the backend against the float64 reference given the same masks
 * (reference/dropout.ts, drawn from the model's seed and its count of training calls): the
 * gradients of a training pass, training steps, resuming from a file; and forward, streams and
 * gradients without `training` never dropping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import { dropoutKeys, dropoutMask } from '../../src/reference/dropout.js';
import { recurrentBackwardReference } from '../../src/reference/recurrent-backward.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { trainStepReference, type ReferenceOptimizerState } from '../../src/reference/train-step.js';
import type { ModelSpec } from '../../src/spec/spec.js';
import { resolveOptimizer, type OptimizerConfig } from '../../src/train/options.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('dropout model');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const I = 3;
const H = 5;
const B = 3;
const T = 4;

/** The masks of training call `call`: one per layer but the last, [T, B, D·H]. */
function masks(spec: ModelSpec, call: number): Float64Array[] {
  return Array.from({ length: spec.numLayers - 1 }, (_, l) => dropoutMask(T * B * spec.numDirections * H, spec.dropout, dropoutKeys(spec.seed, call, l)));
}

function withWeights(model: RecurrentModel): Record<string, Float32Array> {
  const dict = randomStateDict(model.spec, rng);
  model.loadStateDict(dict);
  return dict;
}

describe('dropout between layers', () => {
  it('gradients with training: true drop with the masks of each call; without, and forward and streams, never', async () => {
    const model = engine.lstm({ inputSize: I, hiddenSize: H, numLayers: 3, bidirectional: true, dropout: 0.3, seed: 41 });
    const dict = withWeights(model);
    const x = randomFloats(rng, T * B * I);
    const gradOutput = randomFloats(rng, T * B * 2 * H);
    const gradHN = randomFloats(rng, 3 * 2 * B * H);
    const seqLens = [4, 2, 3];
    expect(model.dropoutCalls).toBe(0);
    for (const call of [0, 1]) {
      const got = await model.gradients(x, { batch: B, seqLen: T, seqLens, gradOutput, gradHN, training: true });
      const opts = { batch: B, seqLen: T, seqLens, dropoutMasks: masks(model.spec, call) };
      const ref = recurrentBackwardReference(model.spec, dict, x, { ...opts, gradOutput, gradHN });
      const fwd = recurrentForwardReference(model.spec, dict, x, opts);
      const label = `call ${call} (seed ${seed})`;
      expectClose(`${label}: output`, got.output, fwd.output);
      expectClose(`${label}: hN`, got.hN, fwd.hN);
      for (const name of Object.keys(ref.params)) expectClose(`${label}: d${name}`, got.params[name], ref.params[name]);
      expectClose(`${label}: dx`, got.input, ref.input);
      expectClose(`${label}: dh0`, got.h0, ref.h0);
      expect(model.dropoutCalls).toBe(call + 1);
    }
    // Not training: no masks, and no call counted.
    const plain = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens });
    const g = await model.gradients(x, { batch: B, seqLen: T, seqLens, gradOutput });
    expectClose(`gradients without training: output (seed ${seed})`, g.output, plain.output);
    expectClose(`gradients without training: dx (seed ${seed})`, g.input, recurrentBackwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens, gradOutput }).input);
    expectClose(`forward (seed ${seed})`, (await model.forward(x, { batch: B, seqLen: T, seqLens })).output, plain.output);
    expect(model.dropoutCalls).toBe(2);
    model.destroy();
  });

  it('a stream never drops', async () => {
    const model = engine.gru({ inputSize: I, hiddenSize: H, numLayers: 2, dropout: 0.5 });
    const dict = withWeights(model);
    const x = randomFloats(rng, T * B * I);
    const ref = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T });
    const s = model.stream({ batch: B });
    for (let t = 0; t < T; t++) expectClose(`stream step ${t} (seed ${seed})`, (await s.step(x.subarray(t * B * I, (t + 1) * B * I))).h, ref.output.subarray(t * B * H, (t + 1) * B * H));
    s.close();
    model.destroy();
  });

  for (const [kind, optimizer] of [
    ['gru', { type: 'adam', lr: 0.02, eps: 1e-4 }],
    ['rnn', { type: 'sgd', lr: 0.1, momentum: 0.9 }],
  ] as const) {
    it(`${kind}: training steps drop as the reference does with each call's masks, and resume from a file exactly`, async () => {
      const O = 2;
      const model = engine[kind]({ inputSize: I, hiddenSize: H, numLayers: 3, bidirectional: kind === 'gru', dropout: 0.25, outputSize: O, seed: 7 });
      const dict = withWeights(model);
      const params = Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, Float64Array.from(v)]));
      const state: ReferenceOptimizerState = {};
      const data = Array.from({ length: 6 }, () => ({ x: randomFloats(rng, T * B * I), y: randomFloats(rng, T * B * O) }));
      const o: OptimizerConfig = optimizer;
      for (let s = 0; s < 3; s++) {
        const got = await model.trainStep(data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse', optimizer: o });
        const ref = trainStepReference(model.spec, params, state, s + 1, data[s].x, data[s].y, {
          batch: B, seqLen: T, loss: 'mse', lossOn: 'all', mask: new Float32Array(T * B).fill(1), optimizer: resolveOptimizer(o), maxNorm: 0, clipValue: 0, dropoutMasks: masks(model.spec, s),
        });
        expectClose(`${kind} step ${s}: loss (seed ${seed})`, [got.loss], [ref.loss]);
      }
      const after = await model.stateDict();
      for (const name of Object.keys(params)) expectClose(`${kind} after 3 steps: ${name} (seed ${seed})`, after[name], params[name]);
      // The count of dropout calls travels with the optimizer's state.
      const resumed = await engine.load(await model.save({ optimizer: true }), { format: 'safetensors', dropout: 0.25, seed: 7 });
      expect(resumed.dropoutCalls).toBe(3);
      for (let s = 3; s < 6; s++) {
        await model.trainStep(data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse' });
        await resumed.trainStep(data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse' });
      }
      const [a, b] = [await model.stateDict(), await resumed.stateDict()];
      for (const k of Object.keys(a)) expect(new Uint32Array(b[k].buffer), `${kind} resumed: ${k}`).toEqual(new Uint32Array(a[k].buffer));
      model.destroy();
      resumed.destroy();
    });
  }

  it('validates p, and a single layer has nothing to drop', async () => {
    for (const p of [1, -0.1, NaN, '0.5']) expect(() => engine.lstm({ inputSize: I, hiddenSize: H, numLayers: 2, dropout: p as number })).toThrow(/dropout must be a probability in \[0, 1\)/);
    const one = engine.rnn({ inputSize: I, hiddenSize: H, dropout: 0.5, outputSize: 1 });
    const dict = withWeights(one);
    const x = randomFloats(rng, T * B * I);
    const gradOutput = randomFloats(rng, T * B * H);
    const got = await one.gradients(x, { batch: B, seqLen: T, gradOutput, training: true });
    expectClose(`one layer (seed ${seed})`, got.input, recurrentBackwardReference(one.spec, dict, x, { batch: B, seqLen: T, gradOutput }).input);
    expect(one.dropoutCalls).toBe(0);
    await expect(one.gradients(x, { batch: B, seqLen: T, gradOutput, training: 1 as never })).rejects.toThrow(/training must be a boolean/);
    one.destroy();
  });
});
