/**
 * Filtering versus smoothing, learnt: unidirectional and bidirectional RNNs trained by webrnn
 * to estimate the hidden state of a linear-Gaussian state-space model, measured against the
 * Kalman filter and the Rauch–Tung–Striebel smoother on held-out sequences.
 *
 * The model (see state-space.ts), for one noise setting (q, r):
 *
 *   h_0 ~ N(m0, q·P0),   h_t = A·h_{t−1} + η_t,  η_t ~ N(0, q·Q),
 *   y_t = C·h_t + ε_t,   ε_t ~ N(0, r·R)                                   (no inputs: x_t = 0)
 *
 * so the model's Q, R and P0 are the *shapes* of the noises and q, r their scales (a model with
 * Q = R = I takes q and r as the variances). The default model is scalar, A = 0.95, C = 1,
 * Q = R = 1, m0 = 0, P0 = 1/(1 − 0.95²) (h_0 drawn from the stationary distribution, so the
 * process is stationary from t = 1).
 *
 * What is compared, by state-estimation MSE (mean over test sequences, steps and state
 * components of (ĥ_t − h_t)², h_t the simulated true state):
 *
 * - the Kalman filter, E[h_t | y_1..y_t]: the best estimate of any kind from the past and
 *   present (the model is Gaussian, so the best in mean square is this linear one);
 * - the RTS smoother, E[h_t | y_1..y_T]: the best estimate from the whole sequence;
 * - a unidirectional Elman RNN with a linear read-out, which sees y_1..y_t at step t (causal);
 * - a bidirectional Elman RNN with a linear read-out, which sees y_1..y_T at every step.
 *
 * The smoother/filter ratio is the theoretical reference for what bidirectionality can buy on
 * this model: no causal estimator beats the filter and no estimator at all beats the smoother,
 * so a trained unidirectional RNN's MSE is at best the filter's (up to sampling noise of the
 * test set) and a bidirectional one's at best the smoother's. As the networks learn, uniMse
 * approaches kalmanMse, biMse approaches smootherMse, and biOverUni approaches
 * smootherOverFilter. How close they come depends on the training budget and is not
 * guaranteed (docs/theory.md has measured figures). The bidirectional network (twice the
 * parameters, a two-sided kernel to learn) tends to sit a little further from the smoother than
 * the causal one from the filter. Where smoothing buys little (q large against r: the present
 * observation says nearly everything) both ratios are near 1 and the gap between them is of the
 * order of the training noise.
 *
 * Why an Elman cell with the identity nonlinearity (the default): the stationary Kalman filter
 * is m_t = (I − K·C)·A·m_{t−1} + K·y_t, exactly the recurrence of an identity Elman cell with a
 * linear read-out; and the stationary smoother is a two-sided linear filter of y, a causal part
 * plus an anti-causal part, which is what the two directions of a bidirectional identity cell
 * with a linear read-out of their concatenation compute. So the stationary estimators lie
 * inside the model class. Near the ends of a sequence they do not: there the filter's gain (and,
 * near the last step, the smoother's backward part) still varies with t, which a time-invariant
 * recurrence started from zeros cannot follow, so part of the gap is of that kind and shrinks as
 * the sequences grow longer than the gains' transients; longer training does not close it.
 * `nonlinearity: 'tanh'` is available for comparison; it can only approximate these linear
 * estimators.
 *
 * Training: every step draws a fresh batch of `batch` sequences from the model (so the training
 * set is steps × batch sequences, none reused and none in the test set), and both networks take
 * one Adam step on the same batch, with MSE on every step, global gradient-norm clipping, and a
 * learning rate decayed from `lr` to lr/10 by a half cosine. Inputs and targets are scaled by
 * single numbers, s_y = √(mean stationary variance of y) and s_h = √(mean stationary variance of
 * h) (so that any q, r trains at the same learning rate); predictions are scaled back, and the
 * reported losses are in the state's own units (training loss × s_h²).
 *
 * Everything is seeded: the same options give the same numbers on the same adapter (the GPU's
 * float32 sums may differ in the last bits between adapters).
 */
import type { Engine } from '../engine.js';
import { ShapeError, WebRnnError } from '../errors.js';
import { createRandom, type Random } from '../spec/random.js';
import type { RecurrentModel } from '../model/recurrent-model.js';
import { add, isStableMatrix, matMul, matMulTransposed, matrixFromRows, stationaryCovariance, type Matrix } from './linear-algebra.js';

