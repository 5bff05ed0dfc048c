/**
 * Linear RNN ↔ VARMA(1, 0): runLinearRnn against webrnn's float64 Elman reference (identity
 * nonlinearity), simulateVarma against the scalar closed form, the conversion against a 2 × 2
 * example worked by hand, output equality of the two forms on the same noise (seeded random
 * models of several sizes, both directions), round trips, the stationary mean, and the
 * refusal of read-outs that are not square and invertible. Fixed seeds.
 */
import { describe, expect, it } from 'vitest';
import { createRandom, type Random } from '../../src/spec/random.js';
import { rnnCellForwardReference } from '../../src/reference/rnn-cell-forward.js';
import { matrix, matrixFromRows, type Matrix } from '../../src/analysis/linear-algebra.js';
import {
  linearRnnToVarma,
  runLinearRnn,
  simulateVarma,
  varmaMean,
  varmaToLinearRnn,
  type LinearRnn,
  type VarmaModel,
} from '../../src/analysis/varma.js';
import { expectInvalidOption } from '../helpers/errors.js';

function randMatrix(rng: Random, rows: number, cols: number, scale: number): Matrix {
  return matrix(rows, cols, Array.from({ length: rows * cols }, () => rng.range(-scale, scale)));
}
function randVector(rng: Random, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => rng.range(-scale, scale));
}
/** diag(±U(0.5, 1.5)) + off-diagonal U(−0.4/n, 0.4/n): strictly diagonally dominant, so invertible. */
function randInvertible(rng: Random, n: number): Matrix {
  const m = randMatrix(rng, n, n, 0.4 / n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = (rng.uniform() < 0.5 ? -1 : 1) * rng.range(0.5, 1.5);
  return m;
}
function randomRnn(rng: Random, H: number, I: number): LinearRnn {
  return {
    weightIh: randMatrix(rng, H, I, 1),
    weightHh: randMatrix(rng, H, H, 0.9 / Math.sqrt(H)),
    biasIh: randVector(rng, H),
    biasHh: randVector(rng, H),
    weightOut: randInvertible(rng, H),
    biasOut: randVector(rng, H),
    h0: randVector(rng, H),
  };
}
function noise(rng: Random, T: number, I: number): Float64Array {
  return Float64Array.from({ length: T * I }, () => rng.normal());
}

/** max|a − b| ≤ tol·max(1, max|b|). */
function expectRelClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, label: string): void {
  expect(a.length, label).toBe(b.length);
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i] - b[i]);
    if (!(err <= tol * scale)) throw new Error(`${label}[${i}]: got ${a[i]}, expected ${b[i]} (|diff| ${err.toExponential(2)}, scale ${scale})`);
  }
}

