/**
 * Kalman filter and RTS smoother against independent computations:
 *  - scalar closed forms: the steady state of the discrete Riccati equation (prior form), the
 *    steady-state gain, and the smoother's steady-state variance from the two-filter (backward
 *    information) fixed point, each solved in closed form here, not by the code under test;
 *  - the exact posterior of the whole sequence: the joint Gaussian of (h_1..h_T, y_1..y_T) is
 *    built from its independent sources (h_0, η_t, ε_t) and conditioned with a Gaussian
 *    elimination written in this file. This checks predicted, filtered and smoothed means and
 *    covariances at every step, the lag-one covariances and the log-likelihood;
 *  - on a long simulated run: the smoother's squared error is below the filter's, the
 *    smoothed covariances are below the filtered ones (Loewner order) at every step, and both
 *    error levels match the reported covariances (calibration);
 *  - the simulator: determinism per seed and the empirical noise covariances.
 * Fixed seeds: these are float64 algorithms, so every run is the same.
 */
import { describe, expect, it } from 'vitest';
import { WebRnnError } from '../../src/errors.js';
import { createRandom, type Random } from '../../src/spec/random.js';
import { matrixFromRows } from '../../src/analysis/linear-algebra.js';
import {
  kalmanFilter,
  rtsSmoother,
  simulateStateSpace,
  type StateSpaceModel,
} from '../../src/analysis/state-space.js';

// ---------------------------------------------------------------------------------------------
// Independent dense helpers on number[][] (not the library's linear algebra).

type M = number[][];

function zerosM(r: number, c: number): M {
  return Array.from({ length: r }, () => new Array<number>(c).fill(0));
}
function mm(a: M, b: M): M {
  const out = zerosM(a.length, b[0].length);
  for (let i = 0; i < a.length; i++)
    for (let k = 0; k < b.length; k++) for (let j = 0; j < b[0].length; j++) out[i][j] += a[i][k] * b[k][j];
  return out;
}
function tr(a: M): M {
  return a[0].map((_, j) => a.map((r) => r[j]));
}
function mv(a: M, x: number[]): number[] {
  return a.map((r) => r.reduce((s, v, j) => s + v * x[j], 0));
}
/** Solves A·X = B by Gaussian elimination with partial pivoting; also log|det A|. */
function gaussSolve(aIn: M, bIn: M): { x: M; logAbsDet: number } {
  const n = aIn.length;
  const a = aIn.map((r) => [...r]);
  const b = bIn.map((r) => [...r]);
  let logAbsDet = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i][k]) > Math.abs(a[p][k])) p = i;
    [a[k], a[p]] = [a[p], a[k]];
    [b[k], b[p]] = [b[p], b[k]];
    logAbsDet += Math.log(Math.abs(a[k][k]));
    for (let i = k + 1; i < n; i++) {
      const f = a[i][k] / a[k][k];
      for (let j = k; j < n; j++) a[i][j] -= f * a[k][j];
      for (let j = 0; j < b[0].length; j++) b[i][j] -= f * b[k][j];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = 0; j < b[0].length; j++) {
      let s = b[i][j];
      for (let k = i + 1; k < n; k++) s -= a[i][k] * b[k][j];
      b[i][j] = s / a[i][i];
    }
  }
  return { x: b, logAbsDet };
}

// ---------------------------------------------------------------------------------------------
// Models.

interface Spec {
  A: M;
  B?: M;
  C: M;
  Q: M;
  R: M;
  m0: number[];
  P0: M;
}

function toModel(s: Spec): StateSpaceModel {
  return {
    A: matrixFromRows(s.A),
    B: s.B ? matrixFromRows(s.B) : undefined,
    C: matrixFromRows(s.C),
    Q: matrixFromRows(s.Q),
    R: matrixFromRows(s.R),
    m0: s.m0,
    P0: matrixFromRows(s.P0),
  };
}

