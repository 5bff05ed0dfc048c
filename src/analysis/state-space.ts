/**
 * Linear-Gaussian state-space models: simulation, the Kalman filter and the
 * Rauch–Tung–Striebel (RTS) smoother, in float64.
 *
 * The model (n state, m input, p output dimensions; t = 1..T):
 *
 *   h_0 ~ N(m0, P0)
 *   h_t = A·h_{t−1} + B·x_t + η_t,   η_t ~ N(0, Q)        A [n, n], B [n, m], Q [n, n]
 *   y_t = C·h_t + ε_t,               ε_t ~ N(0, R)        C [p, n], R [p, p]
 *
 * with h_0, η_1..η_T, ε_1..ε_T mutually independent. With identity nonlinearity and a linear
 * read-out this is webrnn's Elman cell (A = W_hh, B·x_t = W_ih·x_t + b_ih + b_hh) with noise.
 *
 * Representation: matrices are {@link Matrix} (row-major Float64Array with explicit rows and
 * cols); sequences are flat row-major Float64Arrays, [T, n] for means and states (step t at
 * offset (t−1)·n, i.e. row 0 is h_1), [T, n, n] for covariances, [T, p] for observations and
 * [T, m] for inputs. Omitted inputs mean x_t = 0.
 *
 * Kalman filter (prediction, then update with y_t):
 *
 *   m_{t|t−1} = A·m_{t−1|t−1} + B·x_t                       (m_{0|0} = m0)
 *   P_{t|t−1} = A·P_{t−1|t−1}·Aᵀ + Q                        (P_{0|0} = P0)
 *   v_t = y_t − C·m_{t|t−1}                                 innovation [p]
 *   S_t = C·P_{t|t−1}·Cᵀ + R                                innovation covariance [p, p]
 *   K_t = P_{t|t−1}·Cᵀ·S_t⁻¹                                gain [n, p], via Cholesky of S_t:
 *                                                           K_tᵀ = S_t⁻¹·(C·P_{t|t−1})
 *   m_{t|t} = m_{t|t−1} + K_t·v_t
 *   P_{t|t} = (I − K_t·C)·P_{t|t−1}·(I − K_t·C)ᵀ + K_t·R·K_tᵀ   (Joseph form, then symmetrised)
 *
 * The log-likelihood falls out of the innovations (prediction-error decomposition):
 *
 *   log p(y_1..y_T) = Σ_t −½·(p·log 2π + log det S_t + v_tᵀ·S_t⁻¹·v_t)
 *
 * RTS smoother (backward in t = T−1..1, starting from the filter's m_{T|T} and P_{T|T}):
 *
 *   G_t = P_{t|t}·Aᵀ·P_{t+1|t}⁻¹                            [n, n], via Cholesky of P_{t+1|t}:
 *                                                           G_tᵀ = P_{t+1|t}⁻¹·(A·P_{t|t})
 *   m_{t|T} = m_{t|t} + G_t·(m_{t+1|T} − m_{t+1|t})
 *   P_{t|T} = P_{t|t} + G_t·(P_{t+1|T} − P_{t+1|t})·G_tᵀ    (symmetrised)
 *   Cov(h_{t+1}, h_t | y_1..y_T) = P_{t+1|T}·G_tᵀ           (lag-one smoothed cross-covariance)
 *
 * P_{t|T} ⪯ P_{t|t} (Loewner order) because P_{t+1|T} ⪯ P_{t+1|t}: smoothing never increases
 * the posterior variance of any linear function of the state.
 */
import { ShapeError, WebRnnError } from '../errors.js';
import { createRandom } from '../spec/random.js';
import {
  checkShape,
  checkSquare,
  cholesky,
  choleskyLogDet,
  choleskySolve,
  columnVector,
  identity,
  matMul,
  matMulTransposed,
  matrix,
  matVec,
  psdFactor,
  subtract,
  symmetrize,
  transpose,
  add,
  type Matrix,
} from './linear-algebra.js';

