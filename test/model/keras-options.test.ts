/**
 * Keras's go_backwards and stateful as model options: goBackwards is the model on each
 * sequence reversed within its length (gradients back in x's order); stateful carries the final
 * states of forward and trainStep into the next call until resetStates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { reverseSteps } from '../../src/arrays.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('keras options');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const I = 3;
const H = 4;
const B = 3;
const T = 5;

describe('goBackwards and stateful', () => {
  it('goBackwards: forward and gradients are the plain model\'s on each sequence reversed within its length', async () => {
    const options = { inputSize: I, hiddenSize: H, numLayers: 2, outputSize: 2 };
    const back = engine.lstm({ ...options, goBackwards: true });
    const plain = engine.lstm(options);
    const dict = randomStateDict(back.spec, rng);
    back.loadStateDict(dict);
    plain.loadStateDict(dict);
    const seqLens = [5, 2, 4];
    const x = randomFloats(rng, T * B * I);
    const reversed = reverseSteps(x, B, T, I, seqLens);
    const gradOutput = randomFloats(rng, T * B * H);
    const a = await back.gradients(x, { batch: B, seqLen: T, seqLens, gradOutput });
    const b = await plain.gradients(reversed, { batch: B, seqLen: T, seqLens, gradOutput });
    expectClose(`goBackwards output (seed ${seed})`, a.output, b.output);
    for (const name of Object.keys(b.params)) expectClose(`goBackwards d${name} (seed ${seed})`, a.params[name], b.params[name]);
    expectClose(`goBackwards dx, in x's order (seed ${seed})`, a.input, reverseSteps(b.input, B, T, I, seqLens));
    expectClose(`goBackwards forward (seed ${seed})`, (await back.forward(x, { batch: B, seqLen: T, seqLens })).y, (await plain.forward(reversed, { batch: B, seqLen: T, seqLens })).y);
    await expect(back.trainSequence(x, randomFloats(rng, T * B * 2), { batch: B, seqLen: T, chunkLength: 2, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } })).rejects.toThrow(/goBackwards/);
    await expect(back.exportOnnx()).rejects.toThrow(/exportOnnx: a model with goBackwards/);
    back.destroy();
    plain.destroy();
  });

  it('stateful: forward and trainStep leave their final states to the next call, until resetStates', async () => {
    const options = { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, outputSize: 2 };
    const kept = engine.lstm({ ...options, stateful: true });
    const plain = engine.lstm(options);
    const dict = randomStateDict(kept.spec, rng);
    kept.loadStateDict(dict);
    plain.loadStateDict(dict);
    const [x1, x2, x3] = [0, 1, 2].map(() => randomFloats(rng, T * B * I));
    const first = await kept.forward(x1, { batch: B, seqLen: T });
    expectClose(`first call from zeros (seed ${seed})`, first.y, (await plain.forward(x1, { batch: B, seqLen: T })).y);
    const second = await kept.forward(x2, { batch: B, seqLen: T });
    expectClose(`second call from the first's states (seed ${seed})`, second.y, (await plain.forward(x2, { batch: B, seqLen: T, h0: first.hN, c0: first.cN })).y);
    // A training step starts from the carried states and leaves its own (the same update on both models).
    const target = randomFloats(rng, T * B * 2);
    const step = { batch: B, seqLen: T, loss: 'mse' as const, optimizer: { type: 'sgd' as const, lr: 0.1 } };
    const trained = await kept.trainStep(x3, target, { ...step, returnState: true });
    const ref = await plain.trainStep(x3, target, { ...step, h0: second.hN, c0: second.cN, returnState: true });
    expectClose(`trainStep from the carried states (seed ${seed})`, [trained.loss], [ref.loss]);
    expectClose(`after trainStep (seed ${seed})`, (await kept.forward(x1, { batch: B, seqLen: T })).y, (await plain.forward(x1, { batch: B, seqLen: T, h0: ref.hN, c0: ref.cN })).y);
    kept.resetStates();
    expectClose(`after resetStates (seed ${seed})`, (await kept.forward(x2, { batch: B, seqLen: T })).y, (await plain.forward(x2, { batch: B, seqLen: T })).y);
    // Given states win over carried ones.
    const h0 = randomFloats(rng, 4 * B * H);
    expectClose(`given h0 (seed ${seed})`, (await kept.forward(x3, { batch: B, seqLen: T, h0 })).y, (await plain.forward(x3, { batch: B, seqLen: T, h0 })).y);
    kept.destroy();
    plain.destroy();
  });
});
