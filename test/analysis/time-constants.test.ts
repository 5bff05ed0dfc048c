/**
 * Memory time constants: τ = −Δt/ln f and its inverse, and per-unit LSTM time constants from
 * hand-built state dicts whose forget gates are known in advance.
 */
import { describe, expect, it } from 'vitest';
import { forgetForTimeConstant, lstmTimeConstants, timeConstant } from '../../src/analysis/time-constants.js';
import { createRandom } from '../../src/spec/random.js';
import { resolveSpec } from '../../src/spec/spec.js';
import { initialParameters } from '../../src/model/init.js';
import { expectInvalidOption } from '../helpers/errors.js';

const relClose = (got: number, want: number, rel: number): void => {
  expect(Math.abs(got - want), `got ${got}, want ${want}`).toBeLessThanOrEqual(rel * Math.abs(want));
};

const logit = (f: number): number => Math.log(f / (1 - f));

describe('timeConstant and forgetForTimeConstant', () => {
  it('f = 0.95 at Δt = 0.02 s gives τ ≈ 0.390 s', () => {
    const tau = timeConstant(0.95, 0.02);
    expect(Math.abs(tau - 0.39)).toBeLessThan(5e-4); // 3 digits
    expect(Math.abs(tau - 0.3899145)).toBeLessThan(1e-7); // 0.02 / 0.0512933
    expect(forgetForTimeConstant(tau, 0.02)).toBeCloseTo(0.95, 14);
    expect(forgetForTimeConstant(0.39, 0.02)).toBeCloseTo(0.95, 3);
  });

  it('round trips, and the decay over τ is a factor e', () => {
    const rng = createRandom(11);
    for (let k = 0; k < 50; k++) {
      const f = rng.range(0.01, 0.999);
      const dt = rng.range(1e-3, 2);
      const tau = timeConstant(f, dt);
      relClose(forgetForTimeConstant(tau, dt), f, 1e-13);
      // f^(τ/Δt) = e^{−1}: after a time τ the state has fallen by e.
      relClose(f ** (tau / dt), Math.exp(-1), 1e-12);
    }
    // Halving per step: τ = Δt / ln 2.
    relClose(timeConstant(0.5, 1), 1 / Math.LN2, 1e-15);
  });

  it('refuses f outside (0, 1) and non-positive Δt or τ', () => {
    for (const f of [0, 1, 1.2, -0.1, NaN]) expectInvalidOption(() => timeConstant(f, 0.02), /f must be in \(0, 1\)/);
    for (const dt of [0, -1, Infinity, NaN]) expectInvalidOption(() => timeConstant(0.9, dt), /dt must be a finite number > 0/);
    expectInvalidOption(() => forgetForTimeConstant(0, 0.02), /tau must be a finite number > 0/);
  });
});

/** An LSTM dict with H units and I inputs; every block other than the forget gate holds junk (±50). */
function lstmDict(H: number, I: number, forgetIh: number[], forgetHh: number[], suffix = '_l0'): Record<string, Float64Array> {
  const bih = new Float64Array(4 * H).fill(50);
  const bhh = new Float64Array(4 * H).fill(-50);
  forgetIh.forEach((v, j) => (bih[H + j] = v));
  forgetHh.forEach((v, j) => (bhh[H + j] = v));
  return {
    [`weight_ih${suffix}`]: new Float64Array(4 * H * I).fill(50),
    [`weight_hh${suffix}`]: new Float64Array(4 * H * H).fill(-50),
    [`bias_ih${suffix}`]: bih,
    [`bias_hh${suffix}`]: bhh,
  };
}