// Part of this module's API since it began; they live with the other matrix functions.
export { isStableMatrix, stationaryCovariance };
import { kalmanFilter, rtsSmoother, simulateStateSpace, stateSpaceDims, type StateSpaceModel } from './state-space.js';

/** One noise setting: the state noise scale q and the observation noise scale r (both > 0). */
export interface NoiseSetting {
  /** Scale of the state noise: Q ← q·Q and P0 ← q·P0. */
  readonly q: number;
  /** Scale of the observation noise: R ← r·R. */
  readonly r: number;
}

/** What {@link compareFilteringSmoothing} reports while it runs. */
export interface FilteringProgress {
  /** 'train': after a training step whose loss was read; 'evaluated': a setting is done. */
  readonly phase: 'train' | 'evaluated';
  /** Index of the noise setting (0-based) and the number of settings. */
  readonly setting: number;
  readonly settings: number;
  readonly q: number;
  readonly r: number;
  /** Training steps done in this setting (of `steps`). */
  readonly step: number;
  readonly steps: number;
  /** The training losses of this step, in the state's units ('train' only). */
  readonly uniLoss?: number;
  readonly biLoss?: number;
  /** The setting's result ('evaluated' only). */
  readonly result?: FilteringSettingResult;
}

/** Options of {@link compareFilteringSmoothing}. */
export interface FilteringComparisonOptions {
  /**
   * The state-space model; Q, R and P0 are scaled by each setting's q, r and q. Its B (if any)
   * is unused (no inputs). Must be stable: spectral radius of A below 1. Default: the scalar
   * model A = 0.95, C = 1, Q = R = 1, m0 = 0, P0 = 1/(1 − 0.95²).
   */
  readonly model?: StateSpaceModel;
  /**
   * The noise settings to run, each q > 0 and r > 0. Default: [{ q: 0.1, r: 1 }, { q: 1, r: 0.1 }]
   * (on the default model: smoothing cuts the MSE by about a third in the first, by some 7 %
   * in the second).
   */
  readonly noise?: ReadonlyArray<NoiseSetting>;
  /** Steps per sequence T (≥ 2), training and test. Default 32. */
  readonly seqLen?: number;
  /** Adam steps per network and setting (≥ 1). Default 300. */
  readonly steps?: number;
  /** Sequences per training batch (≥ 1). Default 16. */
  readonly batch?: number;
  /** Held-out test sequences (≥ 1). Default 128. */
  readonly testSequences?: number;
  /** Hidden units per direction (≥ 1). Default 8. */
  readonly hiddenSize?: number;
  /** The Elman cell's nonlinearity. Default 'identity' (see the module header). */
  readonly nonlinearity?: 'identity' | 'tanh';
  /** Peak Adam learning rate, decayed to lr/10 by a half cosine. Default 0.02. */
  readonly lr?: number;
  /** Global gradient-norm clipping (0: none). Default 1. */
  readonly clipGradNorm?: number;
  /** Read the training losses back every this many steps (and at the last). Default 10. */
  readonly lossEvery?: number;
  /** Seed of the data and of the networks' initial weights. Default 0. */
  readonly seed?: number;
  /** Called after each recorded training step and after each setting's evaluation. */
  readonly onProgress?: (progress: FilteringProgress) => void;
}

/** The outcome of one noise setting. MSEs are per state component, on the held-out sequences. */
export interface FilteringSettingResult {
  readonly q: number;
  readonly r: number;
  /** MSE of the Kalman filter's means E[h_t | y_1..y_t]. */
  readonly kalmanMse: number;
  /** MSE of the RTS smoother's means E[h_t | y_1..y_T]. */
  readonly smootherMse: number;
  /** MSE of the trained unidirectional RNN (causal). */
  readonly uniMse: number;
  /** MSE of the trained bidirectional RNN. */
  readonly biMse: number;
  /** biMse / uniMse: what bidirectionality bought the networks. */
  readonly biOverUni: number;
  /** smootherMse / kalmanMse: what it can buy at best (the theoretical reference). */
  readonly smootherOverFilter: number;
  /** Mean of tr(P_{t|t})/n over t: the filter's expected MSE, which kalmanMse estimates. */
  readonly kalmanVariance: number;
  /** Mean of tr(P_{t|T})/n over t: the smoother's expected MSE, which smootherMse estimates. */
  readonly smootherVariance: number;
  /** MSE of the prior mean E[h_t] = A^t·m0 (no observations used). */
  readonly priorMse: number;
  /** MSE of taking y_t itself as the estimate of h_t; null unless C is the identity. */
  readonly observationMse: number | null;
  /** The training steps (1-based) whose losses were read, and those losses (state units). */
  readonly lossSteps: number[];
  readonly uniLosses: number[];
  readonly biLosses: number[];
}

