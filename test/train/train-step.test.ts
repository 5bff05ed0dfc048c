/**
 * model.trainStep on the GPU against the float64 reference of whole training steps (loss,
 * BPTT, clipping, optimizer), over several steps so that optimizer state is exercised.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { autoPersistent, autoPersistentSweep } from '../../src/placement/rules.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import { gateCount, type CellKind, type LstmOptions } from '../../src/spec/spec.js';
import { resolveClipping, resolveOptimizer, type OptimizerConfig } from '../../src/train/options.js';
import { trainStepReference, type ReferenceOptimizerState } from '../../src/reference/train-step.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose } from '../helpers/compare.js';
import { countDeviceCalls, randomFloats } from '../helpers/gpu.js';
import { CELL_CONFIGS, randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('train-step');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

// Adam's step lr·m̂/(√v̂ + eps) normalises the gradient's scale away, so its derivative in the
// gradient reaches lr/eps where a gradient is near zero: with PyTorch's eps = 1e-8 a gradient
// that is zero analytically (an LSTM gate's weight at a step whose input is zero, say) but
// 1e-10 after float32 rounding moves the weight by 1e-4 in one step, and a float32 engine
// cannot agree with a float64 reference there. eps = 1e-4 bounds that gain at lr/eps ≤ 200
// while staying a visible part of the update (gradients here are ~1e-3..1e-1); the Adam kernel
// itself is checked with the default eps on exact inputs in test/kernels/adam-update.test.ts.
const ADAM_EPS = 1e-4;

/** Load random weights into `model`; their float64 copy, for the reference. */
function loadRandomWeights(model: RecurrentModel): Record<string, Float64Array> {
  const dict = randomStateDict(model.spec, rng);
  model.loadStateDict(dict);
  const params: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(dict)) params[k] = Float64Array.from(v);
  return params;
}