describe('runLinearRnn and simulateVarma against independent references', () => {
  it('runLinearRnn follows the float64 Elman reference (identity) plus the read-out', () => {
    const rng = createRandom(21);
    const H = 3;
    const I = 2;
    const O = 4; // any read-out may be run; only the conversion needs O = H
    const T = 20;
    const rnn: LinearRnn = {
      weightIh: randMatrix(rng, H, I, 1),
      weightHh: randMatrix(rng, H, H, 0.6),
      biasIh: randVector(rng, H),
      biasHh: randVector(rng, H),
      weightOut: randMatrix(rng, O, H, 1),
      biasOut: randVector(rng, O),
      h0: randVector(rng, H),
    };
    const x = noise(rng, T, I);
    const got = runLinearRnn(rnn, x);
    let h: Float64Array = Float64Array.from(rnn.h0!);
    for (let t = 0; t < T; t++) {
      const xproj = new Float64Array(H); // W_ih·x_t + b_ih
      for (let j = 0; j < H; j++) {
        xproj[j] = rnn.biasIh![j];
        for (let i = 0; i < I; i++) xproj[j] += rnn.weightIh.data[j * I + i] * x[t * I + i];
      }
      h = rnnCellForwardReference({ batch: 1, hidden: H, xproj, hPrev: h, whh: rnn.weightHh.data, bhh: rnn.biasHh!, nonlinearity: 'identity' }).h;
      expectRelClose(got.states.subarray(t * H, (t + 1) * H), h, 1e-14, `h_${t + 1}`);
      const y = new Float64Array(O);
      for (let o = 0; o < O; o++) {
        y[o] = rnn.biasOut![o];
        for (let j = 0; j < H; j++) y[o] += rnn.weightOut.data[o * H + j] * h[j];
      }
      expectRelClose(got.outputs.subarray(t * O, (t + 1) * O), y, 1e-14, `y_${t + 1}`);
    }
  });

  it('simulateVarma follows the scalar closed form y_t = φᵗ·y_0 + Σ_s φ^(t−s)·(c + θ·x_s)', () => {
    const phi = 0.8;
    const theta = [1.5, -0.5];
    const c = 0.3;
    const y0 = 2;
    const T = 15;
    const rng = createRandom(22);
    const x = noise(rng, T, 2);
    const y = simulateVarma({ phi: matrixFromRows([[phi]]), theta: matrixFromRows([theta]), intercept: [c], y0: [y0] }, x);
    for (let t = 1; t <= T; t++) {
      let want = phi ** t * y0;
      for (let s = 1; s <= t; s++) want += phi ** (t - s) * (c + theta[0] * x[(s - 1) * 2] + theta[1] * x[(s - 1) * 2 + 1]);
      expect(y[t - 1]).toBeCloseTo(want, 12);
    }
  });
});

describe('linearRnnToVarma on a 2 × 2 example worked by hand', () => {
  // W_o = [[2, 1], [0, 1]], W_o⁻¹ = [[0.5, −0.5], [0, 1]], W_hh = [[0.5, 0], [0.2, 0.3]]:
  // W_o·W_hh = [[1.2, 0.3], [0.2, 0.3]], Φ = W_o·W_hh·W_o⁻¹ = [[0.6, −0.3], [0.1, 0.2]].
  // W_ih = [[1], [−1]]: Θ = W_o·W_ih = [[1], [−1]].
  // b_ih + b_hh = [0.1, 0.2] + [0.3, −0.1] = [0.4, 0.1], W_o·(b_ih + b_hh) = [0.9, 0.1];
  // b_o = [1, −1], (I − Φ)·b_o = [[0.4, 0.3], [−0.1, 0.8]]·[1, −1] = [0.1, −0.9]; c = [1.0, −0.8].
  // h_0 = [0.5, 2]: y_0 = W_o·h_0 + b_o = [3, 2] + [1, −1] = [4, 1].
  // Mean: (I − W_hh)⁻¹·[0.4, 0.1] = [0.8, (0.1 + 0.16)/0.7], μ = b_o + W_o·that.
  const rnn: LinearRnn = {
    weightIh: matrixFromRows([[1], [-1]]),
    weightHh: matrixFromRows([[0.5, 0], [0.2, 0.3]]),
    biasIh: [0.1, 0.2],
    biasHh: [0.3, -0.1],
    weightOut: matrixFromRows([[2, 1], [0, 1]]),
    biasOut: [1, -1],
    h0: [0.5, 2],
  };

  it('gives Φ, Θ, c, y_0 and μ', () => {
    const v = linearRnnToVarma(rnn);
    expectRelClose(v.phi.data, [0.6, -0.3, 0.1, 0.2], 1e-15, 'phi');
    expectRelClose(v.theta.data, [1, -1], 1e-15, 'theta');
    expectRelClose(v.intercept, [1.0, -0.8], 1e-15, 'intercept');
    expectRelClose(v.y0!, [4, 1], 1e-15, 'y0');
    const u = [0.8, 0.26 / 0.7];
    expectRelClose(varmaMean(v), [1 + 2 * u[0] + u[1], -1 + u[1]], 1e-14, 'mean');
  });

  it('with the default read-out (identity) the RNN is the VARMA model itself', () => {
    const v: VarmaModel = { phi: matrixFromRows([[0.6, -0.3], [0.1, 0.2]]), theta: matrixFromRows([[1, 2, 3], [-1, 0, 4]]), intercept: [1, -0.8], y0: [4, 1] };
    const r = varmaToLinearRnn(v);
    expect(Array.from(r.weightHh.data)).toEqual([0.6, -0.3, 0.1, 0.2]);
    expect(Array.from(r.weightIh.data)).toEqual([1, 2, 3, -1, 0, 4]);
    expect(Array.from(r.biasIh!)).toEqual([1, -0.8]);
    expect(Array.from(r.biasHh!)).toEqual([0, 0]);
    expect(Array.from(r.weightOut.data)).toEqual([1, 0, 0, 1]);
    expect(Array.from(r.biasOut!)).toEqual([0, 0]);
    expect(Array.from(r.h0!)).toEqual([4, 1]);
  });
});