describe('lstmTimeConstants', () => {
  it('at zero input and state: f_j = σ(b_if[j] + b_hf[j]) from the forget block (rows H..2H)', () => {
    const target = [0.95, 0.5, 0.99];
    // Split each logit unevenly between b_ih and b_hh.
    const ih = [1.5, 0, 3];
    const dict = lstmDict(3, 2, ih, target.map((f, j) => logit(f) - ih[j]));
    const r = lstmTimeConstants(dict, { dt: 0.02 });
    expect(r.hiddenSize).toBe(3);
    target.forEach((f, j) => {
      relClose(r.forget[j], f, 1e-14);
      relClose(r.tau[j], -0.02 / Math.log(f), 1e-12);
    });
    expect(Math.abs(r.tau[0] - 0.39)).toBeLessThan(5e-4);
    relClose(r.tau[1], 0.02 / Math.LN2, 1e-14);
  });

  it('float32 state dicts (as model.stateDict() gives), and τ stays accurate when f rounds to 1', () => {
    const H = 4;
    const bih = new Float32Array(4 * H);
    const bhh = new Float32Array(4 * H);
    bih.set([0.25, -1.75, 2.5, 40], H);
    bhh.set([0.125, 0.5, -0.25, 0], H);
    const dict = { weight_ih_l0: new Float32Array(4 * H * 3), weight_hh_l0: new Float32Array(4 * H * H), bias_ih_l0: bih, bias_hh_l0: bhh };
    const r = lstmTimeConstants(dict, { dt: 0.01 });
    const z = [0.375, -1.25, 2.25, 40];
    for (let j = 0; j < 3; j++) {
      const f = 1 / (1 + Math.exp(-z[j]));
      relClose(r.forget[j], f, 1e-15);
      relClose(r.tau[j], -0.01 / Math.log(f), 1e-12);
    }
    // σ(40) = 1 − 4e−18 rounds to 1, but −ln σ(40) ≈ e^{−40}: τ ≈ Δt·e^{40}.
    expect(r.forget[3]).toBe(1);
    relClose(r.tau[3], 0.01 * Math.exp(40), 1e-12);
  });

  it('a model without biases: f = σ(0) = 1/2', () => {
    const r = lstmTimeConstants({ weight_ih_l0: new Float64Array(8 * 2), weight_hh_l0: new Float64Array(8 * 2) }, { dt: 1 });
    expect(Array.from(r.forget)).toEqual([0.5, 0.5]);
    r.tau.forEach((t) => relClose(t, 1 / Math.LN2, 1e-15));
  });

  it("webrnn's initialize({ forgetBias: 1 }) gives f = σ(1) ≈ 0.7311 in every unit", () => {
    const spec = resolveSpec('lstm', { inputSize: 3, hiddenSize: 5, numLayers: 2 });
    const dict = initialParameters(spec, { forgetBias: 1, seed: 4 });
    for (const layer of [0, 1]) {
      const r = lstmTimeConstants(dict, { dt: 0.02, layer });
      expect(r.hiddenSize).toBe(5);
      r.forget.forEach((f) => expect(Math.abs(f - 0.7310585786)).toBeLessThan(1e-9));
      r.tau.forEach((t) => expect(Math.abs(t - 0.0638443857)).toBeLessThan(1e-9));
    }
  });

  it('layer and reverse pick their own parameters', () => {
    const H = 2;
    const dict = {
      ...lstmDict(H, 3, [0, 0], [0, 0], '_l0'),
      ...lstmDict(H, 2 * H, [logit(0.9), 0], [0, logit(0.8)], '_l1_reverse'),
    };
    const r = lstmTimeConstants(dict, { dt: 0.1, layer: 1, reverse: true });
    relClose(r.forget[0], 0.9, 1e-14);
    relClose(r.forget[1], 0.8, 1e-14);
    relClose(r.tau[0], -0.1 / Math.log(0.9), 1e-13);
    expectInvalidOption(() => lstmTimeConstants(dict, { dt: 0.1, layer: 1 }), /weight_hh_l1 is missing/);
  });

  describe('averaged over samples (x_n, h_n)', () => {
    // H = 2, I = 1. Forget rows: W_ih = [0.5; −1], W_hh = [[1, 0]; [0, 2]], biases b_if + b_hf = [0.5, 0].
    const H = 2;
    const dict = lstmDict(H, 1, [0.2, -0.1], [0.3, 0.1]);
    dict.weight_ih_l0[2] = 0.5;
    dict.weight_ih_l0[3] = -1;
    dict.weight_hh_l0.set([1, 0, 0, 2], 2 * H);
    const x = [1, -2];
    const h = [0.5, 1, -1, 0.25];
    // By hand: z_0 = 0.5 + 0.5·x + h_0 = [1.5, −1.5]; z_1 = −x + 2 h_1 = [1, 2.5].
    const z = [[1.5, -1.5], [1, 2.5]];
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));

    it("'gate' (default): τ of the mean forget gate", () => {
      const r = lstmTimeConstants(dict, { dt: 0.02, samples: { count: 2, x, h } });
      relClose(r.forget[0], 0.5, 1e-15); // σ(1.5) + σ(−1.5) = 1
      relClose(r.tau[0], 0.02 / Math.LN2, 1e-14);
      const f1 = (sig(1) + sig(2.5)) / 2;
      relClose(r.forget[1], f1, 1e-15);
      relClose(r.tau[1], -0.02 / Math.log(f1), 1e-13);
    });

    it("'log': τ of the geometric mean, the decay of the product of the gates", () => {
      const r = lstmTimeConstants(dict, { dt: 0.02, samples: { count: 2, x, h }, average: 'log' });
      for (let j = 0; j < H; j++) {
        const product = sig(z[j][0]) * sig(z[j][1]);
        relClose(r.forget[j], Math.sqrt(product), 1e-14);
        // Π_n f_n = exp(−N Δt / τ).
        relClose(Math.exp((-2 * 0.02) / r.tau[j]), product, 1e-13);
      }
    });

    it('h absent means h = 0', () => {
      const r = lstmTimeConstants(dict, { dt: 0.02, samples: { count: 2, x } });
      // z_0 = 0.5 + 0.5·x = [1, −0.5]; z_1 = −x = [−1, 2].
      relClose(r.forget[0], (sig(1) + sig(-0.5)) / 2, 1e-15);
      relClose(r.forget[1], (sig(-1) + sig(2)) / 2, 1e-15);
    });
  });

  it('refuses missing or mis-sized parameters and bad samples or options', () => {
    const dict = lstmDict(3, 2, [0, 0, 0], [0, 0, 0]);
    expectInvalidOption(() => lstmTimeConstants({}, { dt: 1 }), /weight_hh_l0 is missing/);
    expectInvalidOption(() => lstmTimeConstants({ ...dict, weight_hh_l0: new Float64Array(35) }, { dt: 1 }), /not 4H·H/);
    expectInvalidOption(() => lstmTimeConstants({ ...dict, bias_hh_l0: undefined as unknown as Float64Array }, { dt: 1 }), /must be given together/);
    expectInvalidOption(() => lstmTimeConstants({ ...dict, bias_ih_l0: new Float64Array(11) }, { dt: 1 }), /bias_ih_l0 has 11 elements, 12 expected/);
    expectInvalidOption(() => lstmTimeConstants({ ...dict, bias_ih_l0: new Float64Array(12).fill(NaN) }, { dt: 1 }), /bias_ih_l0\[0\] is NaN/);
    expectInvalidOption(() => lstmTimeConstants(dict, { dt: 0 }), /dt must be a finite number > 0/);
    expectInvalidOption(() => lstmTimeConstants(dict, { dt: 1, layer: -1 }), /layer must be a non-negative integer/);
    expectInvalidOption(() => lstmTimeConstants(dict, { dt: 1, average: 'max' as 'gate' }), /average must be/);
    expectInvalidOption(() => lstmTimeConstants(dict, { dt: 1, samples: { count: 2, x: [1, 2, 3] } }), /samples.x must hold \[2, 2\] = 4 values/);
    expectInvalidOption(() => lstmTimeConstants(dict, { dt: 1, samples: { count: 1, x: [1, 2], h: [0] } }), /samples.h must hold \[1, 3\] = 3 values/);
    expectInvalidOption(() => lstmTimeConstants(dict, { dt: 1, samples: { count: 0, x: [] } }), /samples.count must be a positive integer/);
  });
});