/**
 * A linear-Gaussian state-space model (see the module header for the equations):
 * h_t = A·h_{t−1} + B·x_t + η_t, y_t = C·h_t + ε_t, η ~ N(0, Q), ε ~ N(0, R), h_0 ~ N(m0, P0).
 */
export interface StateSpaceModel {
  /** Transition matrix A [n, n]. */
  readonly A: Matrix;
  /** Input matrix B [n, m]; absent means no input (m = 0). */
  readonly B?: Matrix;
  /** Observation matrix C [p, n]. */
  readonly C: Matrix;
  /** State noise covariance Q [n, n], symmetric positive semidefinite. */
  readonly Q: Matrix;
  /** Observation noise covariance R [p, p], symmetric positive semidefinite. */
  readonly R: Matrix;
  /** Mean of the initial state h_0 [n]. */
  readonly m0: ArrayLike<number>;
  /** Covariance of the initial state h_0 [n, n], symmetric positive semidefinite. */
  readonly P0: Matrix;
}

/** The dimensions of a {@link StateSpaceModel}: n state, m input, p output. */
export interface StateSpaceDims {
  readonly n: number;
  readonly m: number;
  readonly p: number;
}

/** Checks every matrix of `model` against the others and returns n, m, p; throws a ShapeError on a mismatch. */
export function stateSpaceDims(model: StateSpaceModel): StateSpaceDims {
  const n = checkSquare('state-space A', model.A);
  const p = model.C.rows;
  checkShape('state-space C', model.C, p, n);
  checkShape('state-space Q', model.Q, n, n);
  checkShape('state-space R', model.R, p, p);
  checkShape('state-space P0', model.P0, n, n);
  if (model.m0.length !== n) throw new ShapeError('state-space m0', [n], [model.m0.length]);
  let m = 0;
  if (model.B) {
    m = model.B.cols;
    checkShape('state-space B', model.B, n, m);
  }
  return { n, m, p };
}

/** Checks an optional [T, m] input sequence; returns it or null when there is no input. */
function checkInputs(inputs: ArrayLike<number> | undefined, steps: number, m: number): ArrayLike<number> | null {
  if (inputs === undefined) return null;
  if (inputs.length !== steps * m) throw new ShapeError('state-space inputs', [steps, m], [inputs.length / Math.max(m, 1), m]);
  return m === 0 ? null : inputs;
}

/** Row t (0-based) of a [T, d] sequence as a Float64Array view. */
function row(seq: Float64Array, t: number, d: number): Float64Array {
  return seq.subarray(t * d, (t + 1) * d);
}

/** Matrix t (0-based) of a [T, r, c] stack (copied). */
function stackGet(stack: Float64Array, t: number, r: number, c: number): Matrix {
  return matrix(r, c, stack.subarray(t * r * c, (t + 1) * r * c));
}

/** B·x_t added into `out` (x_t = row t of the inputs). */
function addInput(out: Float64Array, model: StateSpaceModel, inputs: ArrayLike<number> | null, t: number, m: number): void {
  if (!inputs || !model.B) return;
  const n = out.length;
  const b = model.B.data;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = 0; j < m; j++) acc += b[i * m + j] * inputs[t * m + j];
    out[i] += acc;
  }
}

/** Options of {@link simulateStateSpace}. */
export interface SimulateStateSpaceOptions {
  /** Number of steps T (≥ 0). */
  readonly steps: number;
  /** Inputs x_1..x_T [T, m]; absent means x_t = 0. */
  readonly inputs?: ArrayLike<number>;
  /** Seed of the PRNG ({@link createRandom}); the same seed gives the same draws everywhere. */
  readonly seed: number;
}

/** What {@link simulateStateSpace} returns. */
export interface StateSpaceSimulation {
  /** The drawn initial state h_0 [n]. */
  readonly initialState: Float64Array;
  /** States h_1..h_T [T, n]. */
  readonly states: Float64Array;
  /** Observations y_1..y_T [T, p]. */
  readonly observations: Float64Array;
}

