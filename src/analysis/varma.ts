/**
 * The linear RNN (webrnn's Elman cell with `nonlinearity: 'identity'`, plus a linear
 * read-out) driven by noise, and its equivalent vector autoregression, in float64.
 *
 * Linear RNN, PyTorch semantics (hidden H, input I, output O; t = 1..T):
 *
 *   h_t = W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh      W_ih [H, I], W_hh [H, H], b_ih, b_hh [H]
 *   y_t = W_o·h_t + b_o                               W_o [O, H], b_o [O]
 *   h_0 given (default 0, as PyTorch's h0)
 *
 * When the read-out is square (O = H) and invertible, h_t = W_o⁻¹·(y_t − b_o); substituting
 * into the recurrence gives
 *
 *   y_t = b_o + W_o·W_ih·x_t + W_o·(b_ih + b_hh) + W_o·W_hh·W_o⁻¹·(y_{t−1} − b_o)
 *
 * that is, the model this file calls {@link VarmaModel}:
 *
 *   y_t = c + Φ·y_{t−1} + Θ·x_t                     Φ [O, O], Θ [O, I], c [O]
 *   Φ = W_o·W_hh·W_o⁻¹                              (similar to W_hh: same eigenvalues)
 *   Θ = W_o·W_ih
 *   c = (I − Φ)·b_o + W_o·(b_ih + b_hh)
 *   y_0 = W_o·h_0 + b_o                             (the initial condition)
 *
 * With x_t white noise (mean 0, covariance Σ_x), e_t = Θ·x_t is white noise with covariance
 * Θ·Σ_x·Θᵀ, so y is a VAR(1), i.e. VARMA(1, 0): (I − Φ·L)·y_t = c + e_t with L the lag
 * operator. When the spectral radius ρ(Φ) = ρ(W_hh) < 1 it is stationary with mean
 *
 *   μ = (I − Φ)⁻¹·c = b_o + W_o·(I − W_hh)⁻¹·(b_ih + b_hh)
 *
 * and the deviations z_t = y_t − μ follow z_t = Φ·z_{t−1} + Θ·x_t.
 *
 * The inverse map is not unique: every invertible W_o, every b_o and every split of
 * b_ih + b_hh give the same law of y. Given a choice of W_o (default I), b_o (default 0) and
 * b_hh (default 0):
 *
 *   W_hh = W_o⁻¹·Φ·W_o,   W_ih = W_o⁻¹·Θ,   b_ih = W_o⁻¹·(c − (I − Φ)·b_o) − b_hh,
 *   h_0 = W_o⁻¹·(y_0 − b_o).
 *
 * A read-out that is not square and invertible (e.g. O < H) is refused: then y is in general
 * a VARMA(H, H−1) (the state-space-to-VARMA result via Cayley–Hamilton), which this file does
 * not construct. Solves use LU with partial pivoting; no inverse is formed except inside the
 * condition check.
 */
import { ShapeError, WebRnnError } from '../errors.js';
import {
  checkShape,
  checkSquare,
  conditionNumber,
  identity,
  luFactor,
  luSolve,
  matMul,
  matrix,
  matVec,
  subtract,
  transpose,
  columnVector,
  type Matrix,
} from './linear-algebra.js';

/**
 * A linear RNN with a linear read-out (PyTorch names, camel-cased): h_t = W_ih·x_t + b_ih +
 * W_hh·h_{t−1} + b_hh, y_t = W_o·h_t + b_o. Absent biases are zero (PyTorch's `bias: false`),
 * an absent h0 is zero.
 */
export interface LinearRnn {
  /** W_ih [H, I] (PyTorch `weight_ih_l0`). */
  readonly weightIh: Matrix;
  /** W_hh [H, H] (PyTorch `weight_hh_l0`). */
  readonly weightHh: Matrix;
  /** b_ih [H] (PyTorch `bias_ih_l0`); absent means 0. */
  readonly biasIh?: ArrayLike<number>;
  /** b_hh [H] (PyTorch `bias_hh_l0`); absent means 0. */
  readonly biasHh?: ArrayLike<number>;
  /** Read-out W_o [O, H] (a `Linear(H, O)` weight). */
  readonly weightOut: Matrix;
  /** Read-out bias b_o [O]; absent means 0. */
  readonly biasOut?: ArrayLike<number>;
  /** Initial state h_0 [H]; absent means 0. */
  readonly h0?: ArrayLike<number>;
}