function randM(rng: Random, r: number, c: number, scale: number): M {
  return Array.from({ length: r }, () => Array.from({ length: c }, () => rng.range(-scale, scale)));
}
/** L·Lᵀ + ridge·I: symmetric positive definite with correlations. */
function randSpd(rng: Random, n: number, ridge: number): M {
  const l = randM(rng, n, n, 1);
  const s = mm(l, tr(l));
  for (let i = 0; i < n; i++) s[i][i] += ridge;
  return s;
}
function randomSpec(rng: Random, n: number, m: number, p: number): Spec {
  return {
    A: randM(rng, n, n, 0.9 / Math.sqrt(n)),
    B: m > 0 ? randM(rng, n, m, 1) : undefined,
    C: randM(rng, p, n, 1),
    Q: randSpd(rng, n, 0.2),
    R: randSpd(rng, p, 0.3),
    m0: Array.from({ length: n }, () => rng.range(-1, 1)),
    P0: randSpd(rng, n, 0.5),
  };
}

// ---------------------------------------------------------------------------------------------
// The joint Gaussian of w = (h_1..h_T, y_1..y_T) as an affine map of the independent sources
// z = (h_0, η_1..η_T, ε_1..ε_T): w = Mz·z + offset, Cov w = Mz·Σz·Mzᵀ.

interface Joint {
  mean: number[];
  cov: M;
  h: (t: number) => number[]; // indices of h_{t+1} in w (t 0-based)
  y: (t: number) => number[]; // indices of y_{t+1} in w
}

function jointGaussian(s: Spec, x: number[][] | null, T: number): Joint {
  const n = s.A.length;
  const p = s.C.length;
  const dz = n + T * n + T * p;
  const sz = zerosM(dz, dz);
  const put = (at: number, blk: M): void => blk.forEach((r, i) => r.forEach((v, j) => (sz[at + i][at + j] = v)));
  put(0, s.P0);
  for (let t = 0; t < T; t++) {
    put(n + t * n, s.Q);
    put(n + T * n + t * p, s.R);
  }
  const rows: M = [];
  const offsets: number[] = [];
  const yRows: M = [];
  const yOffsets: number[] = [];
  let coef: M = zerosM(n, dz); // h_t as rows over z
  for (let i = 0; i < n; i++) coef[i][i] = 1;
  let off = [...s.m0];
  for (let t = 0; t < T; t++) {
    coef = mm(s.A, coef);
    for (let i = 0; i < n; i++) coef[i][n + t * n + i] += 1;
    off = mv(s.A, off);
    if (s.B && x) off = off.map((v, i) => v + mv(s.B!, x[t])[i]);
    rows.push(...coef.map((r) => [...r]));
    offsets.push(...off);
    const cy = mm(s.C, coef);
    for (let j = 0; j < p; j++) cy[j][n + T * n + t * p + j] += 1;
    yRows.push(...cy);
    yOffsets.push(...mv(s.C, off));
  }
  const all = [...rows, ...yRows];
  return {
    mean: [...offsets, ...yOffsets],
    cov: mm(mm(all, sz), tr(all)),
    h: (t) => Array.from({ length: n }, (_, i) => t * n + i),
    y: (t) => Array.from({ length: p }, (_, j) => T * n + t * p + j),
  };
}

