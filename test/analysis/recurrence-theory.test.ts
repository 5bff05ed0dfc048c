/**
 * Recurrence theory: relu trajectories against their closed forms, and the additive gradient
 * paths of a gated recurrence against the product of step Jacobians and a central finite
 * difference (each expected value written out here, not taken from the code under test).
 */
import { describe, expect, it } from 'vitest';
import {
  expandedJacobianProduct,
  gatedStepJacobians,
  gatedTrajectory,
  gradientPathCount,
  reluFixedPoint,
  reluNormTrajectory,
} from '../../src/analysis/recurrence-theory.js';
import { createRandom } from '../../src/spec/random.js';
import { expectInvalidOption } from '../helpers/errors.js';

/** The closed form of h_t for s, x, h_0 ≥ 0 (relu is the identity there), one unit. */
function closedForm(s: number, t: number, x: number, h0: number): number {
  return s === 1 ? h0 + t * x : s ** t * h0 + (x * (1 - s ** t)) / (1 - s);
}

function norm(v: number[]): number {
  return Math.sqrt(v.reduce((a, b) => a + b * b, 0));
}

describe('reluNormTrajectory', () => {
  const x = [0.3, 1.2, 0, 0.05];
  const h0 = [1.5, 0, 0.2, 0.7];

  for (const s of [0, 0.5, 0.9, 1, 1.1, 1.7]) {
    it(`s = ${s}: every norm equals the closed form's`, () => {
      const T = 60;
      const { norms, final } = reluNormTrajectory(s, { steps: T, x, h0 });
      expect(norms.length).toBe(T + 1);
      for (let t = 0; t <= T; t++) {
        const want = norm(x.map((xk, k) => closedForm(s, t, xk, h0[k])));
        expect(Math.abs(norms[t] - want)).toBeLessThanOrEqual(1e-12 * Math.max(1, want));
      }
      x.forEach((xk, k) => expect(Math.abs(final[k] - closedForm(s, T, xk, h0[k]))).toBeLessThanOrEqual(1e-12 * Math.max(1, final[k])));
    });
  }

  it('s < 1: bounded, converging to x/(1 − s)', () => {
    const s = 0.8;
    const { norms, final } = reluNormTrajectory(s, { steps: 400, x, h0 });
    const limit = x.map((v) => v / 0.2);
    const bound = Math.max(norm(h0), norm(limit)) + 1e-12; // h_t is a convex mix of h_0 and the limit
    for (const n of norms) expect(n).toBeLessThanOrEqual(bound);
    limit.forEach((v, k) => expect(Math.abs(final[k] - v)).toBeLessThan(1e-12));
    const fixed = reluFixedPoint(s, x);
    limit.forEach((v, k) => expect(fixed[k]).toBeCloseTo(v, 14));
  });

  it('s = 1: grows linearly, ‖h_t‖ = ‖h_0 + t x‖, increments → ‖x‖', () => {
    const { norms } = reluNormTrajectory(1, { steps: 10_000, x, h0 });
    expect(Math.abs(norms[10_000] - norm(x.map((v, k) => h0[k] + 10_000 * v)))).toBeLessThan(1e-7); // 10⁴ rounded additions
    expect(Math.abs(norms[10_000] - norms[9_999] - norm(x))).toBeLessThan(1e-4);
    // Scalar x and h0: exactly h_0 + t x.
    const scalar = reluNormTrajectory(1, { steps: 5, x: 0.25, h0: 2 });
    expect(Array.from(scalar.norms)).toEqual([2, 2.25, 2.5, 2.75, 3, 3.25]);
  });

  it('s > 1: grows exponentially, ‖h_{t+1}‖/‖h_t‖ → s', () => {
    const s = 1.3;
    const { norms } = reluNormTrajectory(s, { steps: 200, x, h0 });
    expect(Math.abs(norms[200] / norms[199] - s)).toBeLessThan(1e-12);
    // log-slope: ln‖h_t‖ ≈ t ln s + const.
    expect(Math.abs((Math.log(norms[200]) - Math.log(norms[100])) / 100 - Math.log(s))).toBeLessThan(1e-12);
  });

  it('scalar x broadcasts over a vector h_0; the relu clips negative pre-activations', () => {
    const { final } = reluNormTrajectory(0.5, { steps: 3, x: 1, h0: [0, 4] });
    expect(Array.from(final)).toEqual([1.75, 2.25]); // 0→1→1.5→1.75, 4→3→2.5→2.25
    const clipped = reluNormTrajectory(2, { steps: 2, x: [-1, 1], h0: [0.25, 0] });
    expect(Array.from(clipped.final)).toEqual([0, 3]); // relu(0.5 − 1) = 0, then relu(−1) = 0; 0→1→3
    expect(Array.from(reluNormTrajectory(0.9, { steps: 0, x: 1, h0: 3 }).norms)).toEqual([3]);
  });

  it('refuses bad arguments', () => {
    expectInvalidOption(() => reluNormTrajectory(NaN, { steps: 3, x: 1 }), /s must be a finite number/);
    expectInvalidOption(() => reluNormTrajectory(0.5, { steps: -1, x: 1 }), /steps must be a non-negative integer/);
    expectInvalidOption(() => reluNormTrajectory(0.5, { steps: 2.5, x: 1 }), /steps must be a non-negative integer/);
    expectInvalidOption(() => reluNormTrajectory(0.5, { steps: 2, x: [1, 2], h0: [1, 2, 3] }), /equal lengths/);
    expectInvalidOption(() => reluNormTrajectory(0.5, { steps: 2, x: [1, Infinity] }), /x\[1\] must be a finite number/);
    expectInvalidOption(() => reluFixedPoint(1, 1), /s must be in \[0, 1\)/);
    expectInvalidOption(() => reluFixedPoint(0.5, [1, -1]), /x\[1\] is -1/);
  });
});