const OPTIMIZERS: OptimizerConfig[] = [
  { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
  { type: 'adamw', lr: 0.01, eps: ADAM_EPS },
  { type: 'adam', lr: 0.02, weightDecay: 0.001, eps: ADAM_EPS },
];

// Even cases run bidirectional models: 'final' there reads the reverse direction's state at t = 0.
const CASES: Array<{ loss: 'mse' | 'cross-entropy'; lossOn: 'all' | 'last' | 'final'; batchFirst: boolean; clip: { clipGradNorm?: number; clipGradValue?: number } }> = [
  { loss: 'mse', lossOn: 'all', batchFirst: false, clip: { clipGradNorm: 0.5 } },
  { loss: 'cross-entropy', lossOn: 'last', batchFirst: true, clip: { clipGradValue: 0.05 } },
  { loss: 'cross-entropy', lossOn: 'all', batchFirst: true, clip: {} },
  { loss: 'mse', lossOn: 'last', batchFirst: false, clip: { clipGradNorm: 100 } },
  { loss: 'mse', lossOn: 'final', batchFirst: true, clip: {} },
];

describe.each(CELL_CONFIGS.filter((c) => ['lstm', 'gru', 'rnn tanh', 'rnn identity'].includes(c.name)))('$name trainStep', (config) => {
  CASES.forEach((c, ci) => {
    const optimizer = OPTIMIZERS[ci % OPTIMIZERS.length];
    it(`${c.loss} on ${c.lossOn} steps, batchFirst=${c.batchFirst}, ${optimizer.type}, ${JSON.stringify(c.clip)}`, async () => {
      const I = 3;
      const H = 5;
      const O = 4;
      const B = 3;
      const T = 4;
      const model = config.make(engine, { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: ci % 2 === 0, batchFirst: c.batchFirst, outputSize: O });
      const params = loadRandomWeights(model);
      const state: ReferenceOptimizerState = {};
      const rows = c.lossOn === 'all' ? T * B : B;
      const mask = Float32Array.from({ length: rows }, (_, i) => (i % 4 === 3 ? 0 : 1));
      for (let step = 1; step <= 3; step++) {
        const x = randomFloats(rng, T * B * I);
        const target = c.loss === 'mse' ? randomFloats(rng, rows * O) : Float32Array.from({ length: rows }, () => Math.floor(rng.uniform() * O));
        const got = await model.trainStep(x, target, { batch: B, seqLen: T, loss: c.loss, lossOn: c.lossOn, mask, optimizer, returnGradNorm: true, ...c.clip });
        const ref = trainStepReference(model.spec, params, state, step, x, target, {
          batch: B,
          seqLen: T,
          loss: c.loss,
          lossOn: c.lossOn,
          mask,
          optimizer: resolveOptimizer(optimizer),
          ...resolveClipping(c.clip),
        });
        const label = `${config.name} step ${step} (seed ${seed})`;
        expectClose(`${label}: loss`, [got.loss!], [ref.loss]);
        expectClose(`${label}: grad norm`, [got.gradNorm!], [ref.gradNorm]);
      }
      const after = await model.stateDict();
      for (const name of Object.keys(params)) expectClose(`${config.name} after 3 steps: ${name} (seed ${seed})`, after[name], params[name]);
      model.destroy();
    });
  });
});

describe('trainStep with variable lengths', () => {
  it('an LSTM on padded sequences: three Adam steps match the reference', async () => {
    const model = engine.lstm({ inputSize: 2, hiddenSize: 4, bidirectional: true, outputSize: 2, batchFirst: true });
    const params = loadRandomWeights(model);
    const state: ReferenceOptimizerState = {};
    const B = 3;
    const T = 5;
    const seqLens = [5, 2, 3];
    // The loss on each sequence's own steps only ([B, T] in this batchFirst model).
    const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T < seqLens[Math.floor(i / T)] ? 1 : 0));
    const optimizer: OptimizerConfig = { type: 'adam', lr: 0.02, eps: ADAM_EPS };
    for (let step = 1; step <= 3; step++) {
      const x = randomFloats(rng, B * T * 2);
      const target = randomFloats(rng, B * T * 2);
      const got = await model.trainStep(x, target, { batch: B, seqLen: T, seqLens, mask, loss: 'mse', optimizer, returnGradNorm: true });
      const ref = trainStepReference(model.spec, params, state, step, x, target, { batch: B, seqLen: T, seqLens, loss: 'mse', lossOn: 'all', mask, optimizer: resolveOptimizer(optimizer), maxNorm: 0, clipValue: 0 });
      expectClose(`seqLens step ${step} loss (seed ${seed})`, [got.loss!], [ref.loss]);
      expectClose(`seqLens step ${step} grad norm (seed ${seed})`, [got.gradNorm!], [ref.gradNorm]);
    }
    const after = await model.stateDict();
    for (const name of Object.keys(params)) expectClose(`seqLens ${name} (seed ${seed})`, after[name], params[name]);
    model.destroy();
  });

  it('a bidirectional GRU without returnSequences trains on its final states by default: three SGD steps match the reference', async () => {
    const model = engine.gru({ inputSize: 2, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 3, batchFirst: true, returnSequences: false });
    const params = loadRandomWeights(model);
    const state: ReferenceOptimizerState = {};
    const B = 3;
    const T = 5;
    const seqLens = [2, 5, 4];
    const mask = Float32Array.from([1, 0.5, 1]);
    const optimizer: OptimizerConfig = { type: 'sgd', lr: 0.2, momentum: 0.9 };
    for (let step = 1; step <= 3; step++) {
      const x = randomFloats(rng, B * T * 2);
      const target = randomFloats(rng, B * 3);
      const got = await model.trainStep(x, target, { batch: B, seqLen: T, seqLens, mask, loss: 'mse', optimizer, returnGradNorm: true });
      const ref = trainStepReference(model.spec, params, state, step, x, target, { batch: B, seqLen: T, seqLens, loss: 'mse', lossOn: 'final', mask, optimizer: resolveOptimizer(optimizer), maxNorm: 0, clipValue: 0 });
      expectClose(`final step ${step} loss (seed ${seed})`, [got.loss!], [ref.loss]);
      expectClose(`final step ${step} grad norm (seed ${seed})`, [got.gradNorm!], [ref.gradNorm]);
    }
    const after = await model.stateDict();
    for (const name of Object.keys(params)) expectClose(`final ${name} (seed ${seed})`, after[name], params[name]);
    model.destroy();
  });

  it('without a mask, padded steps take no part in the loss', async () => {
    for (const batchFirst of [false, true]) {
      const model = engine.gru({ inputSize: 2, hiddenSize: 3, numLayers: 2, outputSize: 2, batchFirst });
      const params = loadRandomWeights(model);
      const B = 3;
      const T = 4;
      const seqLens = [4, 1, 3];
      const x = randomFloats(rng, B * T * 2);
      // Targets at padded steps are huge: counted in the loss, they would dominate it.
      const target = randomFloats(rng, B * T * 2);
      for (let b = 0; b < B; b++) for (let t = seqLens[b]; t < T; t++) target.fill(1e3, ((batchFirst ? b * T + t : t * B + b) * 2), (batchFirst ? b * T + t : t * B + b) * 2 + 2);
      const optimizer: OptimizerConfig = { type: 'sgd', lr: 0.1, momentum: 0.5 };
      const got = await model.trainStep(x, target, { batch: B, seqLen: T, seqLens, loss: 'mse', optimizer, returnGradNorm: true });
      const ones = new Float32Array(B * T).fill(1);
      const ref = trainStepReference(model.spec, params, {}, 1, x, target, { batch: B, seqLen: T, seqLens, loss: 'mse', lossOn: 'all', mask: ones, optimizer: resolveOptimizer(optimizer), maxNorm: 0, clipValue: 0 });
      const label = `seqLens without mask, batchFirst=${batchFirst} (seed ${seed})`;
      expect(got.loss!, label).toBeLessThan(100);
      expectClose(`${label}: loss`, [got.loss!], [ref.loss]);
      expectClose(`${label}: grad norm`, [got.gradNorm!], [ref.gradNorm]);
      const after = await model.stateDict();
      for (const name of Object.keys(params)) expectClose(`${label}: ${name}`, after[name], params[name]);
      model.destroy();
    }
  });

  it("lossOn 'last' reads each sequence's own last step", async () => {
    const model = engine.gru({ inputSize: 2, hiddenSize: 3, bidirectional: true, outputSize: 2, batchFirst: true });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const B = 3;
    const T = 4;
    const seqLens = [2, 4, 1];
    const x = randomFloats(rng, B * T * 2);
    const target = randomFloats(rng, B * 2);
    const got = await model.trainStep(x, target, { batch: B, seqLen: T, seqLens, loss: 'mse', lossOn: 'last', optimizer: { type: 'sgd', lr: 0.1 } });
    // By hand from the forward reference: y at (b, L_b − 1), mean squared error over B·O.
    const y = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens }).y!;
    let sum = 0;
    for (let b = 0; b < B; b++) for (let o = 0; o < 2; o++) sum += (y[(b * T + seqLens[b] - 1) * 2 + o] - target[b * 2 + o]) ** 2;
    expectClose(`last-step loss with seqLens (seed ${seed})`, [got.loss!], [sum / (B * 2)]);
    // And the update equals the reference's with the same rows given as 'all' plus a mask.
    const params: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(dict)) params[k] = Float64Array.from(v);
    const full = new Float32Array(B * T * 2);
    const mask = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      full.set(target.subarray(b * 2, b * 2 + 2), (b * T + seqLens[b] - 1) * 2);
      mask[b * T + seqLens[b] - 1] = 1;
    }
    trainStepReference(model.spec, params, {}, 1, x, full, { batch: B, seqLen: T, seqLens, loss: 'mse', lossOn: 'all', mask, optimizer: resolveOptimizer({ type: 'sgd', lr: 0.1 }), maxNorm: 0, clipValue: 0 });
    const after = await model.stateDict();
    for (const name of Object.keys(params)) expectClose(`last-step update ${name} (seed ${seed})`, after[name], params[name]);
    // The reference's own lossOn 'last' with seqLens says the same.
    const direct: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(dict)) direct[k] = Float64Array.from(v);
    const ref = trainStepReference(model.spec, direct, {}, 1, x, target, { batch: B, seqLen: T, seqLens, loss: 'mse', lossOn: 'last', mask: new Float32Array(B).fill(1), optimizer: resolveOptimizer({ type: 'sgd', lr: 0.1 }), maxNorm: 0, clipValue: 0 });
    expectClose(`reference last-step loss (seed ${seed})`, [got.loss!], [ref.loss]);
    for (const name of Object.keys(direct)) expectClose(`reference last-step update ${name} (seed ${seed})`, after[name], direct[name]);
    model.destroy();
  });
});

