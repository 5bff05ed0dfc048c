/**
 * The ODE toolkit against closed forms: eigenvalues and the matrix exponential of matrices whose
 * answers are known; Euler, RK4 and implicit Euler on x' = λx (x_n = R(hλ)^n·x0), their orders of
 * convergence, the growth of the error outside the stability region, the stability functions
 * and boundaries; and the bridge on the engine: the identity-cell RNN with W_hh = I + hA and
 * W_ih = hB steps as explicit Euler does, and jacobianNorms measures ‖(I + hA)^(t−k)‖_F; the
 * tanh cell as Euler with h = 1 on the continuous-time RNN, its jacobianNorms the solver's
 * linearised amplification; a damped pendulum near rest amplified as its linearisation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { jacobianNorms } from '../../src/analysis/gradient-diagnostics.js';
import { identity, luFactor, matrix, matrixFromRows } from '../../src/analysis/linear-algebra.js';
import { eigenvalues, matrixExponential, powerNorms, spectralRadius } from '../../src/analysis/matrix-functions.js';
import { amplificationMatrix, ctrnnRhs, eulerRnnWeights, exactLinearSolution, globalError, inStabilityRegion, linearisedAmplification, solveOde, stabilityBoundary, stabilityFunction, type OdeMethod, type OdeRhs } from '../../src/analysis/ode-solvers.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('ode-solvers');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const sorted = (zs: Array<{ re: number; im: number }>): number[][] => zs.map((z) => [z.re, z.im]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);

describe('eigenvalues, spectral radius and the matrix exponential', () => {
  it('eigenvalues of matrices whose answers are known', () => {
    const close = (got: number[][], want: number[][]): void => {
      expect(got.length).toBe(want.length);
      got.forEach((z, i) => z.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 9)));
    };
    close(sorted(eigenvalues(matrixFromRows([[0, -2], [2, 0]]))), [[0, -2], [0, 2]]);
    close(sorted(eigenvalues(matrixFromRows([[1, 2, 3], [0, 4, 5], [0, 0, 6]]))), [[1, 0], [4, 0], [6, 0]]);
    // Companion matrix of (x − 1)(x − 2)(x + 3)(x² + 1) = x⁵ − x³ − 5x² − 6x... built from its roots.
    const roots = [1, 2, -3];
    let poly = [1];
    for (const r of roots) poly = [...poly, 0].map((c, i) => c - (i > 0 ? r * poly[i - 1] : 0));
    poly = [...poly, 0, 0].map((c, i) => c + (i >= 2 ? poly[i - 2] : 0));
    const n = poly.length - 1;
    const companion = matrix(n, n);
    for (let j = 0; j < n; j++) companion.data[j] = -poly[j + 1];
    for (let i = 1; i < n; i++) companion.data[i * n + i - 1] = 1;
    close(sorted(eigenvalues(companion)), [[-3, 0], [0, -1], [0, 1], [1, 0], [2, 0]]);
    expect(spectralRadius(matrixFromRows([[0.5, 1], [0, -0.9]]))).toBeCloseTo(0.9, 12);
  });

  it('eigenvalues of random matrices: their sum is the trace, their product the determinant', () => {
    for (const n of [3, 6, 9]) {
      const a = matrix(n, n, Array.from({ length: n * n }, () => rng.range(-1, 1)));
      const z = eigenvalues(a);
      expect(z.length).toBe(n);
      const sum = z.reduce((s, v) => ({ re: s.re + v.re, im: s.im + v.im }), { re: 0, im: 0 });
      const prod = z.reduce((p, v) => ({ re: p.re * v.re - p.im * v.im, im: p.re * v.im + p.im * v.re }), { re: 1, im: 0 });
      const trace = Array.from({ length: n }, (_, i) => a.data[i * n + i]).reduce((s, v) => s + v, 0);
      // det A = sign(P)·Π U_ii, the permutation's sign from its cycles.
      const { lu, perm } = luFactor(a);
      const seen = new Array<boolean>(n).fill(false);
      let sign = 1;
      for (let i = 0; i < n; i++) {
        if (seen[i]) continue;
        let len = 0;
        for (let j = i; !seen[j]; j = perm[j]) {
          seen[j] = true;
          len++;
        }
        if (len % 2 === 0) sign = -sign;
      }
      const det = sign * Array.from({ length: n }, (_, i) => lu.data[i * n + i]).reduce((p, v) => p * v, 1);
      expect(sum.re, `trace (seed ${seed})`).toBeCloseTo(trace, 9);
      expect(sum.im).toBeCloseTo(0, 9);
      expect(prod.re, `determinant (seed ${seed})`).toBeCloseTo(det, 9);
      expect(prod.im).toBeCloseTo(0, 9);
    }
  });

  it('the matrix exponential: rotations, a diagonal of very unlike rates, a nilpotent matrix', () => {
    const w = 3.7;
    const rot = matrixExponential(matrixFromRows([[0, -w], [w, 0]]));
    expectClose('e^(rotation generator)', rot.data, [Math.cos(w), -Math.sin(w), Math.sin(w), Math.cos(w)], 1e-12, 1e-12);
    const diag = matrixExponential(matrixFromRows([[-50, 0], [0, 3]]));
    expect(diag.data[0] / Math.exp(-50)).toBeCloseTo(1, 10);
    expect(diag.data[3] / Math.exp(3)).toBeCloseTo(1, 12);
    expectClose('e^(nilpotent)', matrixExponential(matrixFromRows([[0, 1, 0], [0, 0, 1], [0, 0, 0]])).data, [1, 1, 0.5, 0, 1, 1, 0, 0, 1], 1e-15, 1e-15);
  });
});

describe('solvers on x\' = λx and their stability', () => {
  const lambda = -3;
  const f = (x: Float64Array): Float64Array => x.map((v) => lambda * v);
  const R: Record<OdeMethod, (z: number) => number> = {
    euler: (z) => 1 + z,
    rk4: (z) => 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24,
    'implicit-euler': (z) => 1 / (1 - z),
  };

  for (const method of ['euler', 'rk4', 'implicit-euler'] as const) {
    it(`${method}: x_n = R(hλ)^n·x0, and R as the stability function gives it`, () => {
      const h = 0.17;
      const x = solveOde(f, [2], { method, h, steps: 12 });
      for (let n = 0; n <= 12; n++) expect(x[n] / (2 * R[method](h * lambda) ** n)).toBeCloseTo(1, 11);
      const z = { re: h * lambda, im: 0.4 };
      const got = stabilityFunction(method, z);
      const want = method === 'euler' ? { re: 1 + z.re, im: z.im } : null;
      if (want) expect([got.re, got.im]).toEqual([want.re, want.im]);
      expect(amplificationMatrix(matrixFromRows([[lambda]]), h, method).data[0]).toBeCloseTo(R[method](h * lambda), 14);
    });
  }

  it("Euler's error grows like |1 + hλ|^n outside the stability region and decays inside it", () => {
    const A = matrixFromRows([[lambda]]);
    // Outside: hλ = −2.4, |1 + hλ| = 1.4; inside: hλ = −0.6, the error decays with the solution.
    const out = globalError(A, [1], { method: 'euler', h: 0.8, steps: 30 });
    for (let n = 20; n <= 30; n++) expect(out[n] / out[n - 1]).toBeCloseTo(1.4, 6);
    const inside = globalError(A, [1], { method: 'euler', h: 0.2, steps: 30 });
    for (let n = 1; n <= 30; n++) expect(inside[n]).toBeCloseTo(Math.abs(0.4 ** n - Math.exp(-0.6 * n)), 14);
    expect(inStabilityRegion('euler', { re: -1.9, im: 0 })).toBe(true);
    expect(inStabilityRegion('euler', { re: -2.1, im: 0 })).toBe(false);
    expect(inStabilityRegion('implicit-euler', { re: -100, im: 30 })).toBe(true);
    expect(inStabilityRegion('rk4', { re: -2.7, im: 0 })).toBe(true);
    expect(inStabilityRegion('rk4', { re: -2.8, im: 0 })).toBe(false);
  });

  it('orders of convergence on a damped oscillator with input: Euler and implicit Euler 1, RK4 4', () => {
    const A = matrixFromRows([[0, 1], [-4, -0.3]]);
    const B = matrixFromRows([[0], [1]]);
    const finalError = (method: OdeMethod, h: number): number => {
      const steps = Math.round(2 / h);
      // The same held input per unit time at every h: u on [t, t + h) is sin(t).
      const e = globalError(A, [1, 0], { method, h, steps, B, input: (k) => [Math.sin(k * h)] });
      return e[steps];
    };
    for (const [method, order] of [['euler', 1], ['implicit-euler', 1], ['rk4', 4]] as const) {
      const ratio = finalError(method, 0.02) / finalError(method, 0.01);
      expect(Math.log2(ratio), method).toBeGreaterThan(order - 0.15);
      expect(Math.log2(ratio), method).toBeLessThan(order + 0.15);
    }
  });

  it('the spectral radius of R(hA) is max |R(hλ)| over A\'s eigenvalues', () => {
    const A = matrixFromRows([[-1, 5], [-5, -1]]); // λ = −1 ± 5i
    for (const method of ['euler', 'rk4', 'implicit-euler'] as const) {
      for (const h of [0.05, 0.3, 0.6]) {
        const r = stabilityFunction(method, { re: -h, im: 5 * h });
        expect(spectralRadius(amplificationMatrix(A, h, method)), `${method} h=${h}`).toBeCloseTo(Math.hypot(r.re, r.im), 10);
      }
    }
  });

  it('stability boundaries: |R(z)| = 1 on every point, and the known crossings of the axes', () => {
    for (const method of ['euler', 'rk4', 'implicit-euler'] as const) {
      for (const z of stabilityBoundary(method, 72)) {
        const r = stabilityFunction(method, z);
        expect(Math.hypot(r.re, r.im), method).toBeCloseTo(1, 8);
      }
    }
    const crossing = (method: OdeMethod, angle: number): number => {
      const z = stabilityBoundary(method, 4).find((p) => Math.abs(Math.atan2(p.im, p.re) - angle) < 1e-9)!;
      return Math.hypot(z.re, z.im);
    };
    expect(crossing('euler', Math.PI)).toBeCloseTo(2, 9);
    expect(crossing('rk4', Math.PI)).toBeCloseTo(2.785293563, 8);
    expect(crossing('rk4', Math.PI / 2)).toBeCloseTo(2 * Math.SQRT2, 8);
    expect(crossing('implicit-euler', 0)).toBeCloseTo(2, 9);
  });

  it('refuses what it cannot solve, naming it', () => {
    expect(() => solveOde(f, [1], { method: 'heun' as OdeMethod, h: 0.1, steps: 3 })).toThrow(/method must be 'euler', 'rk4', 'implicit-euler'/);
    expect(() => solveOde(f, [1], { method: 'euler', h: -1, steps: 3 })).toThrow(/the step h must be a positive finite number/);
    expect(() => solveOde(() => [1, 2], [1], { method: 'euler', h: 0.1, steps: 1 })).toThrow(/f returned 2 values for a state of 1/);
    expect(() => exactLinearSolution(identity(2), [1, 1], 0.1, 2, matrix(3, 1))).toThrow(/B/);
  });
});

describe('the bridge: the identity-cell RNN of W_hh = I + hA, W_ih = hB is explicit Euler', () => {
  const A = matrixFromRows([[-0.2, 1.5], [-1.5, -0.2]]); // λ = −0.2 ± 1.5i
  const B = matrixFromRows([[0.5], [1]]);

  for (const h of [0.1, 0.5]) {
    it(`h = ${h}: forward is Euler's trajectory, and ‖∂h_t/∂h_k‖_F is ‖(I + hA)^(t−k)‖_F (${h === 0.1 ? 'inside' : 'outside'} the stability region)`, async () => {
      const R = amplificationMatrix(A, h, 'euler');
      const rho = spectralRadius(R);
      expect(rho < 1).toBe(h === 0.1);
      const model = engine.rnn({ inputSize: 1, hiddenSize: 2, nonlinearity: 'identity', bias: false });
      model.loadStateDict(eulerRnnWeights(A, B, h));
      const T = 12;
      const u = Float32Array.from({ length: T }, (_, k) => Math.sin(0.7 * k));
      const x0 = Float32Array.from([0.3, -0.8]);
      // From h0 = x_0 the RNN's output at step t is Euler's x_{t + 1}, both reading u_t.
      const euler = solveOde((x, v) => {
        const d = Float64Array.from([A.data[0] * x[0] + A.data[1] * x[1], A.data[2] * x[0] + A.data[3] * x[1]]);
        return d.map((di, i) => di + B.data[i] * v[0]);
      }, x0, { method: 'euler', h, steps: T, input: (k) => [u[k]] });
      const { output } = await model.forward(u, { batch: 1, seqLen: T, h0: x0 });
      expectClose(`RNN states against Euler (seed ${seed})`, output, euler.subarray(2));
      const j = await jacobianNorms(model, u, { batch: 1, seqLen: T });
      const want = powerNorms(R, T + 1);
      for (let t = 0; t < T; t++) {
        expect(j.initial[t] / want[t + 1], `‖∂h_${t}/∂h0‖`).toBeCloseTo(1, 4);
        for (let k = 0; k < t; k++) expect(j.norms[t * T + k] / want[t - k], `‖∂h_${t}/∂h_${k}‖`).toBeCloseTo(1, 4);
      }
      model.destroy();
    });
  }
});

describe('nonlinear systems: the solver\'s linearised amplification', () => {
  it('the tanh cell is Euler with h = 1 on x\' = −x + tanh(W_hh x + W_ih u + b): its jacobianNorms are the linearised amplification', async () => {
    const model = engine.rnn({ inputSize: 2, hiddenSize: 3 });
    const dict = await model.stateDict();
    const T = 8;
    const u = Float32Array.from({ length: T * 2 }, () => rng.range(-1, 1));
    const h0 = Float32Array.from({ length: 3 }, () => rng.range(-0.5, 0.5));
    const b = dict.bias_ih_l0.map((v, i) => v + dict.bias_hh_l0[i]);
    const f = ctrnnRhs(dict.weight_hh_l0, dict.weight_ih_l0, b);
    const options = { method: 'euler' as const, h: 1, steps: T, input: (k: number) => u.subarray(2 * k, 2 * k + 2) };
    const { output } = await model.forward(u, { batch: 1, seqLen: T, h0 });
    expectClose(`tanh RNN states against Euler (seed ${seed})`, output, solveOde(f, h0, options).subarray(3));
    const got = await jacobianNorms(model, u, { batch: 1, seqLen: T, h0 });
    const want = linearisedAmplification(f, h0, options);
    expectClose(`‖∂h_t/∂h0‖ (seed ${seed})`, got.initial, want.initial);
    for (let t = 0; t < T; t++) for (let k = 0; k < t; k++) expect(got.norms[t * T + k] / want.norms[t * T + k], `‖∂h_${t}/∂h_${k}‖`).toBeCloseTo(1, 4);
    model.destroy();
  });

  it('a damped pendulum near rest is amplified as its linearisation R(hA)^n, inside and outside the stability region', () => {
    const c = 0.3;
    const pendulum: OdeRhs = (x) => [x[1], -Math.sin(x[0]) - c * x[1]];
    const linear = matrixFromRows([[0, 1], [-1, -c]]);
    const T = 20;
    for (const method of ['euler', 'rk4', 'implicit-euler'] as const) {
      for (const h of [0.1, 0.5, 1.5]) {
        const got = linearisedAmplification(pendulum, [1e-7, 0], { method, h, steps: T });
        const want = powerNorms(amplificationMatrix(linear, h, method), T + 1);
        for (let t = 0; t < T; t++) expect(got.initial[t] / want[t + 1], `${method} h=${h} step ${t}`).toBeCloseTo(1, 6);
      }
    }
    // Euler at h = 0.5 is outside (|1 + hλ| > 1 for λ = −0.15 ± 0.989i), RK4 inside.
    const lambda = { re: -c / 2, im: Math.sqrt(1 - (c * c) / 4) };
    expect(inStabilityRegion('euler', { re: 0.5 * lambda.re, im: 0.5 * lambda.im })).toBe(false);
    expect(inStabilityRegion('rk4', { re: 0.5 * lambda.re, im: 0.5 * lambda.im })).toBe(true);
  });
});
