/**
 * Memory time constants of gated recurrences, in float64.
 *
 * A state that is multiplied by a constant factor f ∈ (0, 1) at every step of length Δt,
 * c_t = f c_{t−1} (the LSTM's cell with its forget gate f and no input), decays as
 *   c_t = f^t c_0 = exp(t ln f) c_0 = exp(−(t Δt)/τ) c_0,   τ = −Δt / ln f,
 * so τ is the time (in the units of Δt) over which it falls by a factor e; conversely
 * f = exp(−Δt/τ). E.g. f = 0.95 at Δt = 0.02 s gives τ = 0.02/0.0513 ≈ 0.39 s (half-life
 * τ ln 2 ≈ 0.27 s).
 */
import { WebRnnError } from '../errors.js';

function invalid(message: string): WebRnnError {
  return new WebRnnError('invalid-option', message);
}

function positive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw invalid(`${name} must be a finite number > 0, got ${String(v)}`);
  return v;
}

/**
 * τ = −Δt / ln f: the time constant of the decay c_t = f^t c_0 sampled every Δt.
 *
 * @param f the per-step factor (forget-gate value), in (0, 1).
 * @param dt the sampling interval Δt > 0 (τ comes out in its units).
 * @throws WebRnnError('invalid-option') unless 0 < f < 1 and dt > 0 is finite.
 */
export function timeConstant(f: number, dt: number): number {
  if (typeof f !== 'number' || !(f > 0 && f < 1)) throw invalid(`timeConstant: f must be in (0, 1), got ${String(f)}`);
  positive('timeConstant: dt', dt);
  return -dt / Math.log(f);
}

/**
 * f = exp(−Δt/τ): the per-step factor whose decay has time constant τ at sampling interval Δt
 * (the inverse of {@link timeConstant}).
 *
 * @throws WebRnnError('invalid-option') unless tau > 0 and dt > 0 are finite.
 */
export function forgetForTimeConstant(tau: number, dt: number): number {
  positive('forgetForTimeConstant: tau', tau);
  positive('forgetForTimeConstant: dt', dt);
  return Math.exp(-dt / tau);
}

/** softplus(y) = ln(1 + e^y) without overflow; −ln σ(z) = softplus(−z). */
function softplus(y: number): number {
  return y > 0 ? y + Math.log1p(Math.exp(-y)) : Math.log1p(Math.exp(y));
}

/** Logistic σ(z) = 1/(1 + e^{−z}). */
function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** Options of {@link lstmTimeConstants}. */
export interface LstmTimeConstantOptions {
  /** The sampling interval Δt > 0 between steps; τ comes out in its units. */
  dt: number;
  /** The layer k of `*_l{k}` (default 0). */
  layer?: number;
  /** Read the reverse direction's parameters (`*_l{k}_reverse`), default false. */
  reverse?: boolean;
  /**
   * Points (x_n, h_n) at which to evaluate the forget gate instead of x = 0, h = 0: `x` is
   * [count, I] row-major (I the layer's input size), `h` [count, H] (zeros when absent).
   */
  samples?: { count: number; x: ArrayLike<number>; h?: ArrayLike<number> };
  /**
   * How samples are averaged (ignored without samples), default 'gate':
   * 'gate', the mean forget gate f̄_j = (1/N) Σ_n f_{n,j} and τ_j = −Δt / ln f̄_j;
   * 'log', the geometric mean exp((1/N) Σ_n ln f_{n,j}) and τ_j = −Δt / ((1/N) Σ_n ln f_{n,j}),
   * the time constant of the product of the gates along the samples (a cell that sees the N
   * gates in turn is scaled by Π_n f_{n,j} = exp(−N Δt / τ_j)).
   */
  average?: 'gate' | 'log';
}

/** Result of {@link lstmTimeConstants}. */
export interface LstmTimeConstants {
  /** H, hidden units. */
  hiddenSize: number;
  /** [H] the forget-gate value per unit (averaged as asked for samples). */
  forget: Float64Array;
  /** [H] τ_j = −Δt / ln f_j (Infinity when f_j rounds to 1, since an LSTM's f is never exactly 1). */
  tau: Float64Array;
}

