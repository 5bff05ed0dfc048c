/**
 * Gradient diagnostics on the GPU (jacobianNorms, lossGradientNorms) against independent
 * float64 computations:
 *
 * - central finite differences of the float64 whole-model reference (recurrentForwardReference),
 *   rerun from step k + 1 with the state h_k (or c_k) perturbed by ±1e−6: RNN tanh and relu,
 *   LSTM (h and c), GRU, H = 3…5, T = 5…7;
 * - closed forms for the identity cell, where ∂h_t/∂h_k = W_hh^(t−k) exactly: the Frobenius
 *   norm of the matrix power (plain loops), and for W_hh = s·Q with Q orthogonal s^(t−k)·√H
 *   (vanishing for s < 1, constant for s = 1, exploding for s > 1);
 * - refusals: bidirectional, 2 layers, batch ≠ 1, a GRU without gradients.
 *
 * Tolerance: the GPU computes in float32 (and starts from float32 states), so
 * |gpu − ref| ≤ 1e−6 + 1e−4·|ref| against finite differences and against the closed forms
 * |gpu − ref| ≤ 1e−6 + 1e−5·|ref| (observed errors: a few 1e−7 relative).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jacobianNorms, lossGradientNorms } from '../../src/analysis/gradient-diagnostics.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import type { ModelSpec } from '../../src/spec/spec.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { orthogonalMatrix } from '../../src/model/init.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('gradient-diagnostics');
let engine: Engine;

beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const FD_ATOL = 1e-6;
const FD_RTOL = 1e-4;
const EXACT_ATOL = 1e-6;
const EXACT_RTOL = 1e-5;
const EPS = 1e-6;

type Dict = Record<string, Float32Array>;

/**
 * The float64 reference run from the state after step k (k = −1: the initial state) over
 * x_{k+1..T−1}: the outputs [n, H] and the final states (the starting ones when n = 0).
 */
function runFrom(spec: ModelSpec, dict: Dict, x: Float32Array, T: number, k: number, h: Float64Array, c?: Float64Array): { out: Float64Array; hN: Float64Array; cN?: Float64Array } {
  const n = T - 1 - k;
  const I = spec.inputSize;
  if (n === 0) return { out: new Float64Array(0), hN: h, cN: c };
  const r = recurrentForwardReference(spec, dict, x.subarray((k + 1) * I, T * I), { batch: 1, seqLen: n, h0: h, c0: c });
  return { out: r.output, hN: r.hN, cN: r.cN };
}

/** Every reference state: row k + 1 of h (and c) [T + 1, H] is the state after step k. */
function referenceStates(spec: ModelSpec, dict: Dict, x: Float32Array, T: number, h0?: Float32Array, c0?: Float32Array): { h: Float64Array[]; c?: Float64Array[] } {
  const H = spec.hiddenSize;
  const lstm = spec.kind === 'lstm';
  const h: Float64Array[] = [h0 ? Float64Array.from(h0) : new Float64Array(H)];
  const c: Float64Array[] | undefined = lstm ? [c0 ? Float64Array.from(c0) : new Float64Array(H)] : undefined;
  // One step at a time from the previous state: the reference's own recurrence.
  for (let k = 0; k < T; k++) {
    const r = runFrom(spec, dict, x, k + 1, k - 1, h[k], c?.[k]);
    h.push(r.hN);
    c?.push(r.cN!);
  }
  return { h, c };
}