/**
 * Draws one trajectory of the model. Gaussian noise is z ~ N(0, I) from the seeded PRNG
 * (Box–Muller on its uniforms, {@link createRandom}'s `normal()`), coloured by a Cholesky
 * factor: η = L_Q·z with L_Q·L_Qᵀ = Q (likewise R and P0; semidefinite covariances are
 * allowed). Draw order: h_0 (n normals), then for each t: η_t (n normals), ε_t (p normals).
 */
export function simulateStateSpace(model: StateSpaceModel, options: SimulateStateSpaceOptions): StateSpaceSimulation {
  const { n, m, p } = stateSpaceDims(model);
  const T = options.steps;
  if (!Number.isInteger(T) || T < 0) throw new WebRnnError('invalid-option', `simulateStateSpace: steps must be a non-negative integer, got ${T}`);
  const inputs = checkInputs(options.inputs, T, m);
  const rng = createRandom(options.seed);
  const lQ = psdFactor(model.Q, 'state-space Q').data;
  const lR = psdFactor(model.R, 'state-space R').data;
  const lP0 = psdFactor(model.P0, 'state-space P0').data;

  // x + L·z for a lower-triangular L [d, d] and fresh z ~ N(0, I_d), written into `out`.
  const z = new Float64Array(Math.max(n, p));
  const addNoise = (out: Float64Array, l: Float64Array, d: number): void => {
    for (let i = 0; i < d; i++) z[i] = rng.normal();
    for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j <= i; j++) acc += l[i * d + j] * z[j];
      out[i] += acc;
    }
  };

  const initialState = Float64Array.from(model.m0);
  addNoise(initialState, lP0, n);
  const states = new Float64Array(T * n); // [T, n]
  const observations = new Float64Array(T * p); // [T, p]
  let prev: Float64Array = initialState;
  for (let t = 0; t < T; t++) {
    const h = row(states, t, n);
    h.set(matVec(model.A, prev));
    addInput(h, model, inputs, t, m);
    addNoise(h, lQ, n);
    const y = row(observations, t, p);
    y.set(matVec(model.C, h));
    addNoise(y, lR, p);
    prev = h;
  }
  return { initialState, states, observations };
}

/** Options of {@link kalmanFilter}. */
export interface KalmanFilterOptions {
  /** Inputs x_1..x_T [T, m]; absent means x_t = 0. */
  readonly inputs?: ArrayLike<number>;
}

/** What {@link kalmanFilter} returns; row t−1 of each sequence belongs to step t. */
export interface KalmanFilterResult {
  /** T, the number of observations. */
  readonly steps: number;
  /** The model's dimensions. */
  readonly dims: StateSpaceDims;
  /** m_{t|t−1} = E[h_t | y_1..y_{t−1}], [T, n]. */
  readonly predictedMeans: Float64Array;
  /** P_{t|t−1} = Cov[h_t | y_1..y_{t−1}], [T, n, n]. */
  readonly predictedCovariances: Float64Array;
  /** m_{t|t} = E[h_t | y_1..y_t], [T, n]. */
  readonly filteredMeans: Float64Array;
  /** P_{t|t} = Cov[h_t | y_1..y_t], [T, n, n]. */
  readonly filteredCovariances: Float64Array;
  /** Kalman gains K_t = P_{t|t−1}·Cᵀ·S_t⁻¹, [T, n, p]. */
  readonly gains: Float64Array;
  /** Innovations v_t = y_t − C·m_{t|t−1}, [T, p]. */
  readonly innovations: Float64Array;
  /** Innovation covariances S_t = C·P_{t|t−1}·Cᵀ + R, [T, p, p]. */
  readonly innovationCovariances: Float64Array;
  /** log p(y_1..y_T) = Σ_t log N(v_t; 0, S_t). */
  readonly logLikelihood: number;
}

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * The Kalman filter: predicted and filtered means and covariances of h_t, the gains, the
 * innovations and the log-likelihood of y_1..y_T (equations in the module header; Joseph-form
 * covariance update, Cholesky solves rather than inverses). `observations` is [T, p].
 * Throws a WebRnnError 'invalid-option' when an innovation covariance S_t is not positive
 * definite (e.g. R singular and C·P_{t|t−1}·Cᵀ rank-deficient).
 */