/** What {@link compareFilteringSmoothing} returns: one result per noise setting, and the options used. */
export interface FilteringComparison {
  readonly settings: FilteringSettingResult[];
  readonly seqLen: number;
  readonly steps: number;
  readonly batch: number;
  readonly testSequences: number;
  readonly hiddenSize: number;
  readonly nonlinearity: 'identity' | 'tanh';
  readonly seed: number;
}

function invalid(message: string): WebRnnError {
  return new WebRnnError('invalid-option', message);
}

function integerOption(name: string, v: unknown, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(`compareFilteringSmoothing: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return v;
}

function positiveNumber(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw invalid(`compareFilteringSmoothing: ${name} must be a finite number > 0, got ${String(v)}`);
  return v;
}

/** The default model: scalar, A = 0.95, C = 1, unit noise shapes, stationary initial state. */
export function defaultFilteringModel(): StateSpaceModel {
  const a = 0.95;
  return {
    A: matrixFromRows([[a]]),
    C: matrixFromRows([[1]]),
    Q: matrixFromRows([[1]]),
    R: matrixFromRows([[1]]),
    m0: [0],
    P0: matrixFromRows([[1 / (1 - a * a)]]),
  };
}

function scaled(a: Matrix, s: number): Matrix {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v) => v * s) };
}

function meanDiagonal(a: Matrix): number {
  let s = 0;
  for (let i = 0; i < a.rows; i++) s += a.data[i * a.cols + i];
  return s / a.rows;
}

function isIdentity(a: Matrix): boolean {
  if (a.rows !== a.cols) return false;
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) if (a.data[i * a.cols + j] !== (i === j ? 1 : 0)) return false;
  return true;
}

/** Independent 31-bit seeds from one stream. */
function nextSeed(rng: Random): number {
  return Math.floor(rng.uniform() * 0x7fffffff);
}

/** N simulated sequences: per sequence the states [T·n] and the observations [T·p], row-major. */
interface SimulatedSet {
  readonly states: Float64Array[];
  readonly observations: Float64Array[];
}

function simulateSet(model: StateSpaceModel, N: number, T: number, rng: Random): SimulatedSet {
  const states: Float64Array[] = [];
  const observations: Float64Array[] = [];
  for (let b = 0; b < N; b++) {
    const sim = simulateStateSpace(model, { steps: T, seed: nextSeed(rng) });
    states.push(sim.states);
    observations.push(sim.observations);
  }
  return { states, observations };
}

/** [T, N, d] float32 from N row-major [T, d] sequences, each value times `scale`. */
function sequenceMajor(seqs: Float64Array[], T: number, d: number, scale: number): Float32Array {
  const N = seqs.length;
  const out = new Float32Array(T * N * d);
  for (let b = 0; b < N; b++) {
    const s = seqs[b];
    for (let t = 0; t < T; t++) for (let i = 0; i < d; i++) out[(t * N + b) * d + i] = s[t * d + i] * scale;
  }
  return out;
}

/** Mean over sequences, steps and components of (estimate − state)²; estimates row-major [T, n] per sequence. */
function mse(estimates: ArrayLike<number>[], states: Float64Array[]): number {
  let s = 0;
  let count = 0;
  for (let b = 0; b < states.length; b++) {
    const e = estimates[b];
    const h = states[b];
    for (let i = 0; i < h.length; i++) {
      const d = e[i] - h[i];
      s += d * d;
    }
    count += h.length;
  }
  return s / count;
}

/**
 * For each noise setting: simulate training and test sequences from the state-space model,
 * train a unidirectional and a bidirectional Elman RNN with a linear read-out on the GPU (MSE,
 * Adam, seeded) to estimate h_t from y, and measure on the held-out sequences the state-
 * estimation MSE of the Kalman filter, the RTS smoother and the two networks. See the module
 * header for the model, the estimators, the training recipe and what to expect of the ratios.
 *
 * @param engine from `createEngine()`; two models per setting are created and destroyed.
 * @throws WebRnnError('invalid-option') for a noise level that is not a finite number > 0, an
 *   unstable A (spectral radius ≥ 1), an empty noise list, or another invalid option;
 *   ShapeError when the model's matrices do not fit together.
 */
export async function compareFilteringSmoothing(engine: Engine, options: FilteringComparisonOptions = {}): Promise<FilteringComparison> {
  if (options === null || typeof options !== 'object') throw invalid('compareFilteringSmoothing: an options object expected');
  const known = ['model', 'noise', 'seqLen', 'steps', 'batch', 'testSequences', 'hiddenSize', 'nonlinearity', 'lr', 'clipGradNorm', 'lossEvery', 'seed', 'onProgress'];
  for (const key of Object.keys(options)) if (!known.includes(key)) throw invalid(`compareFilteringSmoothing: unknown option '${key}'`);
  const base = options.model ?? defaultFilteringModel();
  const { n, p } = stateSpaceDims(base);
  if (n === 0 || p === 0) throw new ShapeError('compareFilteringSmoothing model', [Math.max(n, 1), Math.max(p, 1)], [n, p], 'at least one state and one observation dimension needed');
  for (const [name, m] of [['A', base.A], ['C', base.C], ['Q', base.Q], ['R', base.R], ['P0', base.P0]] as const) {
    if (!m.data.every(Number.isFinite)) throw invalid(`compareFilteringSmoothing: model ${name} holds a non-finite value`);
  }
  if (!Array.from(base.m0).every(Number.isFinite)) throw invalid('compareFilteringSmoothing: model m0 holds a non-finite value');
  if (!isStableMatrix(base.A)) throw invalid('compareFilteringSmoothing: model A is not stable (spectral radius ≥ 1); the state must have a stationary distribution');
  const noise = options.noise ?? [
    { q: 0.1, r: 1 },
    { q: 1, r: 0.1 },
  ];
  if (!Array.isArray(noise) || noise.length === 0) throw invalid('compareFilteringSmoothing: noise must be a non-empty array of { q, r }');
  noise.forEach((s, i) => {
    if (s === null || typeof s !== 'object') throw invalid(`compareFilteringSmoothing: noise[${i}] must be { q, r }`);
    positiveNumber(`noise[${i}].q`, s.q);
    positiveNumber(`noise[${i}].r`, s.r);
  });
  const T = integerOption('seqLen', options.seqLen, 32, 2);
  const steps = integerOption('steps', options.steps, 300, 1);
  const B = integerOption('batch', options.batch, 16, 1);
  const N = integerOption('testSequences', options.testSequences, 128, 1);
  const H = integerOption('hiddenSize', options.hiddenSize, 8, 1);
  const lossEvery = integerOption('lossEvery', options.lossEvery, 10, 1);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw invalid(`compareFilteringSmoothing: seed must be an integer, got ${String(seed)}`);
  const nonlinearity = options.nonlinearity ?? 'identity';
  if (nonlinearity !== 'identity' && nonlinearity !== 'tanh') throw invalid(`compareFilteringSmoothing: nonlinearity must be 'identity' or 'tanh', got '${String(nonlinearity)}'`);
  const lr = options.lr === undefined ? 0.02 : positiveNumber('lr', options.lr);
  const clipGradNorm = options.clipGradNorm ?? 1;
  if (typeof clipGradNorm !== 'number' || !Number.isFinite(clipGradNorm) || clipGradNorm < 0) {
    throw invalid(`compareFilteringSmoothing: clipGradNorm must be a finite number ≥ 0, got ${String(clipGradNorm)}`);
  }
  const onProgress = options.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('compareFilteringSmoothing: onProgress must be a function');
  const cIsIdentity = isIdentity(base.C);

  const results: FilteringSettingResult[] = [];
  for (let k = 0; k < noise.length; k++) {
    const { q, r } = noise[k];
    const model: StateSpaceModel = { A: base.A, C: base.C, Q: scaled(base.Q, q), R: scaled(base.R, r), m0: base.m0, P0: scaled(base.P0, q) };
    // Input and target scales from the stationary covariances of h and y.
    const sigmaH = stationaryCovariance(model.A, model.Q);
    const sigmaY = add(matMulTransposed(matMul(model.C, sigmaH), model.C), model.R);
    const sh = Math.sqrt(meanDiagonal(sigmaH));
    const sy = Math.sqrt(meanDiagonal(sigmaY));
    if (!(sh > 0) || !(sy > 0) || !Number.isFinite(sh) || !Number.isFinite(sy)) {
      throw invalid(`compareFilteringSmoothing: noise[${k}] gives a degenerate stationary variance (state ${sh * sh}, observation ${sy * sy})`);
    }
    const rng = createRandom((seed ^ Math.imul(k + 1, 0x27d4eb2d)) | 0);
    const uniSeed = nextSeed(rng);
    const biSeed = nextSeed(rng);
    const testRng = createRandom(nextSeed(rng));
    const trainRng = createRandom(nextSeed(rng));

    const test = simulateSet(model, N, T, testRng);
    // Reference estimators; their covariances do not depend on the data (take the first run's).
    const filtered = test.observations.map((y) => kalmanFilter(model, y));
    const smoothed = filtered.map((f) => rtsSmoother(model, f));
    const kalmanMse = mse(filtered.map((f) => f.filteredMeans), test.states);
    const smootherMse = mse(smoothed.map((s) => s.smoothedMeans), test.states);
    const meanTrace = (covs: Float64Array): number => {
      let s = 0;
      for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) s += covs[t * n * n + i * n + i];
      return s / (T * n);
    };
    const kalmanVariance = meanTrace(filtered[0].filteredCovariances);
    const smootherVariance = meanTrace(smoothed[0].smoothedCovariances);
    const prior = new Float64Array(T * n);
    {
      let m = Float64Array.from(base.m0);
      for (let t = 0; t < T; t++) {
        const next = new Float64Array(n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) next[i] += model.A.data[i * n + j] * m[j];
        prior.set(next, t * n);
        m = next;
      }
    }
    const priorMse = mse(test.states.map(() => prior), test.states);
    const observationMse = cIsIdentity ? mse(test.observations, test.states) : null;

    const common = { inputSize: p, hiddenSize: H, outputSize: n, nonlinearity, bias: true } as const;
    let uni: RecurrentModel | null = null;
    let bi: RecurrentModel | null = null;
    try {
      uni = engine.rnn({ ...common, seed: uniSeed });
      bi = engine.rnn({ ...common, bidirectional: true, seed: biSeed });
      const lossSteps: number[] = [];
      const uniLosses: number[] = [];
      const biLosses: number[] = [];
      const lossScale = sh * sh;
      for (let step = 0; step < steps; step++) {
        const batch = simulateSet(model, B, T, trainRng);
        const x = sequenceMajor(batch.observations, T, p, 1 / sy);
        const target = sequenceMajor(batch.states, T, n, 1 / sh);
        const rate = lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * step) / steps)));
        const read = (step + 1) % lossEvery === 0 || step === steps - 1;
        const trainOptions = { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'adam', lr: rate }, clipGradNorm, readLoss: read } as const;
        const [ru, rb] = await Promise.all([uni.trainStep(x, target, trainOptions), bi.trainStep(x, target, trainOptions)]);
        if (read) {
          const uniLoss = ru.loss! * lossScale;
          const biLoss = rb.loss! * lossScale;
          lossSteps.push(step + 1);
          uniLosses.push(uniLoss);
          biLosses.push(biLoss);
          onProgress?.({ phase: 'train', setting: k, settings: noise.length, q, r, step: step + 1, steps, uniLoss, biLoss });
        }
      }

      const xTest = sequenceMajor(test.observations, T, p, 1 / sy);
      const estimates = async (net: RecurrentModel): Promise<Float64Array[]> => {
        const { y } = await net.forward(xTest, { batch: N, seqLen: T });
        const out = test.states.map(() => new Float64Array(T * n));
        for (let t = 0; t < T; t++) for (let b = 0; b < N; b++) for (let i = 0; i < n; i++) out[b][t * n + i] = y![(t * N + b) * n + i] * sh;
        return out;
      };
      const [uniEst, biEst] = await Promise.all([estimates(uni), estimates(bi)]);
      const uniMse = mse(uniEst, test.states);
      const biMse = mse(biEst, test.states);
      const result: FilteringSettingResult = {
        q,
        r,
        kalmanMse,
        smootherMse,
        uniMse,
        biMse,
        biOverUni: biMse / uniMse,
        smootherOverFilter: smootherMse / kalmanMse,
        kalmanVariance,
        smootherVariance,
        priorMse,
        observationMse,
        lossSteps,
        uniLosses,
        biLosses,
      };
      results.push(result);
      onProgress?.({ phase: 'evaluated', setting: k, settings: noise.length, q, r, step: steps, steps, result });
    } finally {
      uni?.destroy();
      bi?.destroy();
    }
  }
  return { settings: results, seqLen: T, steps, batch: B, testSequences: N, hiddenSize: H, nonlinearity, seed };
}