/** Finite-difference norms ‖∂h_t/∂h_k‖_F ([T, T], NaN for k ≥ t) and ‖∂h_t/∂h0‖ ([T]); `cell`: w.r.t. c_k. */
function fdJacobianNorms(spec: ModelSpec, dict: Dict, x: Float32Array, T: number, h0?: Float32Array, c0?: Float32Array, cell = false): { norms: Float64Array; initial: Float64Array } {
  const H = spec.hiddenSize;
  const states = referenceStates(spec, dict, x, T, h0, c0);
  const norms = new Float64Array(T * T).fill(NaN);
  const initial = new Float64Array(T);
  for (let k = -1; k <= T - 2; k++) {
    const sq = new Float64Array(T);
    for (let j = 0; j < H; j++) {
      const run = (delta: number): Float64Array => {
        const h = Float64Array.from(states.h[k + 1]);
        const c = states.c ? Float64Array.from(states.c[k + 1]) : undefined;
        if (cell) c![j] += delta;
        else h[j] += delta;
        return runFrom(spec, dict, x, T, k, h, c).out;
      };
      const plus = run(EPS);
      const minus = run(-EPS);
      for (let t = k + 1; t < T; t++) {
        const s = t - k - 1;
        for (let i = 0; i < H; i++) sq[t] += ((plus[s * H + i] - minus[s * H + i]) / (2 * EPS)) ** 2;
      }
    }
    for (let t = k + 1; t < T; t++) {
      if (k === -1) initial[t] = Math.sqrt(sq[t]);
      else norms[t * T + k] = Math.sqrt(sq[t]);
    }
  }
  return { norms, initial };
}

/** NaN exactly where k ≥ t, and the finite entries close to the reference. */
function expectNorms(label: string, gpu: Float64Array, ref: Float64Array, T: number, atol: number, rtol: number): void {
  for (let t = 0; t < T; t++) for (let k = t; k < T; k++) expect(gpu[t * T + k], `${label}: [${t}, ${k}] (k ≥ t) is NaN`).toBeNaN();
  const pick = (a: Float64Array): number[] => {
    const out: number[] = [];
    for (let t = 0; t < T; t++) for (let k = 0; k < t; k++) out.push(a[t * T + k]);
    return out;
  };
  expectClose(label, pick(gpu), pick(ref), atol, rtol);
}

interface Config {
  name: string;
  make: (H: number, I: number) => RecurrentModel;
  H: number;
  T: number;
}

const CONFIGS: Config[] = [
  { name: 'rnn tanh', make: (H, I) => engine.rnn({ inputSize: I, hiddenSize: H, nonlinearity: 'tanh' }), H: 4, T: 6 },
  { name: 'rnn relu', make: (H, I) => engine.rnn({ inputSize: I, hiddenSize: H, nonlinearity: 'relu' }), H: 5, T: 5 },
  { name: 'lstm', make: (H, I) => engine.lstm({ inputSize: I, hiddenSize: H }), H: 3, T: 7 },
  { name: 'lstm batchFirst', make: (H, I) => engine.lstm({ inputSize: I, hiddenSize: H, batchFirst: true }), H: 4, T: 5 },
  { name: 'gru', make: (H, I) => engine.gru({ inputSize: I, hiddenSize: H }), H: 5, T: 6 },
];

/** A fresh model of `config` with `inputSize` inputs and random weights, input and initial state (one row). */
function randomCase(config: Config, inputSize: number) {
  const { H, T } = config;
  const model = config.make(H, inputSize);
  const dict = randomStateDict(model.spec, rng);
  model.loadStateDict(dict);
  const lstm = model.kind === 'lstm';
  const x = randomFloats(rng, T * inputSize, -1.5, 1.5);
  const h0 = randomFloats(rng, H, -0.8, 0.8);
  const c0 = lstm ? randomFloats(rng, H) : undefined;
  return { model, dict, lstm, x, h0, c0 };
}