/**
 * The VAR(1)-with-input-matrix form y_t = c + Φ·y_{t−1} + Θ·x_t (VARMA(1, 0) in the noise
 * e_t = Θ·x_t), started from y_0.
 */
export interface VarmaModel {
  /** Autoregressive matrix Φ [k, k]. */
  readonly phi: Matrix;
  /** Noise (input) matrix Θ [k, I]. */
  readonly theta: Matrix;
  /** Intercept c [k]. */
  readonly intercept: ArrayLike<number>;
  /** Initial condition y_0 [k]; absent means 0. */
  readonly y0?: ArrayLike<number>;
}

/** Sizes of a {@link LinearRnn}: hidden H, input I, output O. */
export interface LinearRnnDims {
  readonly hidden: number;
  readonly input: number;
  readonly output: number;
}

/** Checks the shapes of a {@link LinearRnn} and returns H, I, O; throws a ShapeError on a mismatch. */
export function linearRnnDims(rnn: LinearRnn): LinearRnnDims {
  const hidden = checkSquare('linear RNN weightHh', rnn.weightHh);
  const input = rnn.weightIh.cols;
  checkShape('linear RNN weightIh', rnn.weightIh, hidden, input);
  const output = rnn.weightOut.rows;
  checkShape('linear RNN weightOut', rnn.weightOut, output, hidden);
  checkVector('linear RNN biasIh', rnn.biasIh, hidden);
  checkVector('linear RNN biasHh', rnn.biasHh, hidden);
  checkVector('linear RNN biasOut', rnn.biasOut, output);
  checkVector('linear RNN h0', rnn.h0, hidden);
  return { hidden, input, output };
}

function checkVector(name: string, v: ArrayLike<number> | undefined, n: number): void {
  if (v !== undefined && v.length !== n) throw new ShapeError(name, [n], [v.length]);
}

/** `v` as a Float64Array of length n (zeros when absent). */
function vectorOrZero(v: ArrayLike<number> | undefined, n: number): Float64Array {
  return v === undefined ? new Float64Array(n) : Float64Array.from(v);
}

/** Checks the shapes of a {@link VarmaModel}; returns k (output size) and I (noise size). */
function varmaDims(model: VarmaModel): { k: number; input: number } {
  const k = checkSquare('VARMA phi', model.phi);
  const input = model.theta.cols;
  checkShape('VARMA theta', model.theta, k, input);
  checkVector('VARMA intercept', model.intercept, k);
  checkVector('VARMA y0', model.y0, k);
  return { k, input };
}

/** Number of steps of a [T, d] sequence (d > 0). */
function stepsOf(name: string, seq: ArrayLike<number>, d: number): number {
  if (d === 0 || seq.length % d !== 0) {
    throw new ShapeError(name, [Math.floor(seq.length / Math.max(d, 1)), d], [seq.length], 'length must be a multiple of the input size (> 0)');
  }
  return seq.length / d;
}

/**
 * The largest ∞-norm condition number a read-out may have before it counts as singular: a
 * solve with W_o can lose about log10 κ of float64's ~16 digits, so beyond 1e12 fewer than
 * ~4 remain and the conversion is numerically meaningless.
 */
const MAX_CONDITION = 1e12;

/**
 * Throws a WebRnnError 'invalid-option' unless W is square with κ∞(W) ≤ 1e12; returns its
 * LU factors for the solves.
 */
function requireInvertible(w: Matrix, what: string): ReturnType<typeof luFactor> {
  if (w.rows !== w.cols) {
    throw new WebRnnError(
      'invalid-option',
      `${what} is [${w.rows}, ${w.cols}]: the VARMA form needs a square invertible read-out (output size = hidden size); ` +
        'a non-square read-out gives a VARMA(H, H−1) in general, which is not supported',
    );
  }
  const cond = conditionNumber(w);
  if (!(cond <= MAX_CONDITION)) {
    throw new WebRnnError(
      'invalid-option',
      `${what} is singular or nearly so (condition number ${cond.toExponential(2)} > ${MAX_CONDITION.toExponential(0)}): ` +
        'the VARMA form needs an invertible read-out',
    );
  }
  return luFactor(w, what);
}