describe('trainStep without bias', () => {
  it('an LSTM without bias: two SGD steps match the reference', async () => {
    const model = engine.lstm({ inputSize: 2, hiddenSize: 4, bias: false, outputSize: 2, numLayers: 2 });
    const params = loadRandomWeights(model);
    const state: ReferenceOptimizerState = {};
    const optimizer: OptimizerConfig = { type: 'sgd', lr: 0.3, momentum: 0.5 };
    for (let step = 1; step <= 2; step++) {
      const x = randomFloats(rng, 3 * 2 * 2);
      const target = randomFloats(rng, 3 * 2 * 2);
      const got = await model.trainStep(x, target, { batch: 2, seqLen: 3, loss: 'mse', optimizer });
      const ref = trainStepReference(model.spec, params, state, step, x, target, { batch: 2, seqLen: 3, loss: 'mse', lossOn: 'all', mask: new Float32Array(6).fill(1), optimizer: resolveOptimizer(optimizer), maxNorm: 0, clipValue: 0 });
      expectClose(`no-bias step ${step} loss (seed ${seed})`, [got.loss!], [ref.loss]);
    }
    const after = await model.stateDict();
    expect(Object.keys(after).some((k) => k.startsWith('bias'))).toBe(false);
    for (const name of Object.keys(params)) expectClose(`no-bias ${name} (seed ${seed})`, after[name], params[name]);
    model.destroy();
  });
});