/** The conditional law of w[target] given w[obs] = values. */
function condition(j: Joint, target: number[], obs: number[], values: number[]): { mean: number[]; cov: M } {
  const mT = target.map((i) => j.mean[i]);
  const sTT = target.map((a) => target.map((b) => j.cov[a][b]));
  if (obs.length === 0) return { mean: mT, cov: sTT };
  const sTO = target.map((a) => obs.map((b) => j.cov[a][b]));
  const sOO = obs.map((a) => obs.map((b) => j.cov[a][b]));
  const resid = obs.map((o, k) => [values[k] - j.mean[o]]);
  const w = gaussSolve(sOO, resid).x; // Σ_OO⁻¹·(v − μ_O)
  const v = gaussSolve(sOO, tr(sTO)).x; // Σ_OO⁻¹·Σ_OT
  const mean = mT.map((m, i) => m + mm(sTO, w)[i][0]);
  const corr = mm(sTO, v);
  return { mean, cov: sTT.map((r, a) => r.map((val, b) => val - corr[a][b])) };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * (1 + Math.abs(expected[i])))) {
      throw new Error(`${label}[${i}]: got ${actual[i]}, expected ${expected[i]} (|diff| ${err.toExponential(2)} > tol ${tol})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

describe('Kalman filter and RTS smoother: scalar steady state in closed form', () => {
  // Scalar model h_t = a·h_{t−1} + η, y_t = c·h_t + ε, η ~ N(0, q), ε ~ N(0, r).
  // Prior-form Riccati: P = a²P − a²P²c²/(c²P + r) + q for P = lim P_{t|t−1}. Multiplying by
  // (c²P + r): c²P² + (r(1 − a²) − q·c²)·P − q·r = 0, whose positive root is
  //   P = [−(r(1 − a²) − qc²) + √((r(1 − a²) − qc²)² + 4c²qr)] / (2c²).
  // Then P_f = lim P_{t|t} = P·r/(c²P + r) and K = P·c/(c²P + r).
  // Smoother (two-filter form): the information J of p(y_{t+1..T} | h_t) obeys, with
  // U = J + c²/r (after absorbing y_{t+1}), J = a²U/(1 + qU) (integrating h_{t+1} ~ N(a·h_t, q)).
  // Its fixed point: q·U² + (1 − a² − qc²/r)·U − c²/r = 0, U the positive root; the smoothed
  // variance far from both ends is P_s = 1/(1/P_f + U − c²/r).
  const cases = [
    { a: 0.9, c: 1.5, q: 0.3, r: 0.8 },
    { a: 1.2, c: 0.7, q: 0.5, r: 2.0 }, // unstable state, still detectable: Riccati converges
    { a: -0.5, c: 2.0, q: 1.0, r: 0.1 },
  ];
  for (const { a, c, q, r } of cases) {
    it(`a=${a} c=${c} q=${q} r=${r}`, () => {
      const b = r * (1 - a * a) - q * c * c;
      const P = (-b + Math.sqrt(b * b + 4 * c * c * q * r)) / (2 * c * c);
      const Pf = (P * r) / (c * c * P + r);
      const K = (P * c) / (c * c * P + r);
      const g = (c * c) / r;
      const bu = 1 - a * a - q * g;
      const U = (-bu + Math.sqrt(bu * bu + 4 * q * g)) / (2 * q);
      const Ps = 1 / (1 / Pf + U - g);

      const T = 400;
      const model = toModel({ A: [[a]], C: [[c]], Q: [[q]], R: [[r]], m0: [0.3], P0: [[5]] });
      const { observations } = simulateStateSpace(model, { steps: T, seed: 11 });
      const f = kalmanFilter(model, observations);
      const s = rtsSmoother(model, f);
      expect(f.predictedCovariances[T - 1]).toBeCloseTo(P, 12);
      expect(f.filteredCovariances[T - 1]).toBeCloseTo(Pf, 12);
      expect(f.gains[T - 1]).toBeCloseTo(K, 12);
      expect(s.smoothedCovariances[T / 2]).toBeCloseTo(Ps, 12);
      // The smoother's variance lies strictly below the filter's in the interior.
      expect(Ps).toBeLessThan(Pf);
      // At the last step the smoother is the filter.
      expect(s.smoothedCovariances[T - 1]).toBe(f.filteredCovariances[T - 1]);
    });
  }
});

describe('Kalman filter and RTS smoother against the exact joint-Gaussian posterior', () => {
  const configs = [
    { name: '1-D state, scalar output, no input', n: 1, m: 0, p: 1, T: 5, seed: 1 },
    { name: '2-D state, scalar output, scalar input', n: 2, m: 1, p: 1, T: 6, seed: 2 },
    { name: '2-D state, 2-D output, 2-D input', n: 2, m: 2, p: 2, T: 5, seed: 3 },
    { name: '3-D state, 2-D output, 1-D input', n: 3, m: 1, p: 2, T: 4, seed: 4 },
  ];
  for (const cfg of configs) {
    it(cfg.name, () => {
      const { n, m, p, T } = cfg;
      const rng = createRandom(cfg.seed);
      const spec = randomSpec(rng, n, m, p);
      const x = m > 0 ? Array.from({ length: T }, () => Array.from({ length: m }, () => rng.normal())) : null;
      const model = toModel(spec);
      const inputs = x ? x.flat() : undefined;
      const { observations } = simulateStateSpace(model, { steps: T, inputs, seed: cfg.seed + 100 });
      const f = kalmanFilter(model, observations, { inputs });
      const s = rtsSmoother(model, f);

      const joint = jointGaussian(spec, x, T);
      const yIdx = (upTo: number): number[] => Array.from({ length: upTo }, (_, t) => joint.y(t)).flat();
      const yVals = (upTo: number): number[] => Array.from(observations.subarray(0, upTo * p));
      const tol = 1e-9;
      for (let t = 0; t < T; t++) {
        const pred = condition(joint, joint.h(t), yIdx(t), yVals(t));
        expectClose(f.predictedMeans.subarray(t * n, (t + 1) * n), pred.mean, tol, `predicted mean t=${t + 1}`);
        expectClose(f.predictedCovariances.subarray(t * n * n, (t + 1) * n * n), pred.cov.flat(), tol, `predicted cov t=${t + 1}`);
        const filt = condition(joint, joint.h(t), yIdx(t + 1), yVals(t + 1));
        expectClose(f.filteredMeans.subarray(t * n, (t + 1) * n), filt.mean, tol, `filtered mean t=${t + 1}`);
        expectClose(f.filteredCovariances.subarray(t * n * n, (t + 1) * n * n), filt.cov.flat(), tol, `filtered cov t=${t + 1}`);
        const sm = condition(joint, joint.h(t), yIdx(T), yVals(T));
        expectClose(s.smoothedMeans.subarray(t * n, (t + 1) * n), sm.mean, tol, `smoothed mean t=${t + 1}`);
        expectClose(s.smoothedCovariances.subarray(t * n * n, (t + 1) * n * n), sm.cov.flat(), tol, `smoothed cov t=${t + 1}`);
        // Innovation y_t − E[y_t | y_<t] and its covariance.
        const yPred = condition(joint, joint.y(t), yIdx(t), yVals(t));
        expectClose(f.innovations.subarray(t * p, (t + 1) * p), yVals(t + 1).slice(t * p).map((v, j) => v - yPred.mean[j]), tol, `innovation t=${t + 1}`);
        expectClose(f.innovationCovariances.subarray(t * p * p, (t + 1) * p * p), yPred.cov.flat(), tol, `innovation cov t=${t + 1}`);
        if (t < T - 1) {
          // Cov(h_{t+2}, h_{t+1} | all y): the off-diagonal block of the pair's posterior.
          const pair = condition(joint, [...joint.h(t + 1), ...joint.h(t)], yIdx(T), yVals(T));
          const block = pair.cov.slice(0, n).map((r) => r.slice(n)).flat();
          expectClose(s.lagOneCovariances.subarray(t * n * n, (t + 1) * n * n), block, tol, `lag-one cov t=${t + 1}`);
        }
      }

      // log N(y; μ_y, Σ_yy) of the whole sequence against the filter's prediction-error sum.
      const all = yIdx(T);
      const sYY = all.map((a) => all.map((b) => joint.cov[a][b]));
      const resid = all.map((i, k) => [observations[k] - joint.mean[i]]);
      const { x: w, logAbsDet } = gaussSolve(sYY, resid);
      const quad = resid.reduce((acc, r, k) => acc + r[0] * w[k][0], 0);
      const logDensity = -0.5 * (T * p * Math.log(2 * Math.PI) + logAbsDet + quad);
      expect(Math.abs(f.logLikelihood - logDensity)).toBeLessThan(1e-9 * (1 + Math.abs(logDensity)));
    });
  }
});

describe('RTS smoother against the filter on a long simulated run', () => {
  it('T=2000, 2-D state, scalar output and input: smaller error, smaller covariance, both calibrated', () => {
    const rng = createRandom(7);
    const spec: Spec = {
      A: [[0.95, 0.2], [-0.15, 0.85]],
      B: [[0.5], [-0.3]],
      C: [[1.0, 0.5]],
      Q: [[0.2, 0.05], [0.05, 0.1]],
      R: [[0.5]],
      m0: [0, 0],
      P0: [[1, 0], [0, 1]],
    };
    const T = 2000;
    const n = 2;
    const inputs = Array.from({ length: T }, () => rng.normal());
    const model = toModel(spec);
    const sim = simulateStateSpace(model, { steps: T, inputs, seed: 8 });
    const f = kalmanFilter(model, sim.observations, { inputs });
    const s = rtsSmoother(model, f);

    // Criterion: mean over all T steps of ‖h_t − m̂_t‖² (the seeded true states).
    let mseF = 0;
    let mseS = 0;
    let traceF = 0;
    let traceS = 0;
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < n; i++) {
        mseF += (sim.states[t * n + i] - f.filteredMeans[t * n + i]) ** 2;
        mseS += (sim.states[t * n + i] - s.smoothedMeans[t * n + i]) ** 2;
        traceF += f.filteredCovariances[t * 4 + i * 3];
        traceS += s.smoothedCovariances[t * 4 + i * 3];
      }
      // Theorem: P_{t|T} ⪯ P_{t|t}. For 2 × 2, D = P_f − P_s is PSD iff its diagonal and
      // determinant are ≥ 0 (up to rounding).
      const pf = f.filteredCovariances.subarray(t * 4, t * 4 + 4);
      const ps = s.smoothedCovariances.subarray(t * 4, t * 4 + 4);
      const d = [pf[0] - ps[0], pf[1] - ps[1], pf[2] - ps[2], pf[3] - ps[3]];
      const eps = 1e-12;
      expect(d[0], `diag 0 at t=${t + 1}`).toBeGreaterThanOrEqual(-eps);
      expect(d[3], `diag 1 at t=${t + 1}`).toBeGreaterThanOrEqual(-eps);
      expect(d[0] * d[3] - d[1] * d[2], `det at t=${t + 1}`).toBeGreaterThanOrEqual(-eps);
    }
    mseF /= T;
    mseS /= T;
    traceF /= T;
    traceS /= T;
    expect(mseS).toBeLessThan(mseF);
    expect(traceS).toBeLessThan(traceF);
    // Calibration: the reported covariances predict the actual squared errors (E‖e‖² = tr P).
    expect(mseF / traceF).toBeGreaterThan(0.9);
    expect(mseF / traceF).toBeLessThan(1.1);
    expect(mseS / traceS).toBeGreaterThan(0.9);
    expect(mseS / traceS).toBeLessThan(1.1);
  });
});

describe('simulateStateSpace', () => {
  const spec: Spec = {
    A: [[0.7, 0.1], [0.0, 0.5]],
    B: [[1.0, 0.0], [0.5, -1.0]],
    C: [[1.0, -1.0], [0.3, 2.0]],
    Q: [[0.5, 0.3], [0.3, 0.4]],
    R: [[1.0, -0.6], [-0.6, 0.8]],
    m0: [1.0, -2.0],
    P0: [[0.6, -0.2], [-0.2, 0.3]],
  };
  const model = toModel(spec);

  it('repeats for a seed and differs between seeds', () => {
    const a = simulateStateSpace(model, { steps: 50, inputs: new Float64Array(100).fill(0.1), seed: 3 });
    const b = simulateStateSpace(model, { steps: 50, inputs: new Float64Array(100).fill(0.1), seed: 3 });
    const c = simulateStateSpace(model, { steps: 50, inputs: new Float64Array(100).fill(0.1), seed: 4 });
    expect(Array.from(a.states)).toEqual(Array.from(b.states));
    expect(Array.from(a.observations)).toEqual(Array.from(b.observations));
    expect(Array.from(a.states)).not.toEqual(Array.from(c.states));
    expect(a.states.length).toBe(100);
    expect(a.observations.length).toBe(100);
  });

  it('draws η and ε with covariances Q and R (T=20000), and h_0 with mean m0 and covariance P0', () => {
    const T = 20000;
    const rng = createRandom(5);
    const inputs = Array.from({ length: 2 * T }, () => rng.normal());
    const sim = simulateStateSpace(model, { steps: T, inputs, seed: 6 });
    // η_t = h_t − A·h_{t−1} − B·x_t and ε_t = y_t − C·h_t, recomputed here.
    const eta: number[][] = [];
    const eps: number[][] = [];
    let prev = Array.from(sim.initialState);
    for (let t = 0; t < T; t++) {
      const h = Array.from(sim.states.subarray(2 * t, 2 * t + 2));
      const pred = mv(spec.A, prev).map((v, i) => v + mv(spec.B!, inputs.slice(2 * t, 2 * t + 2))[i]);
      eta.push(h.map((v, i) => v - pred[i]));
      const ch = mv(spec.C, h);
      eps.push(Array.from(sim.observations.subarray(2 * t, 2 * t + 2)).map((v, j) => v - ch[j]));
      prev = h;
    }
    const cov = (xs: number[][]): M => {
      const mean = [0, 1].map((i) => xs.reduce((s, v) => s + v[i], 0) / xs.length);
      return [0, 1].map((i) => [0, 1].map((j) => xs.reduce((s, v) => s + (v[i] - mean[i]) * (v[j] - mean[j]), 0) / xs.length));
    };
    const close = (got: M, want: M, tol: number): void => {
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expect(Math.abs(got[i][j] - want[i][j]), `[${i}][${j}]`).toBeLessThan(tol);
    };
    close(cov(eta), spec.Q, 0.03);
    close(cov(eps), spec.R, 0.05);

    const h0s: number[][] = [];
    for (let seed = 0; seed < 4000; seed++) h0s.push(Array.from(simulateStateSpace(model, { steps: 0, seed }).initialState));
    const mean0 = [0, 1].map((i) => h0s.reduce((s, v) => s + v[i], 0) / h0s.length);
    expect(Math.abs(mean0[0] - spec.m0[0])).toBeLessThan(0.05);
    expect(Math.abs(mean0[1] - spec.m0[1])).toBeLessThan(0.05);
    close(cov(h0s), spec.P0, 0.05);
  });

  it('accepts a semidefinite noise covariance (perfectly correlated components)', () => {
    const degenerate = toModel({ ...spec, Q: [[1, 1], [1, 1]] });
    const sim = simulateStateSpace(degenerate, { steps: 30, seed: 9 });
    let prev = Array.from(sim.initialState);
    let spread = 0;
    for (let t = 0; t < 30; t++) {
      const h = Array.from(sim.states.subarray(2 * t, 2 * t + 2));
      const pred = mv(spec.A, prev);
      const e = [h[0] - pred[0], h[1] - pred[1]];
      expect(Math.abs(e[0] - e[1])).toBeLessThan(1e-12);
      spread += Math.abs(e[0]);
      prev = h;
    }
    expect(spread).toBeGreaterThan(1); // the noise is not zero
  });
});

describe('state-space errors', () => {
  const base: Spec = { A: [[0.5]], C: [[1]], Q: [[1]], R: [[1]], m0: [0], P0: [[1]] };

  it('rejects mismatched shapes with a ShapeError', () => {
    const bad = toModel({ ...base, C: [[1, 2]] });
    expect(() => kalmanFilter(bad, [1, 2])).toThrow(expect.objectContaining({ code: 'shape' }));
    const twoOut = toModel({ ...base, C: [[1], [2]], R: [[1, 0], [0, 1]] });
    expect(() => kalmanFilter(twoOut, [1, 2, 3])).toThrow(expect.objectContaining({ code: 'shape' }));
    const withInput = toModel({ ...base, B: [[1]] });
    expect(() => kalmanFilter(withInput, [1, 2], { inputs: [1] })).toThrow(expect.objectContaining({ code: 'shape' }));
  });

  it('rejects a singular innovation covariance and a covariance that is not semidefinite', () => {
    // Two outputs reading one state with R = 0: S = C·P·Cᵀ has rank 1.
    const singular = toModel({ ...base, C: [[1], [2]], R: [[0, 0], [0, 0]] });
    let err: unknown;
    try {
      kalmanFilter(singular, [1, 2]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WebRnnError);
    expect((err as WebRnnError).code).toBe('invalid-option');
    expect((err as WebRnnError).message).toMatch(/innovation covariance S_1 is not positive definite/);
    expect(() => simulateStateSpace(toModel({ ...base, Q: [[-1]] }), { steps: 3, seed: 0 })).toThrow(/not positive semidefinite/);
  });
});