describe('additive gradient paths of h_t = α h_{t−1} + g_t β tanh(h_{t−1})', () => {
  it('path counts: 2^T all open, 1 all shut, Π(1 + g_t) in general', () => {
    for (let T = 0; T <= 12; T++) {
      expect(gradientPathCount(new Array(T).fill(1))).toBe(2 ** T);
      expect(gradientPathCount(new Array(T).fill(0))).toBe(1);
    }
    expect(gradientPathCount(new Array(60).fill(true))).toBe(1152921504606846976); // 2^60, exact
    expect(gradientPathCount([1, 0, 1, 1, 0])).toBe(2 * 1 * 2 * 2 * 1);
    const rng = createRandom(99);
    for (let trial = 0; trial < 20; trial++) {
      const gates = Array.from({ length: 1 + Math.floor(rng.uniform() * 14) }, () => (rng.uniform() < 0.5 ? 1 : 0));
      let want = 1;
      for (const g of gates) want *= 1 + g;
      expect(gradientPathCount(gates)).toBe(want);
      expect(expandedJacobianProduct(0.9, 0.4, gates, 0.3).count).toBe(want);
      expect(expandedJacobianProduct(0.9, 0.4, gates, 0.3).terms.length).toBe(want);
    }
  });

  it('the sum over enumerated paths = Π J_t = central finite difference of h_T in h_0', () => {
    const rng = createRandom(2718);
    for (let trial = 0; trial < 40; trial++) {
      const T = 1 + (trial % 12);
      // α ∈ [0.6, 1.1), |β| < 0.5: every J_t ∈ (0.1, 1.6), away from 0, so relative errors mean something.
      const alpha = rng.range(0.6, 1.1);
      const beta = rng.range(-0.5, 0.5);
      const h0 = rng.range(-2, 2);
      const gates = trial % 3 === 0 ? new Array(T).fill(1) : Array.from({ length: T }, () => (rng.uniform() < 0.6 ? 1 : 0));
      // Forward pass and Jacobians written out here.
      const run = (start: number): number[] => {
        const h = [start];
        for (let t = 0; t < T; t++) h.push(alpha * h[t] + gates[t] * beta * Math.tanh(h[t]));
        return h;
      };
      const h = run(h0);
      let product = 1;
      for (let t = 0; t < T; t++) product *= alpha + gates[t] * beta / Math.cosh(h[t]) ** 2;
      const eps = 1e-5;
      const fd = (run(h0 + eps)[T] - run(h0 - eps)[T]) / (2 * eps);

      const expanded = expandedJacobianProduct(alpha, beta, gates, h0);
      const label = `trial ${trial}: T=${T} α=${alpha} β=${beta} h0=${h0} gates=${gates.join('')}`;
      expect(Math.abs(expanded.sum - product), label).toBeLessThanOrEqual(1e-13 * Math.abs(product));
      expect(Math.abs(fd - product), label).toBeLessThanOrEqual(1e-6 * Math.abs(product));
      expect(Math.abs(fd - expanded.sum), label).toBeLessThanOrEqual(1e-6 * Math.abs(product));
      // The library's own trajectory and Jacobians agree with the ones written here.
      expect(Array.from(gatedTrajectory(alpha, beta, gates, h0))).toEqual(h);
      const J = gatedStepJacobians(alpha, beta, gates, h0);
      for (let t = 0; t < T; t++) expect(Math.abs(J[t] - (alpha + gates[t] * beta / Math.cosh(h[t]) ** 2))).toBeLessThan(1e-15);
    }
  });

  it('spelt-out paths for T = 2: α², α·d_2, d_1·α, d_1·d_2', () => {
    const alpha = 0.7;
    const beta = 0.4;
    const h0 = 0.5;
    const h1 = alpha * h0 + beta * Math.tanh(h0);
    const d1 = beta * (1 - Math.tanh(h0) ** 2);
    const d2 = beta * (1 - Math.tanh(h1) ** 2);
    const { terms, sum } = expandedJacobianProduct(alpha, beta, [1, 1], h0);
    // Bit k of the path index picks the gated term at the k-th open gate.
    const want = [alpha * alpha, d1 * alpha, alpha * d2, d1 * d2];
    want.forEach((w, p) => expect(Math.abs(terms[p] - w)).toBeLessThan(1e-16));
    expect(Math.abs(sum - (alpha + d1) * (alpha + d2))).toBeLessThan(1e-15);
    // All gates shut: one path, α^T.
    const shut = expandedJacobianProduct(alpha, beta, [0, 0, 0], h0);
    expect(shut.count).toBe(1);
    expect(shut.sum).toBeCloseTo(alpha ** 3, 15);
  });

  it('refuses bad gates and too many paths', () => {
    expectInvalidOption(() => gradientPathCount([1, 2]), /gate 1 is 2; 0 or 1 expected/);
    expectInvalidOption(() => gradientPathCount([0.5]), /gate 0 is 0.5/);
    expectInvalidOption(() => expandedJacobianProduct(0.5, 0.5, new Array(21).fill(1), 0), /2097152 paths exceed maxPaths = 1048576/);
    expectInvalidOption(() => expandedJacobianProduct(0.5, 0.5, [1, 1, 1], 0, { maxPaths: 4 }), /8 paths exceed maxPaths = 4/);
    expectInvalidOption(() => gatedTrajectory(NaN, 0.5, [1], 0), /alpha must be a finite number/);
  });
});
