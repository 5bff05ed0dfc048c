/**
 * Whole models on the GPU against the float64 whole-model reference: every cell kind and
 * option, 1–3 layers, one or two directions, batchFirst, initial states given or not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { CELL_CONFIGS, randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('recurrent-model');
let engine: Engine;

beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe.each(CELL_CONFIGS)('$name', (config) => {
  for (const numLayers of [1, 2, 3]) {
    for (const bidirectional of [false, true]) {
      for (const batchFirst of [false, true]) {
        // Half the combinations with each recurrence kernel: persistent, or one dispatch per step.
        const persistent = (numLayers + Number(bidirectional) + Number(batchFirst)) % 2 === 0;
        it(`L=${numLayers} bidirectional=${bidirectional} batchFirst=${batchFirst} ${persistent ? 'persistent' : 'per step'}`, async () => {
          const inputSize = 5;
          const hiddenSize = 7 + numLayers;
          const model = config.make(engine, { inputSize, hiddenSize, numLayers, bidirectional, batchFirst, persistent });
          const dict = randomStateDict(model.spec, rng);
          model.loadStateDict(dict);
          const isLstm = model.kind === 'lstm';
          const batch = 3;
          const seqLen = 4 + numLayers;
          const D = bidirectional ? 2 : 1;
          const stateSize = numLayers * D * batch * hiddenSize;
          const variants: Array<{ h0?: boolean; c0?: boolean }> = isLstm
            ? [{}, { h0: true, c0: true }, { h0: true }, { c0: true }]
            : [{}, { h0: true }];
          for (const v of variants) {
            const x = randomFloats(rng, seqLen * batch * inputSize, -1.5, 1.5);
            const h0 = v.h0 ? randomFloats(rng, stateSize) : undefined;
            const c0 = v.c0 ? randomFloats(rng, stateSize, -2, 2) : undefined;
            const got = await model.forward(x, { batch, seqLen, h0, c0 });
            const ref = recurrentForwardReference(model.spec, dict, x, { batch, seqLen, h0, c0 });
            const label = `${config.name} L=${numLayers} D=${D} batchFirst=${batchFirst} h0=${!!v.h0} c0=${!!v.c0} (seed ${seed})`;
            expectClose(`${label}: output`, got.output, ref.output);
            expectClose(`${label}: hN`, got.hN, ref.hN);
            if (isLstm) expectClose(`${label}: cN`, got.cN!, ref.cN!);
            else expect(got.cN).toBeUndefined();
          }
          model.destroy();
        });
      }
    }
  }

  it('variable lengths: each sequence runs alone for its own length, zeros after', async () => {
    for (const batchFirst of [false, true]) {
      const I = 3;
      const H = 6;
      const B = 6;
      const T = 5;
      // batchFirst with the per-step kernel, sequence-first with the persistent one.
      const model = config.make(engine, { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst, persistent: !batchFirst });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const seqLens = [5, 1, 3, 5, 2, 4];
      const x = randomFloats(rng, T * B * I);
      const h0 = randomFloats(rng, 4 * B * H);
      const c0 = model.kind === 'lstm' ? randomFloats(rng, 4 * B * H) : undefined;
      const got = await model.forward(x, { batch: B, seqLen: T, h0, c0, seqLens });
      const ref = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, h0, c0, seqLens });
      const label = `${config.name} seqLens batchFirst=${batchFirst} (seed ${seed})`;
      expectClose(`${label}: output`, got.output, ref.output);
      expectClose(`${label}: hN`, got.hN, ref.hN);
      if (ref.cN) expectClose(`${label}: cN`, got.cN!, ref.cN);
      // Independently: sequence b alone, truncated to its length, gives the same numbers.
      const at = (t: number, b: number, n: number, F: number): number => (batchFirst ? (b * T + t) * F + n : (t * B + b) * F + n);
      for (let b = 0; b < B; b++) {
        const L = seqLens[b];
        const xb = new Float32Array(L * I);
        for (let t = 0; t < L; t++) for (let i = 0; i < I; i++) xb[t * I + i] = x[at(t, b, i, I)];
        const state = (s: Float32Array | undefined): Float32Array | undefined => s && Float32Array.from({ length: 4 * H }, (_, i) => s[(Math.floor(i / H) * B + b) * H + (i % H)]);
        const alone = await model.forward(xb, { batch: 1, seqLen: L, h0: state(h0), c0: state(c0) });
        const out = Array.from({ length: T * 2 * H }, (_, i) => got.output[at(Math.floor(i / (2 * H)), b, i % (2 * H), 2 * H)]);
        const want = Array.from({ length: T * 2 * H }, (_, i) => (Math.floor(i / (2 * H)) < L ? alone.output[i] : 0));
        expectClose(`${label}: sequence ${b} alone`, out, want);
        expectClose(`${label}: hN of sequence ${b}`, Array.from({ length: 4 * H }, (_, i) => got.hN[(Math.floor(i / H) * B + b) * H + (i % H)]), alone.hN);
      }
      model.destroy();
    }
  });

  it('wider layers: H and I across workgroup and tile edges, longer sequences', async () => {
    const model = config.make(engine, { inputSize: 33, hiddenSize: 65, numLayers: 2, bidirectional: true });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const batch = 2;
    const seqLen = 11;
    const x = randomFloats(rng, seqLen * batch * 33);
    const h0 = randomFloats(rng, 2 * 2 * batch * 65);
    const got = await model.forward(x, { batch, seqLen, h0 });
    const ref = recurrentForwardReference(model.spec, dict, x, { batch, seqLen, h0 });
    expectClose(`${config.name} wide: output (seed ${seed})`, got.output, ref.output);
    expectClose(`${config.name} wide: hN (seed ${seed})`, got.hN, ref.hN);
    model.destroy();
  });
});

describe('parameters', () => {
  it('default initialisation is U(−1/√H, 1/√H), repeatable from the seed', async () => {
    const H = 16;
    const a = await engine.lstm({ inputSize: 3, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 7 }).stateDict();
    const b = await engine.lstm({ inputSize: 3, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 7 }).stateDict();
    const c = await engine.lstm({ inputSize: 3, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 8 }).stateDict();
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(Object.keys(a)).toHaveLength(16);
    for (const name of Object.keys(a)) {
      expect(a[name], name).toEqual(b[name]);
      expect(a[name], name).not.toEqual(c[name]);
      const bound = 1 / Math.sqrt(H);
      const vals = Array.from(a[name]);
      expect(Math.max(...vals.map(Math.abs)), name).toBeLessThanOrEqual(bound);
      // Spread over the interval, not bunched: the extremes come near the bounds.
      expect(Math.max(...vals), name).toBeGreaterThan(bound * 0.8);
      expect(Math.min(...vals), name).toBeLessThan(-bound * 0.8);
    }
  });

  it('stateDict returns exactly what loadStateDict was given, under PyTorch names and shapes', async () => {
    for (const config of CELL_CONFIGS) {
      const model = config.make(engine, { inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, bias: config.name !== 'lstm' });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const back = await model.stateDict();
      expect(Object.keys(back).sort()).toEqual(Object.keys(dict).sort());
      for (const name of Object.keys(dict)) expect(back[name], `${config.name} ${name}`).toEqual(dict[name]);
      model.destroy();
    }
  });

  it('a linear read-out: y matches the reference, its parameters round-trip', async () => {
    for (const batchFirst of [false, true]) {
      const model = engine.gru({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, batchFirst, outputSize: 4 });
      const dict = randomStateDict(model.spec, rng);
      expect(dict['readout.weight']).toHaveLength(4 * 10);
      model.loadStateDict(dict);
      const x = randomFloats(rng, 6 * 2 * 3);
      const got = await model.forward(x, { batch: 2, seqLen: 6 });
      const ref = recurrentForwardReference(model.spec, dict, x, { batch: 2, seqLen: 6 });
      expectClose(`read-out y batchFirst=${batchFirst} (seed ${seed})`, got.y!, ref.y!);
      expectClose(`read-out output batchFirst=${batchFirst} (seed ${seed})`, got.output, ref.output);
      const back = await model.stateDict();
      expect(back['readout.weight']).toEqual(dict['readout.weight']);
      expect(back['readout.bias']).toEqual(dict['readout.bias']);
      model.destroy();
    }
  });

  it('an LSTM with peepholes matches the reference; its peepholes round-trip; training refuses it', async () => {
    const model = engine.lstm({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, peepholes: true });
    const dict = randomStateDict(model.spec, rng);
    expect(dict.peephole_l1_reverse).toHaveLength(15);
    model.loadStateDict(dict);
    const x = randomFloats(rng, 4 * 3 * 3);
    const c0 = randomFloats(rng, 4 * 3 * 5, -2, 2);
    const got = await model.forward(x, { batch: 3, seqLen: 4, c0, seqLens: [4, 2, 3] });
    const ref = recurrentForwardReference(model.spec, dict, x, { batch: 3, seqLen: 4, c0, seqLens: [4, 2, 3] });
    expectClose(`peepholes output (seed ${seed})`, got.output, ref.output);
    expectClose(`peepholes cN (seed ${seed})`, got.cN!, ref.cN!);
    const back = await model.stateDict();
    expect(back.peephole_l0).toEqual(dict.peephole_l0);
    await expect(model.gradients(x, { batch: 3, seqLen: 4, gradOutput: new Float32Array(4 * 3 * 10) })).rejects.toThrow(/not available for an LSTM with peepholes/);
    model.destroy();
  });

  it('cell functions per direction: a bidirectional GRU matches the reference; inference only', async () => {
    const cell = { f: { name: 'HardSigmoid' as const }, reverse: { g: { name: 'Softsign' as const } } };
    const model = engine.gru({ inputSize: 3, hiddenSize: 6, numLayers: 2, bidirectional: true, cell });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const x = randomFloats(rng, 5 * 2 * 3);
    const got = await model.forward(x, { batch: 2, seqLen: 5, seqLens: [5, 3] });
    const ref = recurrentForwardReference(model.spec, dict, x, { batch: 2, seqLen: 5, seqLens: [5, 3] });
    expectClose(`per-direction output (seed ${seed})`, got.output, ref.output);
    expectClose(`per-direction hN (seed ${seed})`, got.hN, ref.hN);
    // The reverse direction's g differs from the forward one's: the reference sees it too.
    const same = recurrentForwardReference({ ...model.spec, cell: { ...model.spec.cell, reverse: model.spec.cell, sameDirections: true } }, dict, x, { batch: 2, seqLen: 5, seqLens: [5, 3] });
    expect(Math.max(...ref.output.map((v, i) => Math.abs(v - same.output[i])))).toBeGreaterThan(1e-3);
    await expect(model.gradients(x, { batch: 2, seqLen: 5, gradOutput: new Float32Array(5 * 2 * 12) })).rejects.toThrow(/not available for cells with ONNX/);
    model.destroy();
    expect(() => engine.gru({ inputSize: 3, hiddenSize: 6, cell })).toThrow(/not bidirectional/);
    expect(() => engine.rnn({ inputSize: 3, hiddenSize: 6, bidirectional: true, cell: { reverse: { g: { name: 'Tanh' } } } })).toThrow(/only f/);
  });

  it('a model without bias matches the reference with no bias terms', async () => {
    const model = engine.gru({ inputSize: 6, hiddenSize: 9, bias: false, numLayers: 2 });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    expect(Object.keys(dict).some((n) => n.startsWith('bias'))).toBe(false);
    const x = randomFloats(rng, 5 * 2 * 6);
    const got = await model.forward(x, { batch: 2, seqLen: 5 });
    const ref = recurrentForwardReference(model.spec, dict, x, { batch: 2, seqLen: 5 });
    expectClose(`no-bias output (seed ${seed})`, got.output, ref.output);
    model.destroy();
  });
});

describe("the model's output y", () => {
  it("y, the model's output: every step's read-out, or the final states' (returnSequences false), in forward and gradients", async () => {
    const B = 4;
    const T = 6;
    const seqLens = [6, 1, 4, 3];
    for (const kind of ['lstm', 'gru', 'rnn'] as const) {
      for (const outputSize of [0, 3]) {
        for (const returnSequences of [true, false]) {
          const options = { inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, batchFirst: outputSize > 0, outputSize: outputSize || undefined, returnSequences };
          const model = kind === 'lstm' ? engine.lstm(options) : kind === 'gru' ? engine.gru(options) : engine.rnn(options);
          const dict = randomStateDict(model.spec, rng);
          model.loadStateDict(dict);
          const x = randomFloats(rng, T * B * 3);
          const label = `${kind} outputSize=${outputSize} returnSequences=${returnSequences} (seed ${seed})`;
          const got = await model.forward(x, { batch: B, seqLen: T, seqLens });
          const ref = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T, seqLens });
          expect(got.y.length, label).toBe((returnSequences ? T * B : B) * (outputSize || 10));
          expectClose(`${label}: y`, got.y, ref.y);
          if (returnSequences && !outputSize) expect(got.y).toBe(got.output);
          const g = await model.gradients(x, { batch: B, seqLen: T, seqLens, gradOutput: new Float32Array(T * B * 10) });
          expectClose(`${label}: gradients' y`, g.y, ref.y);
          model.destroy();
        }
      }
    }
  });
});
