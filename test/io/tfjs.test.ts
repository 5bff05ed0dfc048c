/**
 * TensorFlow.js layers models built with random weights and saved by TensorFlow.js itself
 * (tfjs-models.ts), loaded with engine.load and run on the GPU: `y` against TensorFlow.js's
 * `predict` on the same input, over cells, stacking, Bidirectional, return_sequences true and
 * false, use_bias, activations, a Dense read-out or none, Dropout layers and functional
 * models, stacks of unlike layers; masked (variable-length) batches against seqLens; streams; the loss a training
 * step reads against TensorFlow.js's own; and loading from the model.json's URL.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { buildTfjs, INPUT, predict, saveTfjs, tf, UNITS, type TfjsCase } from './tfjs-models.js';

const { rng, seed } = testRandom('tfjs');
let engine: Engine;
beforeAll(async () => {
  await tf.setBackend('cpu');
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const B = 3;
const T = 7;

const CASES: TfjsCase[] = [
  { name: 'LSTM, TensorFlow.js defaults (hard_sigmoid gates), sequences, Dense', cell: 'lstm', returnSequences: true, dense: 2 },
  { name: 'LSTM, sigmoid gates, last state, Dense', cell: 'lstm', recurrentActivation: 'sigmoid', returnSequences: false, dense: 2 },
  { name: 'LSTM, Bidirectional, 2 layers, last state, Dense', cell: 'lstm', bidirectional: true, layers: 2, returnSequences: false, dense: 3 },
  { name: 'LSTM, Bidirectional, last state, no Dense', cell: 'lstm', bidirectional: true, returnSequences: false },
  { name: 'LSTM, Bidirectional, sequences, no Dense', cell: 'lstm', bidirectional: true, returnSequences: true },
  { name: 'LSTM, no bias, sequences, Dense', cell: 'lstm', useBias: false, returnSequences: true, dense: 2 },
  { name: 'LSTM, softsign, last state, no Dense', cell: 'lstm', activation: 'softsign', returnSequences: false },
  { name: 'LSTM, 3 layers, sigmoid gates, sequences, Dense', cell: 'lstm', layers: 3, recurrentActivation: 'sigmoid', returnSequences: true, dense: 1 },
  { name: 'LSTM, Dropout layers and rates, 2 layers, last state, Dense', cell: 'lstm', layers: 2, dropout: true, returnSequences: false, dense: 2 },
  { name: 'LSTM, implementation 2, unroll', cell: 'lstm', returnSequences: false, dense: 2, extra: { implementation: 2, unroll: true } },
  { name: 'GRU, sequences, Dense', cell: 'gru', returnSequences: true, dense: 2 },
  { name: 'GRU, Bidirectional, last state, Dense', cell: 'gru', bidirectional: true, returnSequences: false, dense: 2 },
  { name: 'GRU, 2 layers, sigmoid gates, last state, no Dense', cell: 'gru', layers: 2, recurrentActivation: 'sigmoid', returnSequences: false },
  { name: 'GRU, Bidirectional, no bias, sequences, no Dense', cell: 'gru', bidirectional: true, useBias: false, returnSequences: true },
  { name: 'GRU, relu, sequences, Dense', cell: 'gru', activation: 'relu', returnSequences: true, dense: 3 },
  { name: 'GRU, functional model, Bidirectional, last state, Dense', cell: 'gru', bidirectional: true, functional: true, returnSequences: false, dense: 2 },
  { name: 'SimpleRNN, sequences, Dense', cell: 'simpleRNN', returnSequences: true, dense: 2 },
  { name: 'SimpleRNN, relu, Bidirectional, last state, Dense', cell: 'simpleRNN', activation: 'relu', bidirectional: true, returnSequences: false, dense: 2 },
  { name: 'SimpleRNN, linear, 2 layers, last state, no Dense', cell: 'simpleRNN', activation: 'linear', layers: 2, returnSequences: false },
  { name: 'SimpleRNN, elu, sequences, no Dense', cell: 'simpleRNN', activation: 'elu', returnSequences: true },
  { name: 'SimpleRNN, softplus, Bidirectional, no bias, sequences, Dense', cell: 'simpleRNN', activation: 'softplus', bidirectional: true, useBias: false, returnSequences: true, dense: 2 },
  { name: 'SimpleRNN, hard_sigmoid, last state, Dense', cell: 'simpleRNN', activation: 'hardSigmoid', returnSequences: false, dense: 2 },
  { name: 'SimpleRNN, sigmoid, functional, 2 layers, sequences, no Dense', cell: 'simpleRNN', activation: 'sigmoid', layers: 2, functional: true, returnSequences: true },
];

describe('TensorFlow.js models saved by TensorFlow.js', () => {
  for (const c of CASES) {
    it(`${c.name}: y matches predict`, async () => {
      const tfModel = buildTfjs(c, rng);
      const model = await engine.load(await saveTfjs(tfModel));
      try {
        const D = c.bidirectional ? 2 : 1;
        expect(model.spec.batchFirst).toBe(true);
        expect(model.spec.returnSequences).toBe(c.returnSequences);
        const x = randomFloats(rng, B * T * INPUT);
        const { y, output } = await model.forward(x, { batch: B, seqLen: T });
        const features = c.dense ?? D * UNITS;
        expect(y.length).toBe((c.returnSequences ? B * T : B) * features);
        expectClose(`tfjs ${c.name} (seed ${seed})`, y, predict(tfModel, x, B, T));
        expect(output.length).toBe(B * T * D * UNITS);
      } finally {
        model.destroy();
        tfModel.dispose();
      }
    });
  }

  for (const cell of ['lstm', 'gru'] as const) {
    it(`${cell}, Bidirectional, last state: a masked (variable-length) batch as seqLens`, async () => {
      const c: TfjsCase = { name: 'masked', cell, bidirectional: true, returnSequences: false, dense: 2, masking: true };
      const masked = buildTfjs(c, rng);
      // The same weights without the Masking layer, which webrnn does not load: lengths go in seqLens.
      const plain = buildTfjs({ ...c, masking: false }, rng);
      plain.setWeights(masked.getWeights());
      const model = await engine.load(await saveTfjs(plain));
      try {
        const lengths = [T, 2, 5];
        const x = randomFloats(rng, B * T * INPUT);
        for (let b = 0; b < B; b++) x.fill(0, (b * T + lengths[b]) * INPUT, (b + 1) * T * INPUT);
        const { y } = await model.forward(x, { batch: B, seqLen: T, seqLens: lengths });
        expectClose(`masked ${cell} (seed ${seed})`, y, predict(masked, x, B, T));
      } finally {
        model.destroy();
        masked.dispose();
        plain.dispose();
      }
    });
  }

  for (const maskZero of [false, true]) {
    it(`an Embedding${maskZero ? ' with mask_zero (padding at the end: the lengths)' : ''} before a Bidirectional GRU and a Dense: y matches predict on token ids`, async () => {
      const V = 17;
      const s = tf.sequential();
      s.add(tf.layers.embedding({ inputDim: V, outputDim: INPUT, maskZero, inputShape: [null] }));
      s.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: UNITS, returnSequences: false }) as tf.RNN }));
      s.add(tf.layers.dense({ units: 2 }));
      s.setWeights(s.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.range(-0.6, 0.6)), w.shape)));
      const model = await engine.load(await saveTfjs(s));
      try {
        expect(model.spec.embedding).toEqual({ numEmbeddings: V, paddingIdx: null, maskZero });
        // [B, T] ids; with mask_zero, rows of lengths T, 2 and 5 padded with zeros at the end.
        const ids = Int32Array.from({ length: B * T }, () => 1 + Math.floor(rng.uniform() * (V - 1)));
        if (maskZero) [T, 2, 5].forEach((n, b) => ids.fill(0, b * T + n, (b + 1) * T));
        const { y } = await model.forward(ids, { batch: B, seqLen: T });
        const want = tf.tidy(() => (s.predict(tf.tensor2d(ids, [B, T], 'int32')) as tf.Tensor).dataSync() as Float32Array);
        expectClose(`embedding maskZero=${maskZero} (seed ${seed})`, y, want);
      } finally {
        model.destroy();
        s.dispose();
      }
    });
  }

  for (const returnSequences of [true, false]) {
    it(`go_backwards on the first of two LSTMs (return_sequences ${returnSequences}): y matches predict`, async () => {
      const s = tf.sequential();
      s.add(tf.layers.lstm({ units: UNITS, returnSequences: true, goBackwards: true, inputShape: [null, INPUT] }));
      s.add(tf.layers.lstm({ units: UNITS, returnSequences }));
      s.add(tf.layers.dense({ units: 2 }));
      s.setWeights(s.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.range(-0.6, 0.6)), w.shape)));
      const model = await engine.load(await saveTfjs(s));
      try {
        expect(model.spec.goBackwards).toBe(true);
        const x = randomFloats(rng, B * T * INPUT);
        expectClose(`go_backwards (seed ${seed})`, (await model.forward(x, { batch: B, seqLen: T })).y, predict(s, x, B, T));
        expect(() => model.stream({ batch: 1 })).toThrow(/goBackwards reads each sequence from its end/);
      } finally {
        model.destroy();
        s.dispose();
      }
    });
  }

  it('stateful: states carry from predict to predict until resetStates, as in TensorFlow.js', async () => {
    const s = tf.sequential();
    s.add(tf.layers.gru({ units: UNITS, stateful: true, returnSequences: false, batchInputShape: [B, T, INPUT] }));
    s.add(tf.layers.dense({ units: 2 }));
    s.setWeights(s.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.range(-0.6, 0.6)), w.shape)));
    const model = await engine.load(await saveTfjs(s));
    try {
      expect(model.spec.stateful).toBe(true);
      const xs = [0, 1, 2].map(() => randomFloats(rng, B * T * INPUT));
      for (const [i, x] of xs.entries()) expectClose(`stateful call ${i} (seed ${seed})`, (await model.forward(x, { batch: B, seqLen: T })).y, predict(s, x, B, T));
      s.resetStates();
      model.resetStates();
      expectClose(`after resetStates (seed ${seed})`, (await model.forward(xs[2], { batch: B, seqLen: T })).y, predict(s, xs[2], B, T));
      await expect(model.forward(randomFloats(rng, 2 * T * INPUT), { batch: 2, seqLen: T })).rejects.toThrow(/carries the states of a batch of 3, not 2; call resetStates\(\) first/);
    } finally {
      model.destroy();
      s.dispose();
    }
  });

  it('streams: y_t is predict of the sequence so far (last state), and h_t without a Dense layer', async () => {
    const withDense = buildTfjs({ name: 'stream', cell: 'lstm', layers: 2, returnSequences: false, dense: 2 }, rng);
    const bare = buildTfjs({ name: 'stream', cell: 'gru', returnSequences: true }, rng);
    const models = [await engine.load(await saveTfjs(withDense)), await engine.load(await saveTfjs(bare))];
    try {
      const x = randomFloats(rng, B * T * INPUT);
      const streams = models.map((m) => m.stream({ batch: B }));
      const sequences = predict(bare, x, B, T);
      for (let t = 0; t < T; t++) {
        const xt = new Float32Array(B * INPUT);
        for (let b = 0; b < B; b++) xt.set(x.subarray((b * T + t) * INPUT, (b * T + t + 1) * INPUT), b * INPUT);
        const prefix = new Float32Array(B * (t + 1) * INPUT);
        for (let b = 0; b < B; b++) prefix.set(x.subarray(b * T * INPUT, (b * T + t + 1) * INPUT), b * (t + 1) * INPUT);
        const [a, g] = await Promise.all(streams.map((s) => s.step(xt)));
        expectClose(`stream LSTM y_${t} (seed ${seed})`, a.y, predict(withDense, prefix, B, t + 1));
        const expected = new Float32Array(B * UNITS);
        for (let b = 0; b < B; b++) expected.set(sequences.subarray((b * T + t) * UNITS, (b * T + t + 1) * UNITS), b * UNITS);
        expectClose(`stream GRU y_${t} (seed ${seed})`, g.y, expected);
        expect(g.y).toBe(g.h);
      }
    } finally {
      for (const m of models) m.destroy();
      withDense.dispose();
      bare.dispose();
    }
  });

  it("a training step's loss is TensorFlow.js's on the model's output (Bidirectional, last state)", async () => {
    const c: TfjsCase = { name: 'train', cell: 'lstm', bidirectional: true, layers: 2, recurrentActivation: 'sigmoid', returnSequences: false, dense: 2 };
    const tfModel = buildTfjs(c, rng);
    tfModel.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const model = await engine.load(await saveTfjs(tfModel));
    try {
      const x = randomFloats(rng, B * T * INPUT);
      const target = randomFloats(rng, B * 2);
      const expected = tf.tidy(() => (tfModel.evaluate(tf.tensor3d(x, [B, T, INPUT]), tf.tensor2d(target, [B, 2])) as tf.Scalar).dataSync()[0]);
      const { loss } = await model.trainStep(x, target, { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } });
      expectClose(`training loss (seed ${seed})`, [loss!], [expected]);
    } finally {
      model.destroy();
      tfModel.dispose();
    }
  });

  it("loads from the model.json's URL, fetching the weights file its manifest names beside it", async () => {
    const tfModel = buildTfjs({ name: 'url', cell: 'gru', bidirectional: true, returnSequences: false, dense: 2 }, rng);
    const files = await saveTfjs(tfModel);
    const served: Record<string, Buffer> = { '/models/gru/model.json': Buffer.from(JSON.stringify(files.json)), '/models/gru/model.weights.bin': Buffer.from(files.weights) };
    const server = createServer((req, res) => {
      const body = served[req.url ?? ''];
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    try {
      const model = await engine.load(`http://127.0.0.1:${port}/models/gru/model.json`);
      const x = randomFloats(rng, B * T * INPUT);
      expectClose(`loaded from a URL (seed ${seed})`, (await model.forward(x, { batch: B, seqLen: T })).y, predict(tfModel, x, B, T));
      model.destroy();
    } finally {
      server.close();
      tfModel.dispose();
    }
  });
});

describe('TensorFlow.js stacks of unlike layers', () => {
  // Weights as buildTfjs draws them: every tensor U(±1.2/√5), biases too.
  const randomize = (model: tf.LayersModel): void => model.setWeights(model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.range(-0.55, 0.55)), w.shape)));

  it('LSTM (TensorFlow.js defaults) → Bidirectional GRU → SimpleRNN relu → Dense, sequential: y is predict\'s', async () => {
    const s = tf.sequential();
    s.add(tf.layers.inputLayer({ inputShape: [null, INPUT] }));
    s.add(tf.layers.lstm({ units: 6, returnSequences: true }));
    s.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid' }) as tf.RNN }));
    s.add(tf.layers.dropout({ rate: 0.3 }));
    s.add(tf.layers.simpleRNN({ units: 3, activation: 'relu' }));
    s.add(tf.layers.dense({ units: 2 }));
    randomize(s);
    const model = await engine.load(await saveTfjs(s));
    try {
      expect(model.spec.layers.map((l) => [l.kind, l.hiddenSize, l.numDirections])).toEqual([['lstm', 6, 1], ['gru', 4, 2], ['rnn', 3, 1]]);
      expect(model.spec.returnSequences).toBe(false);
      const x = randomFloats(rng, B * T * INPUT);
      expectClose(`tfjs stack (seed ${seed})`, (await model.forward(x, { batch: B, seqLen: T })).y, predict(s, x, B, T));
      // TensorFlow.js's GRU (reset_after false) and hard_sigmoid gates: for inference only.
      expect(model.spec.layers[1].linearBeforeReset).toBe(false);
      expect(model.spec.layers[0].cell.f.name).toBe('HardSigmoid');
      await expect(model.trainStep(x, randomFloats(rng, B * 2), { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } })).rejects.toThrow(/not available for a GRU with linearBeforeReset: false/);
    } finally {
      model.destroy();
      s.dispose();
    }
  });

  it('LSTM(7, return_sequences) → LSTM(4) → Dense(1), functional: y is predict\'s and a training step\'s loss TensorFlow.js\'s', async () => {
    const input = tf.input({ shape: [null, INPUT] });
    let at = tf.layers.lstm({ units: 7, returnSequences: true, recurrentActivation: 'sigmoid' }).apply(input) as tf.SymbolicTensor;
    at = tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid' }).apply(at) as tf.SymbolicTensor;
    const tfModel = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 1 }).apply(at) as tf.SymbolicTensor });
    randomize(tfModel);
    tfModel.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const model = await engine.load(await saveTfjs(tfModel));
    try {
      expect(model.spec.layers.map((l) => l.hiddenSize)).toEqual([7, 4]);
      const x = randomFloats(rng, B * T * INPUT);
      const out = await model.forward(x, { batch: B, seqLen: T });
      expectClose(`tfjs LSTM stack (seed ${seed})`, out.y, predict(tfModel, x, B, T));
      expect(out.hN.length).toBe(B * (7 + 4));
      const target = randomFloats(rng, B);
      const expected = tf.tidy(() => (tfModel.evaluate(tf.tensor3d(x, [B, T, INPUT]), tf.tensor2d(target, [B, 1])) as tf.Scalar).dataSync()[0]);
      const { loss } = await model.trainStep(x, target, { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } });
      expectClose(`tfjs LSTM stack training loss (seed ${seed})`, [loss!], [expected]);
    } finally {
      model.destroy();
      tfModel.dispose();
    }
  });
});