describe('linear RNN and VARMA produce the same outputs on the same noise', () => {
  const sizes: Array<[number, number]> = [
    [1, 1],
    [2, 3],
    [4, 1],
    [5, 2],
    [8, 8],
  ];
  for (const [H, I] of sizes) {
    it(`H=${H} I=${I}: RNN → VARMA and VARMA → RNN (random read-out), T=60`, () => {
      const rng = createRandom(100 + 10 * H + I);
      const T = 60;
      const rnn = randomRnn(rng, H, I);
      const x = noise(rng, T, I);
      const fromRnn = runLinearRnn(rnn, x).outputs;
      const varma = linearRnnToVarma(rnn);
      expectRelClose(simulateVarma(varma, x), fromRnn, 1e-10, 'VARMA outputs vs RNN outputs');

      const v: VarmaModel = {
        phi: randMatrix(rng, H, H, 0.9 / Math.sqrt(H)),
        theta: randMatrix(rng, H, I, 1),
        intercept: randVector(rng, H),
        y0: randVector(rng, H),
      };
      const back = varmaToLinearRnn(v, { weightOut: randInvertible(rng, H), biasOut: randVector(rng, H), biasHh: randVector(rng, H) });
      expectRelClose(runLinearRnn(back, x).outputs, simulateVarma(v, x), 1e-10, 'RNN outputs vs VARMA outputs');
    });
  }
});

describe('round trips', () => {
  for (const H of [1, 3, 6]) {
    it(`H=${H}: RNN → VARMA → RNN with the same read-out recovers every parameter`, () => {
      const rng = createRandom(200 + H);
      const rnn = randomRnn(rng, H, 2);
      const back = varmaToLinearRnn(linearRnnToVarma(rnn), { weightOut: rnn.weightOut, biasOut: rnn.biasOut, biasHh: rnn.biasHh });
      expectRelClose(back.weightHh.data, rnn.weightHh.data, 1e-12, 'weightHh');
      expectRelClose(back.weightIh.data, rnn.weightIh.data, 1e-12, 'weightIh');
      expectRelClose(back.biasIh!, rnn.biasIh!, 1e-12, 'biasIh');
      expectRelClose(back.biasHh!, rnn.biasHh!, 0, 'biasHh');
      expectRelClose(back.weightOut.data, rnn.weightOut.data, 0, 'weightOut');
      expectRelClose(back.biasOut!, rnn.biasOut!, 0, 'biasOut');
      expectRelClose(back.h0!, rnn.h0!, 1e-12, 'h0');

      // Without b_hh the recurrent bias comes back whole in b_ih: b_ih' = b_ih + b_hh.
      const merged = varmaToLinearRnn(linearRnnToVarma(rnn), { weightOut: rnn.weightOut, biasOut: rnn.biasOut });
      expectRelClose(merged.biasIh!, Array.from(rnn.biasIh!, (b, j) => b + rnn.biasHh![j]), 1e-12, 'biasIh + biasHh');
      expectRelClose(merged.biasHh!, new Float64Array(H), 0, 'biasHh default');
    });

    it(`H=${H}: VARMA → RNN (random read-out) → VARMA recovers Φ, Θ, c, y_0`, () => {
      const rng = createRandom(300 + H);
      const v: VarmaModel = { phi: randMatrix(rng, H, H, 0.5), theta: randMatrix(rng, H, 3, 1), intercept: randVector(rng, H), y0: randVector(rng, H) };
      const again = linearRnnToVarma(varmaToLinearRnn(v, { weightOut: randInvertible(rng, H), biasOut: randVector(rng, H) }));
      expectRelClose(again.phi.data, v.phi.data, 1e-12, 'phi');
      expectRelClose(again.theta.data, v.theta.data, 1e-12, 'theta');
      expectRelClose(again.intercept, v.intercept, 1e-12, 'intercept');
      expectRelClose(again.y0!, v.y0!, 1e-12, 'y0');
    });
  }
});

