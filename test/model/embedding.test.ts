/**
 * Models that read token ids (embedding): forward, streams, gradients and training steps on the
 * backend against the float64 reference, the padding row, maskZero's lengths, and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import { recurrentBackwardReference } from '../../src/reference/recurrent-backward.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { trainStepReference, type ReferenceOptimizerState } from '../../src/reference/train-step.js';
import { EMBEDDING_WEIGHT } from '../../src/spec/spec.js';
import { resolveOptimizer, type OptimizerConfig } from '../../src/train/options.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('embedding');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const V = 11;
const I = 3;
const H = 5;
const B = 3;
const T = 4;

function ids(n: number, from = 0): Int32Array {
  return Int32Array.from({ length: n }, () => from + Math.floor(rng.uniform() * (V - from)));
}

/** Random weights, the padding row zeros as PyTorch keeps it. */
function withWeights(model: RecurrentModel): Record<string, Float32Array> {
  const dict = randomStateDict(model.spec, rng);
  const pad = model.spec.embedding?.paddingIdx;
  if (pad !== null && pad !== undefined) dict[EMBEDDING_WEIGHT].fill(0, pad * I, (pad + 1) * I);
  model.loadStateDict(dict);
  return dict;
}

describe('a model that reads token ids', () => {
  it('forward, gradients (the embedding\'s among them) and stream steps match the reference', async () => {
    const model = engine.lstm({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true, embedding: { numEmbeddings: V, paddingIdx: 2 } });
    expect(model.spec.embedding).toEqual({ numEmbeddings: V, paddingIdx: 2, maskZero: false });
    const dict = withWeights(model);
    const x = ids(B * T);
    x[1] = 2;
    const seqLens = [4, 2, 3];
    const gradOutput = randomFloats(rng, B * T * 2 * H);
    const fwd = await model.forward(x, { batch: B, seqLen: T, seqLens });
    const ref = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens });
    expectClose(`forward output (seed ${seed})`, fwd.output, ref.output);
    expectClose(`forward hN (seed ${seed})`, fwd.hN, ref.hN);
    const g = await model.gradients(x, { batch: B, seqLen: T, seqLens, gradOutput });
    const gr = recurrentBackwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens, gradOutput });
    expect(Object.keys(g.params).sort()).toEqual(Object.keys(gr.params).sort());
    for (const name of Object.keys(gr.params)) expectClose(`d${name} (seed ${seed})`, g.params[name], gr.params[name]);
    expectClose(`gradient of the vectors read (seed ${seed})`, g.input, gr.input);
    expect([...g.params[EMBEDDING_WEIGHT].subarray(2 * I, 3 * I)], 'the padding row has no gradient').toEqual([0, 0, 0]);
    model.destroy();

    const uni = engine.gru({ inputSize: I, hiddenSize: H, numLayers: 2, outputSize: 2, embedding: { numEmbeddings: V } });
    const d2 = withWeights(uni);
    const xs = ids(T * B);
    const want = recurrentForwardReference(uni.spec, d2, xs, { batch: B, seqLen: T });
    const s = uni.stream({ batch: B });
    for (let t = 0; t < T; t++) expectClose(`stream step ${t} (seed ${seed})`, (await s.step(xs.subarray(t * B, (t + 1) * B))).y, want.y.subarray(t * B * 2, (t + 1) * B * 2));
    expect(() => s.step(Int32Array.from([1, V, 0]))).toThrow(/stream step: x: element 1 is id 11; ids in \[0, 11\) expected/);
    s.close();
    uni.destroy();
  });

  for (const optimizer of [{ type: 'adam', lr: 0.05, eps: 1e-4, weightDecay: 0.01 }, { type: 'sgd', lr: 0.2, momentum: 0.5 }] as OptimizerConfig[]) {
    it(`trains the embedding with ${optimizer.type}, the padding row never moving`, async () => {
      const model = engine.rnn({ inputSize: I, hiddenSize: H, outputSize: 2, embedding: { numEmbeddings: V, paddingIdx: 0 } });
      const dict = withWeights(model);
      const params = Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, Float64Array.from(v)]));
      const state: ReferenceOptimizerState = {};
      for (let step = 1; step <= 3; step++) {
        const x = ids(T * B);
        x[step] = 0;
        const y = Float32Array.from({ length: T * B }, () => Math.floor(rng.uniform() * 2));
        const got = await model.trainStep(x, y, { batch: B, seqLen: T, loss: 'cross-entropy', optimizer });
        const ref = trainStepReference(model.spec, params, state, step, x, y, { batch: B, seqLen: T, loss: 'cross-entropy', lossOn: 'all', mask: new Float32Array(T * B).fill(1), optimizer: resolveOptimizer(optimizer), maxNorm: 0, clipValue: 0 });
        expectClose(`${optimizer.type} step ${step}: loss (seed ${seed})`, [got.loss], [ref.loss]);
      }
      const after = await model.stateDict();
      for (const name of Object.keys(params)) expectClose(`${optimizer.type} after 3 steps: ${name} (seed ${seed})`, after[name], params[name]);
      expect([...after[EMBEDDING_WEIGHT].subarray(0, I)]).toEqual([0, 0, 0]);
      expect(after[EMBEDDING_WEIGHT].some((v, i) => v !== dict[EMBEDDING_WEIGHT][i]), 'the other rows move').toBe(true);
      // fit and evaluate take ids too.
      const N = 7;
      const history = await model.fit(ids(T * N), Float32Array.from({ length: T * N }, () => Math.floor(rng.uniform() * 2)), { batch: N, seqLen: T, loss: 'cross-entropy', batchSize: 3, epochs: 2, validation: 0.3 });
      // 4 sequences train (3 of 7 held out), 2 steps an epoch.
      expect(history.steps).toBe(4);
      expect(history.epochs[1].valLoss).toBeGreaterThan(0);
      model.destroy();
    });
  }

  it('resumes from a file with the embedding\'s moments: 2 + 2 steps equal 4', async () => {
    const model = engine.gru({ inputSize: I, hiddenSize: H, outputSize: 2, embedding: { numEmbeddings: V, paddingIdx: 3 } });
    withWeights(model);
    const data = Array.from({ length: 4 }, () => ({ x: ids(T * B), y: Float32Array.from({ length: T * B }, () => Math.floor(rng.uniform() * 2)) }));
    const step = { batch: B, seqLen: T, loss: 'cross-entropy' as const };
    const optimizer: OptimizerConfig = { type: 'adam', lr: 0.05 };
    for (const d of data.slice(0, 2)) await model.trainStep(d.x, d.y, { ...step, optimizer });
    const resumed = await engine.load(await model.save({ optimizer: true }), { format: 'safetensors', paddingIdx: 3 });
    expect(resumed.spec).toEqual(model.spec);
    for (const d of data.slice(2)) {
      await model.trainStep(d.x, d.y, step);
      await resumed.trainStep(d.x, d.y, step);
    }
    const [a, b] = [await model.stateDict(), await resumed.stateDict()];
    for (const k of Object.keys(a)) expect(new Uint32Array(b[k].buffer), k).toEqual(new Uint32Array(a[k].buffer));
    model.destroy();
    resumed.destroy();
  });

  it('maskZero: trailing zeros are padding (the lengths), and padding elsewhere is refused', async () => {
    const model = engine.gru({ inputSize: I, hiddenSize: H, outputSize: 1, returnSequences: false, embedding: { numEmbeddings: V, maskZero: true } });
    const plain = engine.gru({ inputSize: I, hiddenSize: H, outputSize: 1, returnSequences: false, embedding: { numEmbeddings: V } });
    const dict = withWeights(model);
    plain.loadStateDict(dict);
    // [T, B]: sequence lengths 4, 2, 1.
    const x = Int32Array.from([3, 4, 5, 6, 7, 0, 8, 0, 0, 9, 0, 0]);
    const masked = await model.forward(x, { batch: B, seqLen: T });
    const explicit = await plain.forward(x, { batch: B, seqLen: T, seqLens: [4, 2, 1] });
    expectClose(`maskZero against seqLens (seed ${seed})`, masked.y, explicit.y);
    const target = randomFloats(rng, B);
    expectClose('maskZero evaluate', [(await model.evaluate(x, target, { batch: B, seqLen: T, loss: 'mse' })).loss], [(await plain.evaluate(x, target, { batch: B, seqLen: T, seqLens: [4, 2, 1], loss: 'mse' })).loss]);
    await expect(model.forward(Int32Array.from([3, 4, 5, 0, 7, 8, 8, 0, 0, 9, 0, 0]), { batch: B, seqLen: T })).rejects.toThrow(/maskZero: sequence 0 has id 0 at step 1 before a later id/);
    await expect(model.forward(x, { batch: B, seqLen: T, seqLens: [4, 2, 1] })).rejects.toThrow(/seqLens given to a model whose embedding has maskZero/);
    expect(() => model.stream({ batch: 2 }).step(Int32Array.from([1, 0]))).toThrow(/id 0 at row 1 is padding under maskZero/);
    model.destroy();
    plain.destroy();
  });

  it('refuses vectors, ids out of range and bad options, by name', async () => {
    const model = engine.lstm({ inputSize: I, hiddenSize: H, embedding: { numEmbeddings: V } });
    await expect(model.forward(new Float32Array(T * B * I), { batch: B, seqLen: T })).rejects.toThrow(/x: the model reads token ids: an Int32Array of shape \[4, 3\] expected/);
    const bad = ids(T * B);
    bad[7] = -1;
    await expect(model.forward(bad, { batch: B, seqLen: T })).rejects.toThrow(/x: element 7 is id -1; ids in \[0, 11\) expected/);
    await expect(model.forward(ids(5), { batch: B, seqLen: T })).rejects.toThrow(/x/);
    model.destroy();
    expect(() => engine.lstm({ inputSize: I, hiddenSize: H, embedding: { numEmbeddings: 0 } })).toThrow(/embedding.numEmbeddings must be a positive integer/);
    expect(() => engine.lstm({ inputSize: I, hiddenSize: H, embedding: { numEmbeddings: 4, paddingIdx: 4 } })).toThrow(/embedding.paddingIdx must be an id in \[0, 4\), got 4/);
    expect(() => engine.lstm({ inputSize: I, hiddenSize: H, embedding: { numEmbeddings: 4, padding: 1 } as never })).toThrow(/embedding: unknown option 'padding'/);
  });
});
