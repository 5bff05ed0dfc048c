/**
 * Initialisers: PyTorch's default, Xavier/Glorot uniform, orthogonal W_hh and a forget-gate
 * bias for the LSTM. All drawn in float64 from a seed and rounded to float32 once.
 */
import { WebRnnError } from '../errors.js';
import { defaultParameters, type StateDict } from '../spec/parameters.js';
import { createRandom, type Random } from '../spec/random.js';
import { describeLayers, gateCount, parameterInfo, type ModelSpec } from '../spec/spec.js';

/** Options of `model.initialize`. */
export interface InitOptions {
  /** Seed of every draw (default: the model's seed). */
  seed?: number;
  /** weight_ih: PyTorch's U(−1/√H, 1/√H) ('default') or Xavier/Glorot uniform. */
  weightIh?: 'default' | 'xavier';
  /**
   * weight_hh: 'default', 'xavier', or 'orthogonal': each gate's H×H block an orthogonal
   * matrix (QR of a Gaussian matrix), so that the linear part of the recurrence preserves norms.
   */
  weightHh?: 'default' | 'xavier' | 'orthogonal';
  /** LSTM only: the forget gate's total bias (bias_ih's f block; bias_hh's f block is 0). */
  forgetBias?: number;
}

/** Xavier/Glorot uniform: U(±√(6 / (fanIn + fanOut))) over a [rows, cols] weight. */
function xavier(rng: Random, rows: number, cols: number): Float32Array {
  const bound = Math.sqrt(6 / (rows + cols));
  return Float32Array.from({ length: rows * cols }, () => rng.range(-bound, bound));
}

/**
 * An n×n orthogonal matrix: modified Gram–Schmidt, run twice for full float64 accuracy, on
 * the columns of a standard Gaussian matrix (whose Q is Haar-distributed).
 */
export function orthogonalMatrix(rng: Random, n: number): Float64Array {
  const a = Float64Array.from({ length: n * n }, () => rng.normal());
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += a[i * n + k] * a[i * n + j];
        for (let i = 0; i < n; i++) a[i * n + j] -= dot * a[i * n + k];
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += a[i * n + j] ** 2;
      norm = Math.sqrt(norm);
      for (let i = 0; i < n; i++) a[i * n + j] /= norm;
    }
  }
  return a;
}

/** A full state dict for `spec` following `options`. */
export function initialParameters(spec: ModelSpec, options: InitOptions = {}): StateDict {
  const known = ['seed', 'weightIh', 'weightHh', 'forgetBias'];
  for (const k of Object.keys(options)) if (!known.includes(k)) throw new WebRnnError('invalid-option', `initialize: unknown option '${k}'`);
  const seed = options.seed ?? spec.seed;
  if (!Number.isInteger(seed)) throw new WebRnnError('invalid-option', `initialize: seed must be an integer, got ${String(seed)}`);
  const weightIh = options.weightIh ?? 'default';
  const weightHh = options.weightHh ?? 'default';
  if (!['default', 'xavier'].includes(weightIh)) throw new WebRnnError('invalid-option', `initialize: weightIh must be 'default' or 'xavier', got '${String(weightIh)}'`);
  if (!['default', 'xavier', 'orthogonal'].includes(weightHh)) {
    throw new WebRnnError('invalid-option', `initialize: weightHh must be 'default', 'xavier' or 'orthogonal', got '${String(weightHh)}'`);
  }
  if (options.forgetBias !== undefined) {
    if (!spec.layers.some((l) => l.kind === 'lstm')) throw new WebRnnError('invalid-option', `initialize: forgetBias is for LSTM models (or stacks with LSTM layers), this is ${describeLayers(spec)}`);
    if (!spec.bias) throw new WebRnnError('invalid-option', 'initialize: forgetBias needs a model with bias');
    if (!Number.isFinite(options.forgetBias)) throw new WebRnnError('invalid-option', `initialize: forgetBias must be finite, got ${options.forgetBias}`);
  }
  const dict = defaultParameters(spec, seed);
  // A separate stream, so that choosing one initialiser leaves the others' draws unchanged.
  const rng = createRandom(seed ^ 0x5bd1e995);
  for (const p of parameterInfo(spec)) {
    const [rows, cols] = p.shape;
    // The layer's own cell and width (a stack's layers differ).
    const { kind, hiddenSize: H } = spec.layers[p.layer] ?? spec;
    const G = gateCount(kind);
    if (p.role === 'weight_ih' && weightIh === 'xavier') dict[p.name] = xavier(rng, rows, cols);
    if (p.role === 'weight_hh' && weightHh === 'xavier') dict[p.name] = xavier(rng, rows, cols);
    if (p.role === 'weight_hh' && weightHh === 'orthogonal') {
      const w = new Float32Array(G * H * H);
      for (let g = 0; g < G; g++) w.set(orthogonalMatrix(rng, H), g * H * H);
      dict[p.name] = w;
    }
    if (options.forgetBias !== undefined && kind === 'lstm' && (p.role === 'bias_ih' || p.role === 'bias_hh')) {
      dict[p.name].fill(p.role === 'bias_ih' ? options.forgetBias : 0, H, 2 * H);
    }
  }
  return dict;
}