/** What {@link runLinearRnn} returns. */
export interface LinearRnnRun {
  /** Hidden states h_1..h_T [T, H]. */
  readonly states: Float64Array;
  /** Outputs y_1..y_T [T, O]. */
  readonly outputs: Float64Array;
}

/**
 * Runs the linear RNN on inputs x_1..x_T [T, I] (one sequence, batch 1):
 * h_t = W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh, y_t = W_o·h_t + b_o.
 */
export function runLinearRnn(rnn: LinearRnn, inputs: ArrayLike<number>): LinearRnnRun {
  const { hidden: H, input: I, output: O } = linearRnnDims(rnn);
  const T = stepsOf('runLinearRnn inputs', inputs, I);
  const bias = vectorOrZero(rnn.biasIh, H); // b_ih + b_hh [H]
  if (rnn.biasHh) for (let j = 0; j < H; j++) bias[j] += rnn.biasHh[j];
  const bo = vectorOrZero(rnn.biasOut, O);
  const wih = rnn.weightIh.data;
  const states = new Float64Array(T * H); // [T, H]
  const outputs = new Float64Array(T * O); // [T, O]
  let prev: ArrayLike<number> = vectorOrZero(rnn.h0, H);
  for (let t = 0; t < T; t++) {
    const h = states.subarray(t * H, (t + 1) * H);
    h.set(matVec(rnn.weightHh, prev));
    for (let j = 0; j < H; j++) {
      let acc = bias[j];
      for (let i = 0; i < I; i++) acc += wih[j * I + i] * inputs[t * I + i];
      h[j] += acc;
    }
    const y = matVec(rnn.weightOut, h);
    for (let o = 0; o < O; o++) outputs[t * O + o] = y[o] + bo[o];
    prev = h;
  }
  return { states, outputs };
}

/**
 * Runs the VAR(1) recursion y_t = c + Φ·y_{t−1} + Θ·x_t from y_0 on noise x_1..x_T [T, I];
 * returns y_1..y_T [T, k].
 */
export function simulateVarma(model: VarmaModel, noise: ArrayLike<number>): Float64Array {
  const { k, input: I } = varmaDims(model);
  const T = stepsOf('simulateVarma noise', noise, I);
  const th = model.theta.data;
  const outputs = new Float64Array(T * k); // [T, k]
  let prev: ArrayLike<number> = vectorOrZero(model.y0, k);
  for (let t = 0; t < T; t++) {
    const y = outputs.subarray(t * k, (t + 1) * k);
    y.set(matVec(model.phi, prev));
    for (let o = 0; o < k; o++) {
      let acc = model.intercept[o];
      for (let i = 0; i < I; i++) acc += th[o * I + i] * noise[t * I + i];
      y[o] += acc;
    }
    prev = y;
  }
  return outputs;
}

/**
 * The VARMA form of a linear RNN with a square invertible read-out: Φ = W_o·W_hh·W_o⁻¹,
 * Θ = W_o·W_ih, c = (I − Φ)·b_o + W_o·(b_ih + b_hh), y_0 = W_o·h_0 + b_o. Throws a
 * WebRnnError 'invalid-option' when W_o is not square or is singular (κ∞ > 1e12).
 */
export function linearRnnToVarma(rnn: LinearRnn): VarmaModel {
  const { hidden: H } = linearRnnDims(rnn);
  const wo = rnn.weightOut;
  requireInvertible(wo, 'linear RNN read-out weightOut');
  // Φ = (W_o·W_hh)·W_o⁻¹, i.e. Φᵀ solves W_oᵀ·Φᵀ = (W_o·W_hh)ᵀ.
  const phi = transpose(luSolve(luFactor(transpose(wo)), transpose(matMul(wo, rnn.weightHh)), 'read-out'));
  const theta = matMul(wo, rnn.weightIh);
  const bo = vectorOrZero(rnn.biasOut, H);
  const bias = vectorOrZero(rnn.biasIh, H);
  if (rnn.biasHh) for (let j = 0; j < H; j++) bias[j] += rnn.biasHh[j];
  // c = (I − Φ)·b_o + W_o·(b_ih + b_hh).
  const intercept = matVec(subtract(identity(H), phi), bo);
  const wb = matVec(wo, bias);
  for (let j = 0; j < H; j++) intercept[j] += wb[j];
  // y_0 = W_o·h_0 + b_o.
  const y0 = matVec(wo, vectorOrZero(rnn.h0, H));
  for (let j = 0; j < H; j++) y0[j] += bo[j];
  return { phi, theta, intercept, y0 };
}