describe('VARMA stationary mean', () => {
  it('μ = b_o + W_o·(I − W_hh)⁻¹·(b_ih + b_hh), and y_0 = μ with zero noise stays at μ', () => {
    const rng = createRandom(400);
    const H = 4;
    const rnn = randomRnn(rng, H, 2);
    const v = linearRnnToVarma(rnn);
    const mu = varmaMean(v);
    // Independently: run the RNN with zero input from h_0 = 0 for long enough that
    // ρ(W_hh)^T is negligible; its output converges to μ.
    const long = runLinearRnn({ ...rnn, h0: undefined }, new Float64Array(2 * 3000)).outputs;
    expectRelClose(mu, long.subarray((3000 - 1) * H), 1e-10, 'mean vs long zero-input run');
    const stay = simulateVarma({ ...v, y0: mu }, new Float64Array(2 * 10));
    for (let t = 0; t < 10; t++) expectRelClose(stay.subarray(t * H, (t + 1) * H), mu, 1e-12, `y_${t + 1}`);
  });

  it('refuses a unit root', () => {
    expectInvalidOption(() => varmaMean({ phi: matrixFromRows([[1, 0], [0, 0.5]]), theta: matrix(2, 1, [1, 1]), intercept: [1, 1] }), /no finite mean/);
  });
});

describe('read-outs that are not square and invertible are refused', () => {
  const rng = createRandom(500);
  const base = randomRnn(rng, 3, 2);

  it('a non-square read-out (O < H)', () => {
    expectInvalidOption(() => linearRnnToVarma({ ...base, weightOut: randMatrix(rng, 2, 3, 1), biasOut: [0, 0] }), /square invertible read-out/);
  });

  it('a singular read-out and a nearly singular one', () => {
    const singular = matrixFromRows([[1, 2, 3], [2, 4, 6], [0, 1, 1]]); // row 2 = 2·row 1
    expectInvalidOption(() => linearRnnToVarma({ ...base, weightOut: singular }), /singular/);
    const nearly = matrixFromRows([[1, 2, 3], [2, 4, 6 + 1e-14], [0, 1, 1]]);
    expectInvalidOption(() => linearRnnToVarma({ ...base, weightOut: nearly }), /singular/);
    expectInvalidOption(() => linearRnnToVarma({ ...base, weightOut: matrix(3, 3) }), /singular/);
  });

  it('in varmaToLinearRnn too', () => {
    const v = linearRnnToVarma(base);
    expectInvalidOption(() => varmaToLinearRnn(v, { weightOut: matrixFromRows([[1, 1, 0], [1, 1, 0], [0, 0, 1]]) }), /singular/);
    expectInvalidOption(() => varmaToLinearRnn(v, { weightOut: matrix(3, 2) }), /square invertible read-out/);
  });
});