describe('trainStep options and errors', () => {
  it('a step with nothing to read back still trains', async () => {
    const model = engine.lstm({ inputSize: 2, hiddenSize: 3, outputSize: 1 });
    const before = await model.stateDict();
    const r = await model.trainStep(randomFloats(rng, 8), randomFloats(rng, 4), { batch: 2, seqLen: 2, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 }, readLoss: false });
    expect(r).toEqual({});
    const after = await model.stateDict();
    expect(after.weight_hh_l0).not.toEqual(before.weight_hh_l0);
    model.destroy();
  });

  it('refuses a model without read-out, bad targets, masks and optimizers', async () => {
    const plain = engine.gru({ inputSize: 2, hiddenSize: 3 });
    const opts = { batch: 2, seqLen: 2, loss: 'mse' as const, optimizer: { type: 'sgd' as const, lr: 0.1 } };
    await expect(plain.trainStep(new Float32Array(8), new Float32Array(4), opts)).rejects.toThrow(/no read-out/);
    const m = engine.gru({ inputSize: 2, hiddenSize: 3, outputSize: 3 });
    await expect(m.trainStep(new Float32Array(8), new Float32Array(4), opts)).rejects.toMatchObject({ tensor: 'target', expected: [2, 2, 3] });
    await expect(m.trainStep(new Float32Array(8), new Float32Array([0, 1, 3, 2]), { ...opts, loss: 'cross-entropy' })).rejects.toThrow(/element 2 is 3; class indices in \[0, 3\)/);
    await expect(m.trainStep(new Float32Array(8), new Float32Array(12), { ...opts, mask: new Float32Array(4) })).rejects.toThrow(/every row is masked out/);
    await expect(m.trainStep(new Float32Array(8), new Float32Array(12), { ...opts, optimizer: { type: 'rmsprop', lr: 1 } as never })).rejects.toThrow(/optimizer.type must be/);
    await expect(m.trainStep(new Float32Array(8), new Float32Array(12), { ...opts, optimizer: { type: 'sgd', lr: 0.1, nesterov: true } })).rejects.toThrow(/nesterov needs a momentum/);
    await expect(m.trainStep(new Float32Array(8), new Float32Array(12), { ...opts, clipGradNorm: -1 })).rejects.toThrow(/clipGradNorm must be/);
    plain.destroy();
    m.destroy();
  });
});