function tensor(params: Readonly<Record<string, ArrayLike<number>>>, name: string, n: number): ArrayLike<number> {
  const t = params[name];
  if (t === undefined || t === null || typeof t.length !== 'number') throw invalid(`lstmTimeConstants: parameter ${name} is missing`);
  if (t.length !== n) throw invalid(`lstmTimeConstants: ${name} has ${t.length} elements, ${n} expected`);
  for (let k = 0; k < n; k++) if (!Number.isFinite(t[k])) throw invalid(`lstmTimeConstants: ${name}[${k}] is ${t[k]}; finite values expected`);
  return t;
}

/**
 * Per-unit memory time constants of one layer and direction of a PyTorch LSTM, from its
 * forget gates. With PyTorch's names and layouts (gate blocks in the order i, f, g, o, so the
 * forget gate is rows H..2H−1 of weight_ih_l{k} [4H, I], weight_hh_l{k} [4H, H], bias_ih_l{k}
 * [4H] and bias_hh_l{k} [4H]), the forget gate of unit j is
 *   f_j(x, h) = σ(z_j),  z_j = W_ih[H+j, :]·x + b_ih[H+j] + W_hh[H+j, :]·h + b_hh[H+j],
 * and the cell update c_t = f ⊙ c_{t−1} + i ⊙ g forgets at rate f.
 *
 * Computed, with τ = −Δt / ln f in each case:
 * - without samples: the forget gate at zero input and zero state, f_j = σ(b_ih[H+j] + b_hh[H+j])
 *   (σ(0) = 0.5 for a model without biases), the gate's resting value;
 * - with samples (x_n, h_n), n = 1..N: the mean forget gate over them, or their geometric mean
 *   (`average: 'log'`, see {@link LstmTimeConstantOptions.average}).
 * ln f is evaluated as −softplus(−z), so τ stays accurate for f close to 1.
 *
 * The shapes are read from the dict: H from weight_hh_l{k} (4H·H elements), I from
 * weight_ih_l{k}; biases may be absent together (a model built with bias: false).
 * Peepholes and ONNX's cell options are not taken into account.
 *
 * @param params a state dict (e.g. `await model.stateDict()`, or PyTorch's `state_dict()`
 *   converted to arrays), any ArrayLike<number> values.
 * @throws WebRnnError('invalid-option') for missing or mis-sized parameters or samples, or bad options.
 */