describe.each(CONFIGS)('$name against finite differences of the float64 reference', (config) => {
  it('jacobianNorms', async () => {
    const { H, T } = config;
    // A case whose states really depend on h0, by the float64 reference: a ReLU cell cuts the
    // dependence where every unit's first pre-activation is negative (about one draw in 2^H),
    // and a comparison of zeros would test nothing. Drawn again, from the same seed, until so.
    let drawn = randomCase(config, 3);
    let ref = fdJacobianNorms(drawn.model.spec, drawn.dict, drawn.x, T, drawn.h0, drawn.c0);
    for (let tries = 1; Math.max(...ref.initial) <= 1e-2 && tries < 20; tries++) {
      drawn.model.destroy();
      drawn = randomCase(config, 3);
      ref = fdJacobianNorms(drawn.model.spec, drawn.dict, drawn.x, T, drawn.h0, drawn.c0);
    }
    const { model, dict, lstm, x, h0, c0 } = drawn;
    // The GRU runs with a small maxBatch: each lag's copies take several calls.
    const maxBatch = model.kind === 'gru' ? 4 : undefined;
    const r = await jacobianNorms(model, x, { batch: 1, seqLen: T, h0, c0, maxBatch });
    const label = `${config.name} H=${H} T=${T} (seed ${seed})`;
    expect(r.seqLen).toBe(T);
    expect(r.hiddenSize).toBe(H);
    // One call per lag d = 1 … T, of H·(T − d + 1) copies, split into batches of maxBatch.
    let calls = 0;
    for (let d = 1; d <= T; d++) calls += maxBatch ? Math.ceil((H * (T - d + 1)) / maxBatch) : 1;
    expect(r.gradientCalls).toBe(calls);
    expectNorms(`${label}: ‖∂h_t/∂h_k‖`, r.norms, ref.norms, T, FD_ATOL, FD_RTOL);
    expectClose(`${label}: ‖∂h_t/∂h0‖`, r.initial, ref.initial, FD_ATOL, FD_RTOL);
    if (lstm) {
      const refC = fdJacobianNorms(model.spec, dict, x, T, h0, c0, true);
      expectNorms(`${label}: ‖∂h_t/∂c_k‖`, r.cellNorms!, refC.norms, T, FD_ATOL, FD_RTOL);
      expectClose(`${label}: ‖∂h_t/∂c0‖`, r.cellInitial!, refC.initial, FD_ATOL, FD_RTOL);
    } else {
      expect(r.cellNorms).toBeUndefined();
    }
    // Not trivially small: the test compares real dependences.
    expect(Math.max(...r.initial), label).toBeGreaterThan(1e-2);
    model.destroy();
  });

  it('lossGradientNorms', async () => {
    const { H, T } = config;
    const { model, dict, lstm, x, h0, c0 } = randomCase(config, 2);
    const gradOutput = randomFloats(rng, T * H);
    const gradHN = randomFloats(rng, H);
    const gradCN = lstm ? randomFloats(rng, H) : undefined;
    const r = await lossGradientNorms(model, x, { batch: 1, seqLen: T, h0, c0, gradOutput, gradHN, gradCN });
    const label = `${config.name} H=${H} T=${T} (seed ${seed})`;

    // L as a function of the state after step k: the direct terms of step k and what the
    // rerun from k + 1 adds; everything before k is a constant.
    const states = referenceStates(model.spec, dict, x, T, h0, c0);
    const loss = (k: number, h: Float64Array, c?: Float64Array): number => {
      const { out, hN, cN } = runFrom(model.spec, dict, x, T, k, h, c);
      let L = 0;
      for (let s = 0; s < out.length; s++) L += out[s] * gradOutput[(k + 1) * H + s];
      if (k >= 0) for (let m = 0; m < H; m++) L += h[m] * gradOutput[k * H + m];
      for (let m = 0; m < H; m++) L += hN[m] * gradHN[m] + (cN ? cN[m] * gradCN![m] : 0);
      return L;
    };
    const fd = (k: number, cell: boolean): Float64Array => {
      const g = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const at = (delta: number): number => {
          const h = Float64Array.from(states.h[k + 1]);
          const c = states.c ? Float64Array.from(states.c[k + 1]) : undefined;
          if (cell) c![j] += delta;
          else h[j] += delta;
          return loss(k, h, c);
        };
        g[j] = (at(EPS) - at(-EPS)) / (2 * EPS);
      }
      return g;
    };
    const norm = (v: ArrayLike<number>): number => Math.hypot(...Array.from(v));
    const refNorms = new Float64Array(T);
    const refGradients = new Float64Array(T * H);
    for (let k = 0; k < T; k++) {
      const g = fd(k, false);
      refGradients.set(g, k * H);
      refNorms[k] = norm(g);
    }
    expectClose(`${label}: ∂L/∂h_k`, r.gradients, refGradients, FD_ATOL, FD_RTOL);
    expectClose(`${label}: ‖∂L/∂h_k‖`, r.norms, refNorms, FD_ATOL, FD_RTOL);
    expectClose(`${label}: ‖∂L/∂h0‖`, [r.initial], [norm(fd(-1, false))], FD_ATOL, FD_RTOL);
    if (lstm) {
      const refC = Float64Array.from({ length: T }, (_, k) => norm(fd(k, true)));
      expectClose(`${label}: ‖∂L/∂c_k‖`, r.cellNorms!, refC, FD_ATOL, FD_RTOL);
      expectClose(`${label}: ‖∂L/∂c0‖`, [r.cellInitial!], [norm(fd(-1, true))], FD_ATOL, FD_RTOL);
    } else {
      expect(r.cellNorms).toBeUndefined();
    }
    model.destroy();
  });
});

