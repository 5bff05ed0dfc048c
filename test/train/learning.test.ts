/**
 * Proof that training learns: seeded tasks with known answers, each reaching a loss that the
 * untrained model (and the best constant predictor) cannot reach; and clipping keeping a
 * too-large learning rate finite where it diverges without.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { createRandom } from '../../src/spec/random.js';
import { addingBatch, evaluateMse, noisySineBatch } from './tasks.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe('learning', () => {
  for (const kind of ['lstm', 'gru'] as const) {
    it(`${kind} learns the adding problem (MSE below 0.02; the mean predictor has 1/6)`, async () => {
      const rng = createRandom(kind === 'lstm' ? 11 : 12);
      const B = 16;
      const T = 12;
      const model = engine[kind]({ inputSize: 2, hiddenSize: 16, outputSize: 1, seed: 5 });
      // The usual LSTM recipe: a forget-gate bias of 1 keeps memory open early in training.
      if (kind === 'lstm') model.initialize({ forgetBias: 1 });
      const test = addingBatch(rng, B, T);
      const before = await evaluateMse(model, test, B, T, true);
      let last = Infinity;
      for (let step = 0; step < 400; step++) {
        const { x, target } = addingBatch(rng, B, T);
        const r = await model.trainStep(x, target, { batch: B, seqLen: T, loss: 'mse', lossOn: 'last', optimizer: { type: 'adam', lr: 0.02 }, clipGradNorm: 1, readLoss: step % 50 === 49 });
        if (r.loss !== undefined) last = r.loss;
      }
      const after = await evaluateMse(model, test, B, T, true);
      console.info(`${kind} adding problem: test MSE ${before.toFixed(4)} untrained, ${after.toFixed(4)} after 400 steps (last training loss ${last.toFixed(4)})`);
      expect(before).toBeGreaterThan(0.1);
      expect(after).toBeLessThan(0.02);
      model.destroy();
    });
  }

  // Repeating the current (noisy) value as the forecast scores about 0.11 here
  // ((1 − cos ω) + σ² at ω ≈ 0.45, σ = 0.1); the trained RNN must do better than half that.
  it('an Elman RNN learns to predict a noisy sine one step ahead (MSE below 0.05)', async () => {
    const rng = createRandom(21);
    const B = 16;
    const T = 24;
    const model = engine.rnn({ inputSize: 1, hiddenSize: 16, outputSize: 1, seed: 2 });
    const test = noisySineBatch(rng, B, T);
    const before = await evaluateMse(model, test, B, T, false);
    for (let step = 0; step < 300; step++) {
      const { x, target } = noisySineBatch(rng, B, T);
      await model.trainStep(x, target, { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'adam', lr: 0.01 }, readLoss: false });
    }
    const after = await evaluateMse(model, test, B, T, false);
    console.info(`rnn noisy sine: test MSE ${before.toFixed(4)} untrained, ${after.toFixed(4)} after 300 steps`);
    expect(before).toBeGreaterThan(0.2);
    expect(after).toBeLessThan(0.05);
    model.destroy();
  });

  it('clipping keeps a too-large learning rate finite where it diverges without', async () => {
    const run = async (clipGradNorm?: number): Promise<number[]> => {
      const rng = createRandom(31);
      const model = engine.rnn({ inputSize: 1, hiddenSize: 8, outputSize: 1, seed: 3 });
      const losses: number[] = [];
      for (let step = 0; step < 12; step++) {
        const { x, target } = noisySineBatch(rng, 8, 20);
        const r = await model.trainStep(x, target, { batch: 8, seqLen: 20, loss: 'mse', optimizer: { type: 'sgd', lr: 1e4 }, clipGradNorm });
        losses.push(r.loss!);
      }
      const dict = await model.stateDict();
      losses.push(Object.values(dict).every((t) => t.every(Number.isFinite)) ? 0 : NaN);
      model.destroy();
      return losses;
    };
    const unclipped = await run();
    const clipped = await run(1);
    console.info(`lr 1e4: losses without clipping ${unclipped.map((v) => v.toPrecision(3)).join(' ')}; with ${clipped.map((v) => v.toPrecision(3)).join(' ')}`);
    expect(unclipped.some((v) => !Number.isFinite(v))).toBe(true);
    expect(clipped.every(Number.isFinite)).toBe(true);
  });
});