export function lstmTimeConstants(params: Readonly<Record<string, ArrayLike<number>>>, options: LstmTimeConstantOptions): LstmTimeConstants {
  if (params === null || typeof params !== 'object') throw invalid('lstmTimeConstants: a state dict expected');
  if (options === null || typeof options !== 'object') throw invalid('lstmTimeConstants: options { dt } expected');
  const dt = positive('lstmTimeConstants: dt', options.dt);
  const layer = options.layer ?? 0;
  if (!Number.isInteger(layer) || layer < 0) throw invalid(`lstmTimeConstants: layer must be a non-negative integer, got ${String(layer)}`);
  const average = options.average ?? 'gate';
  if (average !== 'gate' && average !== 'log') throw invalid(`lstmTimeConstants: average must be 'gate' or 'log', got ${String(average)}`);
  const suffix = `_l${layer}${options.reverse ? '_reverse' : ''}`;

  // H from weight_hh [4H, H]: 4H² elements.
  const whhRaw = params[`weight_hh${suffix}`];
  if (whhRaw === undefined || whhRaw === null || typeof whhRaw.length !== 'number') throw invalid(`lstmTimeConstants: parameter weight_hh${suffix} is missing`);
  const H = Math.round(Math.sqrt(whhRaw.length / 4));
  if (H < 1 || 4 * H * H !== whhRaw.length) throw invalid(`lstmTimeConstants: weight_hh${suffix} has ${whhRaw.length} elements, not 4H·H for any H`);
  const hasBih = params[`bias_ih${suffix}`] !== undefined;
  const hasBhh = params[`bias_hh${suffix}`] !== undefined;
  if (hasBih !== hasBhh) throw invalid(`lstmTimeConstants: bias_ih${suffix} and bias_hh${suffix} must be given together`);
  const bih = hasBih ? tensor(params, `bias_ih${suffix}`, 4 * H) : null;
  const bhh = hasBhh ? tensor(params, `bias_hh${suffix}`, 4 * H) : null;
  // Forget-gate bias per unit: b_ih[H + j] + b_hh[H + j].
  const bias = Float64Array.from({ length: H }, (_, j) => (bih && bhh ? bih[H + j] + bhh[H + j] : 0));

  const forget = new Float64Array(H);
  const tau = new Float64Array(H);
  const samples = options.samples;
  if (samples === undefined) {
    for (let j = 0; j < H; j++) {
      forget[j] = sigmoid(bias[j]);
      tau[j] = dt / softplus(-bias[j]);
    }
    return { hiddenSize: H, forget, tau };
  }

  if (samples === null || typeof samples !== 'object') throw invalid('lstmTimeConstants: samples must be { count, x, h? }');
  const N = samples.count;
  if (!Number.isInteger(N) || N < 1) throw invalid(`lstmTimeConstants: samples.count must be a positive integer, got ${String(N)}`);
  const whh = tensor(params, `weight_hh${suffix}`, 4 * H * H);
  const wihRaw = params[`weight_ih${suffix}`];
  if (wihRaw === undefined || wihRaw === null || typeof wihRaw.length !== 'number') throw invalid(`lstmTimeConstants: parameter weight_ih${suffix} is missing`);
  const I = wihRaw.length / (4 * H);
  if (!Number.isInteger(I) || I < 1) throw invalid(`lstmTimeConstants: weight_ih${suffix} has ${wihRaw.length} elements, not 4H·I with H = ${H}`);
  const wih = tensor(params, `weight_ih${suffix}`, 4 * H * I);
  const x = samples.x;
  if (x === null || typeof x !== 'object' || x.length !== N * I) throw invalid(`lstmTimeConstants: samples.x must hold [${N}, ${I}] = ${N * I} values`);
  const h = samples.h;
  if (h !== undefined && (h === null || typeof h !== 'object' || h.length !== N * H)) throw invalid(`lstmTimeConstants: samples.h must hold [${N}, ${H}] = ${N * H} values`);
  for (let k = 0; k < N * I; k++) if (!Number.isFinite(x[k])) throw invalid(`lstmTimeConstants: samples.x[${k}] is ${x[k]}; finite values expected`);
  if (h) for (let k = 0; k < N * H; k++) if (!Number.isFinite(h[k])) throw invalid(`lstmTimeConstants: samples.h[${k}] is ${h[k]}; finite values expected`);

  for (let j = 0; j < H; j++) {
    const row = H + j; // the forget block
    // 'gate': Σ σ(z) and Σ σ(−z) = Σ (1 − σ(z)) (for ln f̄ = log1p(−(1 − f̄)) without cancellation);
    // 'log': Σ softplus(−z) = −Σ ln σ(z).
    let sumF = 0;
    let sumOneMinusF = 0;
    let sumSoftplus = 0;
    for (let n = 0; n < N; n++) {
      let z = bias[j];
      for (let k = 0; k < I; k++) z += wih[row * I + k] * x[n * I + k];
      if (h) for (let k = 0; k < H; k++) z += whh[row * H + k] * h[n * H + k];
      sumF += sigmoid(z);
      sumOneMinusF += sigmoid(-z);
      sumSoftplus += softplus(-z);
    }
    if (average === 'gate') {
      forget[j] = sumF / N;
      tau[j] = -dt / Math.log1p(-sumOneMinusF / N);
    } else {
      forget[j] = Math.exp(-sumSoftplus / N);
      tau[j] = dt / (sumSoftplus / N);
    }
  }
  return { hiddenSize: H, forget, tau };
}