/** A·B for n×n row-major matrices. */
function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let acc = 0;
    for (let m = 0; m < n; m++) acc += a[i * n + m] * b[m * n + j];
    out[i * n + j] = acc;
  }
  return out;
}

function frobenius(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v * v;
  return Math.sqrt(s);
}

/** ‖W^p‖_F for p = 0 … maxPower, by repeated multiplication. */
function powerNorms(w: Float64Array, n: number, maxPower: number): number[] {
  let p: Float64Array = new Float64Array(n * n);
  for (let i = 0; i < n; i++) p[i * n + i] = 1;
  const out = [frobenius(p)];
  for (let e = 1; e <= maxPower; e++) {
    p = matmul(p, w, n);
    out.push(frobenius(p));
  }
  return out;
}

describe('identity cell: closed forms', () => {
  it('‖∂h_t/∂h_k‖ = ‖W_hh^(t−k)‖_F for a random W_hh', async () => {
    const H = 5;
    const I = 3;
    const T = 7;
    const model = engine.rnn({ inputSize: I, hiddenSize: H, nonlinearity: 'identity' });
    const dict = randomStateDict(model.spec, rng);
    // Frobenius norm 1.6: powers that neither vanish nor explode within T steps.
    const w = dict.weight_hh_l0;
    const f = Math.hypot(...w);
    for (let i = 0; i < w.length; i++) w[i] *= 1.6 / f;
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * I);
    const h0 = randomFloats(rng, H);
    const r = await jacobianNorms(model, x, { batch: 1, seqLen: T, h0 });
    const powers = powerNorms(Float64Array.from(w), H, T);
    const expected = new Float64Array(T * T).fill(NaN);
    for (let t = 0; t < T; t++) for (let k = 0; k < t; k++) expected[t * T + k] = powers[t - k];
    const label = `identity H=${H} T=${T} (seed ${seed})`;
    expectNorms(`${label}: ‖∂h_t/∂h_k‖`, r.norms, expected, T, EXACT_ATOL, EXACT_RTOL);
    expectClose(`${label}: ‖∂h_t/∂h0‖`, r.initial, Array.from({ length: T }, (_, t) => powers[t + 1]), EXACT_ATOL, EXACT_RTOL);
    model.destroy();
  });

  it.each([0.5, 1, 1.5])('W_hh = %s·Q with Q orthogonal: ‖∂h_t/∂h_k‖ = s^(t−k)·√H', async (s) => {
    const H = 4;
    const I = 2;
    const T = 10;
    const model = engine.rnn({ inputSize: I, hiddenSize: H, nonlinearity: 'identity' });
    const dict = randomStateDict(model.spec, rng);
    const q = orthogonalMatrix(rng, H);
    // Q really is orthogonal (QᵀQ = I), so the closed form applies.
    const qtq = matmul(Float64Array.from({ length: H * H }, (_, i) => q[(i % H) * H + Math.floor(i / H)]), q, H);
    for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) expect(Math.abs(qtq[i * H + j] - (i === j ? 1 : 0))).toBeLessThan(1e-12);
    dict.weight_hh_l0 = Float32Array.from(q, (v) => s * v);
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * I);
    const r = await jacobianNorms(model, x, { batch: 1, seqLen: T });
    const expected = new Float64Array(T * T).fill(NaN);
    for (let t = 0; t < T; t++) for (let k = 0; k < t; k++) expected[t * T + k] = s ** (t - k) * Math.sqrt(H);
    const label = `orthogonal s=${s} H=${H} T=${T} (seed ${seed})`;
    expectNorms(`${label}: ‖∂h_t/∂h_k‖`, r.norms, expected, T, EXACT_ATOL, EXACT_RTOL);
    expectClose(`${label}: ‖∂h_t/∂h0‖`, r.initial, Array.from({ length: T }, (_, t) => s ** (t + 1) * Math.sqrt(H)), EXACT_ATOL, EXACT_RTOL);
    // The three regimes along the last row: vanishing, constant, exploding with the lag.
    const lag1 = r.norms[(T - 1) * T + (T - 2)];
    const lagMax = r.norms[(T - 1) * T];
    if (s < 1) expect(lagMax / lag1).toBeLessThan(0.01);
    else if (s === 1) expect(Math.abs(lagMax / lag1 - 1)).toBeLessThan(1e-4);
    else expect(lagMax / lag1).toBeGreaterThan(10);
    model.destroy();
  });
});