/** Choices that {@link varmaToLinearRnn} cannot read off the VARMA model (they are not identified). */
export interface VarmaToLinearRnnOptions {
  /** The read-out W_o [k, k], square and invertible; default the identity. */
  readonly weightOut?: Matrix;
  /** The read-out bias b_o [k]; default 0. */
  readonly biasOut?: ArrayLike<number>;
  /** The share b_hh [k] of the recurrent bias b_ih + b_hh; default 0 (all of it in b_ih). */
  readonly biasHh?: ArrayLike<number>;
}

/**
 * A linear RNN whose outputs equal the VARMA model's on every noise sequence, for a chosen
 * read-out: W_hh = W_o⁻¹·Φ·W_o, W_ih = W_o⁻¹·Θ, b_ih = W_o⁻¹·(c − (I − Φ)·b_o) − b_hh,
 * h_0 = W_o⁻¹·(y_0 − b_o). The returned model has every field set. Throws a WebRnnError
 * 'invalid-option' when the given W_o is not square or is singular (κ∞ > 1e12).
 */
export function varmaToLinearRnn(model: VarmaModel, options: VarmaToLinearRnnOptions = {}): LinearRnn {
  const { k } = varmaDims(model);
  const wo = options.weightOut ?? identity(k);
  checkVector('varmaToLinearRnn biasOut', options.biasOut, k);
  checkVector('varmaToLinearRnn biasHh', options.biasHh, k);
  const lu = requireInvertible(wo, 'read-out weightOut');
  if (wo.rows !== k) throw new ShapeError('varmaToLinearRnn weightOut', [k, k], [wo.rows, wo.cols]);
  const bo = vectorOrZero(options.biasOut, k);
  const bhh = vectorOrZero(options.biasHh, k);
  // W_hh = W_o⁻¹·(Φ·W_o), W_ih = W_o⁻¹·Θ.
  const weightHh = luSolve(lu, matMul(model.phi, wo), 'read-out');
  const weightIh = luSolve(lu, model.theta, 'read-out');
  // b_ih = W_o⁻¹·(c − (I − Φ)·b_o) − b_hh.
  const rhs = matVec(subtract(identity(k), model.phi), bo);
  for (let j = 0; j < k; j++) rhs[j] = model.intercept[j] - rhs[j];
  const biasIh = luSolve(lu, columnVector(rhs), 'read-out').data;
  for (let j = 0; j < k; j++) biasIh[j] -= bhh[j];
  // h_0 = W_o⁻¹·(y_0 − b_o).
  const y0 = vectorOrZero(model.y0, k);
  for (let j = 0; j < k; j++) y0[j] -= bo[j];
  const h0 = luSolve(lu, columnVector(y0), 'read-out').data;
  return { weightIh, weightHh, biasIh, biasHh: bhh, weightOut: matrix(k, k, wo.data), biasOut: bo, h0 };
}

/**
 * The stationary mean μ = (I − Φ)⁻¹·c of a VARMA model: the fixed point y = c + Φ·y (the
 * process mean when ρ(Φ) < 1 and the noise has mean 0). Throws a WebRnnError 'invalid-option'
 * when I − Φ is singular (a unit root: no finite mean).
 */
export function varmaMean(model: VarmaModel): Float64Array {
  const { k } = varmaDims(model);
  const a = subtract(identity(k), model.phi);
  if (!(conditionNumber(a) <= MAX_CONDITION)) {
    throw new WebRnnError('invalid-option', 'varmaMean: I − Φ is singular (Φ has an eigenvalue 1): the process has no finite mean');
  }
  return luSolve(luFactor(a), columnVector(model.intercept), 'I − Φ').data;
}
