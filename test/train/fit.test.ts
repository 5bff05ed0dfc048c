/**
 * model.evaluate and model.fit: evaluate against the training step's own loss and the float64
 * reference; fit against the same steps written out by hand, its minibatches a permutation of
 * the data each epoch, validation, the schedules, early stopping, abort, and the event loop
 * running between steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import { gatherSequences } from '../../src/arrays.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { readoutLossReference } from '../../src/reference/train-step.js';
import { READOUT_BIAS, READOUT_WEIGHT } from '../../src/spec/spec.js';
import { scheduledRate, type FitProgress } from '../../src/train/fit.js';
import type { OptimizerConfig } from '../../src/train/options.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('fit');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const I = 3;
const H = 6;
const O = 2;
const T = 5;

function classes(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.floor(rng.uniform() * O));
}

async function sameBits(label: string, a: RecurrentModel, b: RecurrentModel): Promise<void> {
  const [da, db] = [await a.stateDict(), await b.stateDict()];
  for (const k of Object.keys(da)) expect(new Uint32Array(db[k].buffer), `${label}: ${k}`).toEqual(new Uint32Array(da[k].buffer));
}

describe('evaluate', () => {
  const cases = [
    { name: 'MSE on every step, padded', kind: 'lstm', batchFirst: false, bidirectional: false, loss: 'mse', lossOn: 'all', seqLens: [5, 3, 1, 4] },
    { name: 'cross-entropy on the last step, batch first', kind: 'gru', batchFirst: true, bidirectional: true, loss: 'cross-entropy', lossOn: 'last', seqLens: [2, 5, 4, 3] },
    { name: 'MSE on the final states of a bidirectional model', kind: 'rnn', batchFirst: true, bidirectional: true, loss: 'mse', lossOn: 'final', seqLens: undefined },
  ] as const;
  for (const c of cases) {
    it(`${c.name}: the loss trainStep reports, and the float64 reference's`, async () => {
      const B = 4;
      const model = engine[c.kind]({ inputSize: I, hiddenSize: H, outputSize: O, numLayers: 2, batchFirst: c.batchFirst, bidirectional: c.bidirectional });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const rows = c.lossOn === 'all' ? T * B : B;
      const x = randomFloats(rng, T * B * I);
      const target = c.loss === 'mse' ? randomFloats(rng, rows * O) : classes(rows);
      const mask = Float32Array.from({ length: rows }, (_, i) => (i % 3 === 1 ? 0.5 : 1));
      const options = { batch: B, seqLen: T, seqLens: c.seqLens, loss: c.loss, lossOn: c.lossOn, mask };
      const got = await model.evaluate(x, target, options);
      const fwd = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens: c.seqLens });
      const ref = readoutLossReference(model.spec, fwd.output, fwd.hN, dict[READOUT_WEIGHT], dict[READOUT_BIAS], target, { ...options, lossOn: c.lossOn });
      expectClose(`${c.name}: loss against the reference (seed ${seed})`, [got.loss], [ref.loss]);
      expect(got.weight).toBeCloseTo(ref.weight, 6);
      // The training step computes its loss in the engine's own kernels; lr 0 leaves the model as it was.
      const step = await model.trainStep(x, target, { ...options, optimizer: { type: 'sgd', lr: 0 } });
      expectClose(`${c.name}: loss against trainStep's (seed ${seed})`, [got.loss], [step.loss]);
      model.destroy();
    });
  }

  it('refuses what trainStep refuses', async () => {
    const model = engine.gru({ inputSize: I, hiddenSize: H, outputSize: O });
    await expect(model.evaluate(randomFloats(rng, T * 2 * I), classes(T * 2).map((v) => v + O), { batch: 2, seqLen: T, loss: 'cross-entropy' })).rejects.toThrow(/class indices in \[0, 2\) expected/);
    await expect(model.evaluate(randomFloats(rng, T * 2 * I), randomFloats(rng, 3), { batch: 2, seqLen: T, loss: 'mse' })).rejects.toThrow(/target/);
    await expect(model.evaluate(randomFloats(rng, T * 2 * I), randomFloats(rng, T * 2 * O), { batch: 2, seqLen: T, loss: 'mse', optimizer: {} } as never)).rejects.toThrow(/unknown option 'optimizer'/);
    const bare = engine.gru({ inputSize: I, hiddenSize: H });
    await expect(bare.evaluate(randomFloats(rng, T * I), randomFloats(rng, T), { batch: 1, seqLen: T, loss: 'mse' })).rejects.toThrow(/no read-out/);
    model.destroy();
    bare.destroy();
  });
});

describe('fit', () => {
  it('runs the steps a hand-written loop runs: minibatches in order, the last one short, the scheduled rate per epoch', async () => {
    const N = 10;
    const optimizer: OptimizerConfig = { type: 'adam', lr: 0.02 };
    const a = engine.lstm({ inputSize: I, hiddenSize: H, outputSize: O, batchFirst: true, seed: 7 });
    const b = engine.lstm({ inputSize: I, hiddenSize: H, outputSize: O, batchFirst: true, seed: 7 });
    const x = randomFloats(rng, N * T * I);
    const y = randomFloats(rng, N * O);
    const seqLens = Array.from({ length: N }, (_, i) => 1 + (i % T));
    const progress: FitProgress[] = [];
    const history = await a.fit(x, y, { batch: N, seqLen: T, seqLens, loss: 'mse', lossOn: 'last', optimizer, epochs: 3, batchSize: 4, shuffle: false, schedule: { type: 'step', stepSize: 2, gamma: 0.5 }, onProgress: (p) => progress.push(p) });
    expect(history.steps).toBe(9);
    expect(history.stopped).toBe('completed');
    expect(progress.map((p) => [p.epoch, p.step, p.stepsPerEpoch, p.lr])).toEqual([0, 1, 2].flatMap((e) => [0, 1, 2].map((s) => [e, s, 3, e < 2 ? 0.02 : 0.01])));
    const losses: number[] = [];
    for (let e = 0; e < 3; e++) {
      for (const ids of [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]) {
        const r = await b.trainStep(gatherSequences(x, I, T, N, true, 0, T, ids), gatherSequences(y, O, 1, N, false, 0, 1, ids), {
          batch: ids.length, seqLen: T, seqLens: ids.map((i) => seqLens[i]), loss: 'mse', lossOn: 'last', optimizer: { ...optimizer, lr: e < 2 ? 0.02 : 0.01 },
        });
        losses.push(r.loss);
      }
    }
    expect(progress.map((p) => p.loss)).toEqual(losses);
    await sameBits('fit against its steps by hand', a, b);
    // Each epoch's loss: the steps' losses weighted by their sequences.
    expect(history.epochs[1].loss).toBeCloseTo((4 * losses[3] + 4 * losses[4] + 2 * losses[5]) / 10, 6);
    expect(a.optimizer?.lr).toBe(0.01);
    a.destroy();
    b.destroy();
  });

  it('draws each epoch\'s minibatches without replacement, in an order its seed repeats', async () => {
    // lr 0: the model stays as it is, so each one-sequence step's loss names its sequence.
    const N = 7;
    const model = engine.gru({ inputSize: I, hiddenSize: H, outputSize: O });
    const x = randomFloats(rng, T * N * I);
    const y = classes(T * N);
    const own: number[] = [];
    for (let b = 0; b < N; b++) own.push((await model.evaluate(gatherSequences(x, I, T, N, false, 0, T, [b]), gatherSequences(y, 1, T, N, false, 0, T, [b]), { batch: 1, seqLen: T, loss: 'cross-entropy' })).loss);
    const run = async (s: number): Promise<number[][]> => {
      const seen: number[][] = [[], []];
      await model.fit(x, y, { batch: N, seqLen: T, loss: 'cross-entropy', optimizer: { type: 'sgd', lr: 0 }, epochs: 2, batchSize: 1, seed: s, onProgress: (p) => seen[p.epoch].push(p.loss) });
      // Which sequence each step trained on.
      return seen.map((losses) => losses.map((l) => own.findIndex((o) => Math.abs(o - l) <= 1e-5 * Math.max(1, Math.abs(o)))));
    };
    const first = await run(11);
    for (const epoch of first) expect([...epoch].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(first[0]).not.toEqual(first[1]);
    expect(await run(11)).toEqual(first);
    expect(await run(12)).not.toEqual(first);
    model.destroy();
  });

  it('holds out the last fraction for validation, and early stopping restores the best epoch', async () => {
    const N = 12;
    const model = engine.rnn({ inputSize: I, hiddenSize: H, outputSize: 1, returnSequences: false });
    // A read-out of zeros: every output starts at 0 and rises towards what training teaches, 0.8.
    const dict = await model.stateDict();
    dict[READOUT_WEIGHT].fill(0);
    dict[READOUT_BIAS].fill(0);
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * N * I);
    // The held-out sequences want the opposite, -0.8: their loss rises every epoch.
    const y = Float32Array.from({ length: N }, (_, b) => (b < 9 ? 0.8 : -0.8));
    const history = await model.fit(x, y, { batch: N, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.05 }, epochs: 20, batchSize: 3, validation: 0.25, earlyStopping: { patience: 2, restoreBest: true } });
    expect(history.stopped).toBe('early-stopping');
    expect(history.bestEpoch).toBe(0);
    expect(history.epochs.length).toBe(3);
    expect(history.epochs[1].valLoss!).toBeGreaterThan(history.epochs[0].valLoss!);
    const held = [9, 10, 11];
    const after = await model.evaluate(gatherSequences(x, I, T, N, false, 0, T, held), y.slice(9), { batch: 3, seqLen: T, loss: 'mse' });
    expectClose('validation loss of the restored epoch', [after.loss], [history.epochs[0].valLoss!]);
    model.destroy();
  });

  it('validates on given data; stops between steps when aborted; lets the event loop run', async () => {
    const N = 8;
    const model = engine.lstm({ inputSize: I, hiddenSize: H, outputSize: O });
    const x = randomFloats(rng, T * N * I);
    const y = randomFloats(rng, T * N * O);
    const validation = { x: randomFloats(rng, T * 3 * I), y: randomFloats(rng, T * 3 * O), batch: 3 };
    const once = await model.fit(x, y, { batch: N, seqLen: T, loss: 'mse', optimizer: { type: 'adam', lr: 0.01 }, batchSize: 3, validation });
    const direct = await model.evaluate(validation.x, validation.y, { batch: 3, seqLen: T, loss: 'mse' });
    expectClose('validation loss after the epoch', [once.epochs[0].valLoss!], [direct.loss]);
    const controller = new AbortController();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const history = await model.fit(x, y, {
      batch: N, seqLen: T, loss: 'mse', optimizer: { type: 'adam', lr: 0.01 }, epochs: 4, batchSize: 2, validation,
      onProgress: (p) => { if (p.epoch === 1 && p.step === 2) controller.abort(); },
      signal: controller.signal,
    });
    clearInterval(timer);
    expect(history.stopped).toBe('aborted');
    expect(history.steps).toBe(7);
    expect(history.epochs.length).toBe(1);
    expect(ticks).toBeGreaterThan(0);
    // The model is whole: it trains on.
    expect((await model.trainStep(x, y, { batch: N, seqLen: T, loss: 'mse' })).loss).toBeGreaterThan(0);
    const aborted = await model.fit(x, y, { batch: N, seqLen: T, loss: 'mse', signal: AbortSignal.abort() });
    expect(aborted).toEqual({ epochs: [], steps: 0, stopped: 'aborted', bestEpoch: null });
    model.destroy();
  });

  it('schedules the rate as PyTorch\'s StepLR, CosineAnnealingLR and ExponentialLR do', () => {
    expect([0, 1, 2, 3, 4].map((e) => scheduledRate({ type: 'step', stepSize: 2, gamma: 0.5 }, 1, e, 5))).toEqual([1, 1, 0.5, 0.5, 0.25]);
    const exponential = [0, 1, 2, 3, 4].map((e) => scheduledRate({ type: 'exponential', gamma: 0.9 }, 2, e, 5));
    [2, 1.8, 1.62, 1.458, 1.3122].forEach((want, e) => expect(exponential[e]).toBeCloseTo(want, 12));
    // η_e = η_min + (η_0 − η_min)(1 + cos(π e / T_max)) / 2
    const cosine = [0, 1, 2, 3, 4].map((e) => scheduledRate({ type: 'cosine', epochs: 4, minLr: 0.1 }, 1.1, e, 5));
    [1.1, 0.1 + (1 + Math.SQRT1_2) / 2, 0.6, 0.1 + (1 - Math.SQRT1_2) / 2, 0.1].forEach((want, e) => expect(cosine[e]).toBeCloseTo(want, 12));
  });

  it('refuses bad options by name', async () => {
    const model = engine.gru({ inputSize: I, hiddenSize: H, outputSize: O });
    const x = randomFloats(rng, T * 4 * I);
    const y = randomFloats(rng, T * 4 * O);
    const base = { batch: 4, seqLen: T, loss: 'mse' as const, optimizer: { type: 'sgd' as const, lr: 0.1 } };
    await expect(model.fit(x, y, { ...base, optimizer: undefined })).rejects.toThrow(/optimizer is required/);
    await expect(model.fit(x, y, { ...base, epoch: 3 } as never)).rejects.toThrow(/fit: unknown option 'epoch'/);
    await expect(model.fit(x, y, { ...base, epochs: 0 })).rejects.toThrow(/epochs must be a positive integer, got 0/);
    await expect(model.fit(x, y, { ...base, validation: 1 })).rejects.toThrow(/validation as a fraction must be in \(0, 1\), got 1/);
    await expect(model.fit(x, y, { ...base, validation: 0.9 })).rejects.toThrow(/leaves none to train on/);
    await expect(model.fit(x, y, { ...base, schedule: 'linear' as never })).rejects.toThrow(/schedule.type must be 'constant', 'step', 'cosine' or 'exponential', got 'linear'/);
    await expect(model.fit(x, y, { ...base, schedule: { type: 'step', stepSize: 2, gama: 0.5 } as never })).rejects.toThrow(/unknown option 'gama' for step/);
    await expect(model.fit(x, y, { ...base, schedule: { type: 'exponential', gamma: 1.5 } })).rejects.toThrow(/gamma must be in \(0, 1\], got 1.5/);
    await expect(model.fit(x, y.subarray(1), base)).rejects.toThrow(/y/);
    await expect(model.fit(x, y, { ...base, validation: { x, y, batch: 3 } })).rejects.toThrow(/validation.x/);
    await expect(model.fit(x, y, { ...base, earlyStopping: { patience: 0 } })).rejects.toThrow(/earlyStopping.patience must be a positive integer/);
    model.destroy();
    const stateful = engine.gru({ inputSize: I, hiddenSize: H, outputSize: O, stateful: true });
    await expect(stateful.fit(x, y, { ...base, shuffle: true })).rejects.toThrow(/shuffle on a stateful model/);
    await expect(stateful.fit(x, y, { ...base, batchSize: 3 })).rejects.toThrow(/4 training sequences are not a multiple of batchSize 3/);
    // In order, minibatches of 2: the second step goes on from the first's states.
    expect((await stateful.fit(x, y, { ...base, batchSize: 2 })).steps).toBe(2);
    stateful.destroy();
  });
});