describe('refusals', () => {
  const x = new Float32Array(4 * 2);
  const gradOutput = new Float32Array(4 * 3);

  it('a bidirectional model', async () => {
    const model = engine.gru({ inputSize: 2, hiddenSize: 3, bidirectional: true });
    await expect(jacobianNorms(model, x, { batch: 1, seqLen: 4 })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/unidirectional/) });
    await expect(lossGradientNorms(model, x, { batch: 1, seqLen: 4, gradOutput: new Float32Array(4 * 6) })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/unidirectional/) });
    model.destroy();
  });

  it('a 2-layer model', async () => {
    const model = engine.lstm({ inputSize: 2, hiddenSize: 3, numLayers: 2 });
    await expect(jacobianNorms(model, x, { batch: 1, seqLen: 4 })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/1-layer model, this one has 2 layers/) });
    await expect(lossGradientNorms(model, x, { batch: 1, seqLen: 4, gradOutput })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/1-layer/) });
    model.destroy();
  });

  it('batch ≠ 1', async () => {
    const model = engine.rnn({ inputSize: 2, hiddenSize: 3 });
    await expect(jacobianNorms(model, new Float32Array(4 * 2 * 2), { batch: 2, seqLen: 4 })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/batch must be 1, got 2/) });
    await expect(lossGradientNorms(model, new Float32Array(4 * 2 * 2), { batch: 2, seqLen: 4, gradOutput: new Float32Array(4 * 2 * 3) })).rejects.toMatchObject({
      code: 'invalid-option',
      message: expect.stringMatching(/batch must be 1/),
    });
    model.destroy();
  });

  it('a GRU without gradients, wrong shapes and unknown options', async () => {
    const gru = engine.gru({ inputSize: 2, hiddenSize: 3, linearBeforeReset: false });
    await expect(jacobianNorms(gru, x, { batch: 1, seqLen: 4 })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/linearBeforeReset/) });
    gru.destroy();
    const rnn = engine.rnn({ inputSize: 2, hiddenSize: 3 });
    await expect(jacobianNorms(rnn, new Float32Array(7), { batch: 1, seqLen: 4 })).rejects.toMatchObject({ code: 'shape' });
    await expect(lossGradientNorms(rnn, x, { batch: 1, seqLen: 4, gradOutput: new Float32Array(5) })).rejects.toMatchObject({ code: 'shape' });
    await expect(jacobianNorms(rnn, x, { batch: 1, seqLen: 4, c0: new Float32Array(3) })).rejects.toMatchObject({ code: 'invalid-option' });
    await expect(jacobianNorms(rnn, x, { batch: 1, seqLen: 4, maxBatch: 0 })).rejects.toMatchObject({ code: 'invalid-option' });
    await expect(jacobianNorms(rnn, x, { batch: 1, seqLen: 4, seqLens: [4] } as never)).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/unknown option 'seqLens'/) });
    rnn.destroy();
  });
});