export function kalmanFilter(model: StateSpaceModel, observations: ArrayLike<number>, options: KalmanFilterOptions = {}): KalmanFilterResult {
  const dims = stateSpaceDims(model);
  const { n, m, p } = dims;
  if (p === 0 || observations.length % p !== 0) {
    throw new ShapeError('kalmanFilter observations', [observations.length / Math.max(p, 1), p], [observations.length], 'length must be a multiple of p > 0');
  }
  const T = observations.length / p;
  const inputs = checkInputs(options.inputs, T, m);
  const { A, C, Q, R } = model;
  const In = identity(n);

  const predictedMeans = new Float64Array(T * n);
  const predictedCovariances = new Float64Array(T * n * n);
  const filteredMeans = new Float64Array(T * n);
  const filteredCovariances = new Float64Array(T * n * n);
  const gains = new Float64Array(T * n * p);
  const innovations = new Float64Array(T * p);
  const innovationCovariances = new Float64Array(T * p * p);
  let logLikelihood = 0;

  let mPrev: Float64Array = Float64Array.from(model.m0); // m_{t−1|t−1} [n]
  let pPrev: Matrix = model.P0; // P_{t−1|t−1} [n, n]
  for (let t = 0; t < T; t++) {
    // Prediction: m_{t|t−1} = A·m + B·x_t, P_{t|t−1} = A·P·Aᵀ + Q.
    const mPred = matVec(A, mPrev);
    addInput(mPred, model, inputs, t, m);
    const pPred = symmetrize(add(matMulTransposed(matMul(A, pPrev), A), Q));

    // Innovation v = y − C·m_{t|t−1} [p], S = C·P·Cᵀ + R [p, p].
    const cm = matVec(C, mPred);
    const v = new Float64Array(p);
    for (let i = 0; i < p; i++) v[i] = observations[t * p + i] - cm[i];
    const cp = matMul(C, pPred); // C·P_{t|t−1} [p, n]
    const S = symmetrize(add(matMulTransposed(cp, C), R));
    const lS = cholesky(S, `innovation covariance S_${t + 1}`);

    // Gain: Kᵀ = S⁻¹·(C·P) [p, n], so K = (S⁻¹·C·P)ᵀ [n, p].
    const K = transpose(choleskySolve(lS, cp));

    // Update: m_{t|t} = m + K·v; Joseph form (I − K·C)·P·(I − K·C)ᵀ + K·R·Kᵀ.
    const mFilt = new Float64Array(mPred);
    const kv = matVec(K, v);
    for (let i = 0; i < n; i++) mFilt[i] += kv[i];
    const iKC = subtract(In, matMul(K, C));
    const pFilt = symmetrize(add(matMulTransposed(matMul(iKC, pPred), iKC), matMulTransposed(matMul(K, R), K)));

    // Log-likelihood term: −½(p·log 2π + log det S + vᵀ·S⁻¹·v).
    const w = choleskySolve(lS, columnVector(v)).data; // S⁻¹·v
    let quad = 0;
    for (let i = 0; i < p; i++) quad += v[i] * w[i];
    logLikelihood += -0.5 * (p * LOG_2PI + choleskyLogDet(lS) + quad);

    predictedMeans.set(mPred, t * n);
    predictedCovariances.set(pPred.data, t * n * n);
    filteredMeans.set(mFilt, t * n);
    filteredCovariances.set(pFilt.data, t * n * n);
    gains.set(K.data, t * n * p);
    innovations.set(v, t * p);
    innovationCovariances.set(S.data, t * p * p);
    mPrev = mFilt;
    pPrev = pFilt;
  }
  return {
    steps: T,
    dims,
    predictedMeans,
    predictedCovariances,
    filteredMeans,
    filteredCovariances,
    gains,
    innovations,
    innovationCovariances,
    logLikelihood,
  };
}

/** What {@link rtsSmoother} returns; row t−1 of each sequence belongs to step t. */
export interface RtsSmootherResult {
  /** m_{t|T} = E[h_t | y_1..y_T], [T, n]. */
  readonly smoothedMeans: Float64Array;
  /** P_{t|T} = Cov[h_t | y_1..y_T], [T, n, n]. */
  readonly smoothedCovariances: Float64Array;
  /** Smoother gains G_t = P_{t|t}·Aᵀ·P_{t+1|t}⁻¹ for t = 1..T−1, [T−1, n, n]. */
  readonly smootherGains: Float64Array;
  /**
   * Lag-one cross-covariances Cov(h_{t+1}, h_t | y_1..y_T) = P_{t+1|T}·G_tᵀ for t = 1..T−1,
   * [T−1, n, n] (row t−1 holds the pair (h_{t+1}, h_t); the quantity EM needs).
   */
  readonly lagOneCovariances: Float64Array;
}

/**
 * The Rauch–Tung–Striebel smoother: E[h_t | y_1..y_T] and Cov[h_t | y_1..y_T] for every t,
 * from the output of {@link kalmanFilter} on the same model (equations in the module header).
 * Throws a WebRnnError 'invalid-option' when a predicted covariance P_{t+1|t} is not positive
 * definite (Q singular and the state not excited in some direction).
 */
export function rtsSmoother(model: StateSpaceModel, filtered: KalmanFilterResult): RtsSmootherResult {
  const { n } = stateSpaceDims(model);
  if (filtered.dims.n !== n) throw new ShapeError('rtsSmoother filter result', [filtered.steps, n], [filtered.steps, filtered.dims.n], 'filter ran on another model');
  const T = filtered.steps;
  const A = model.A;
  const smoothedMeans = new Float64Array(T * n);
  const smoothedCovariances = new Float64Array(T * n * n);
  const smootherGains = new Float64Array(Math.max(T - 1, 0) * n * n);
  const lagOneCovariances = new Float64Array(Math.max(T - 1, 0) * n * n);
  if (T === 0) return { smoothedMeans, smoothedCovariances, smootherGains, lagOneCovariances };

  smoothedMeans.set(row(filtered.filteredMeans, T - 1, n), (T - 1) * n);
  smoothedCovariances.set(row(filtered.filteredCovariances, T - 1, n * n), (T - 1) * n * n);
  let mNext = row(smoothedMeans, T - 1, n); // m_{t+1|T}
  let pNext = stackGet(smoothedCovariances, T - 1, n, n); // P_{t+1|T}
  for (let t = T - 2; t >= 0; t--) {
    const pFilt = stackGet(filtered.filteredCovariances, t, n, n); // P_{t|t}
    const pPredNext = stackGet(filtered.predictedCovariances, t + 1, n, n); // P_{t+1|t}
    // Gᵀ = P_{t+1|t}⁻¹·(A·P_{t|t}) (P symmetric), G = (…)ᵀ [n, n].
    const lP = cholesky(pPredNext, `predicted covariance P_${t + 2}|${t + 1}`);
    const G = transpose(choleskySolve(lP, matMul(A, pFilt)));

    // m_{t|T} = m_{t|t} + G·(m_{t+1|T} − m_{t+1|t}).
    const mPredNext = row(filtered.predictedMeans, t + 1, n);
    const diff = new Float64Array(n);
    for (let i = 0; i < n; i++) diff[i] = mNext[i] - mPredNext[i];
    const gd = matVec(G, diff);
    const mS = row(smoothedMeans, t, n);
    const mF = row(filtered.filteredMeans, t, n);
    for (let i = 0; i < n; i++) mS[i] = mF[i] + gd[i];

    // P_{t|T} = P_{t|t} + G·(P_{t+1|T} − P_{t+1|t})·Gᵀ.
    const pS = symmetrize(add(pFilt, matMulTransposed(matMul(G, subtract(pNext, pPredNext)), G)));
    smoothedCovariances.set(pS.data, t * n * n);
    smootherGains.set(G.data, t * n * n);
    // Cov(h_{t+1}, h_t | Y) = P_{t+1|T}·Gᵀ.
    lagOneCovariances.set(matMulTransposed(pNext, G).data, t * n * n);

    mNext = mS;
    pNext = pS;
  }
  return { smoothedMeans, smoothedCovariances, smootherGains, lagOneCovariances };
}
