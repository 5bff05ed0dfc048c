/**
 * Cell functions: ONNX's activations for the recurrent operators (f for the gates, g for the
 * candidate, h for the LSTM's output), with their alpha and beta, plus clip and input_forget.
 * PyTorch's cells are the defaults: f = Sigmoid, g = h = Tanh (the Elman RNN's f is its
 * nonlinearity). The codes are the kernels' override constants.
 */
import { WebRnnError } from '../errors.js';

export type CellFunctionName =
  | 'Sigmoid'
  | 'Tanh'
  | 'Relu'
  | 'HardSigmoid'
  | 'Affine'
  | 'LeakyRelu'
  | 'ThresholdedRelu'
  | 'ScaledTanh'
  | 'Elu'
  | 'Softsign'
  | 'Softplus';

/** A cell function with ONNX's alpha and beta (defaults as in the ONNX operator specification). */
export interface CellFunction {
  name: CellFunctionName;
  alpha?: number;
  beta?: number;
}

/** Resolved: code (the kernels' ACT_* value), alpha, beta. */
export interface ResolvedCellFunction {
  name: CellFunctionName;
  code: number;
  alpha: number;
  beta: number;
}

const TABLE: Record<CellFunctionName, { code: number; alpha: number; beta: number }> = {
  Sigmoid: { code: 0, alpha: 0, beta: 0 },
  Tanh: { code: 1, alpha: 0, beta: 0 },
  Relu: { code: 2, alpha: 0, beta: 0 },
  HardSigmoid: { code: 3, alpha: 0.2, beta: 0.5 },
  Affine: { code: 4, alpha: 1, beta: 0 },
  LeakyRelu: { code: 5, alpha: 0.01, beta: 0 },
  ThresholdedRelu: { code: 6, alpha: 1, beta: 0 },
  ScaledTanh: { code: 7, alpha: 1, beta: 1 },
  Elu: { code: 8, alpha: 1, beta: 0 },
  Softsign: { code: 9, alpha: 0, beta: 0 },
  Softplus: { code: 10, alpha: 0, beta: 0 },
};

/** Resolve a function by its ONNX name (case-insensitive), filling in ONNX's default alpha and beta. */
export function resolveCellFunction(f: CellFunction, what: string): ResolvedCellFunction {
  if (f !== null && typeof f === 'object') {
    for (const k of Object.keys(f)) if (!['name', 'alpha', 'beta'].includes(k)) throw new WebRnnError('invalid-option', `${what}: unknown option '${k}' (known: name, alpha, beta)`);
  }
  const name = (Object.keys(TABLE) as CellFunctionName[]).find((n) => n.toLowerCase() === String(f?.name).toLowerCase());
  if (!name) throw new WebRnnError('invalid-option', `${what}: activation '${String(f?.name)}' is not one of ${Object.keys(TABLE).join(', ')}`);
  const t = TABLE[name];
  const alpha = f.alpha ?? t.alpha;
  const beta = f.beta ?? t.beta;
  if (!Number.isFinite(alpha) || !Number.isFinite(beta)) throw new WebRnnError('invalid-option', `${what}: alpha and beta must be finite`);
  return { name, code: t.code, alpha, beta };
}

/** float64 value of a cell function. */
export function applyCellFunction(f: ResolvedCellFunction, x: number): number {
  const { alpha: a, beta: b } = f;
  switch (f.name) {
    case 'Sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'Tanh':
      return Math.tanh(x);
    case 'Relu':
      return Math.max(0, x);
    case 'HardSigmoid':
      return Math.min(1, Math.max(0, a * x + b));
    case 'Affine':
      return a * x + b;
    case 'LeakyRelu':
      return x >= 0 ? x : a * x;
    case 'ThresholdedRelu':
      return x > a ? x : 0;
    case 'ScaledTanh':
      return a * Math.tanh(b * x);
    case 'Elu':
      return x >= 0 ? x : a * (Math.exp(x) - 1);
    case 'Softsign':
      return x / (1 + Math.abs(x));
    case 'Softplus':
      return Math.log(1 + Math.exp(x));
  }
}

/** The functions, clip and input_forget of a cell; PyTorch's cells use the defaults. */
export interface CellOptions {
  /** Gates (LSTM i, f, o; GRU r, z; the Elman RNN's only function). Default Sigmoid (Elman: its nonlinearity). */
  f?: CellFunction;
  /** Candidate (LSTM g, GRU n). Default Tanh. */
  g?: CellFunction;
  /** LSTM output h = o ⊙ h(c). Default Tanh. */
  h?: CellFunction;
  /** > 0: clamp every gate's activation input to [−clip, clip] (ONNX's clip). */
  clip?: number;
  /** LSTM: couple the gates, f = 1 − i (ONNX's input_forget). */
  inputForget?: boolean;
  /**
   * Bidirectional models: other f, g, h for the reverse direction (ONNX lists functions per
   * direction). Each one left out is the forward direction's.
   */
  reverse?: { f?: CellFunction; g?: CellFunction; h?: CellFunction };
}

export interface ResolvedCellFunctions {
  f: ResolvedCellFunction;
  g: ResolvedCellFunction;
  h: ResolvedCellFunction;
}

export interface ResolvedCellOptions extends ResolvedCellFunctions {
  clip: number;
  inputForget: boolean;
  /** The reverse direction's functions (the same as f, g, h unless `reverse` was given). */
  reverse: ResolvedCellFunctions;
  /** True when both directions use the same functions. */
  sameDirections: boolean;
  /** True when everything is PyTorch's default (training is available). */
  standard: boolean;
}

/** The functions direction `d` uses (0 forward, 1 reverse). */
export function directionFunctions(cell: ResolvedCellOptions, d: number): ResolvedCellFunctions {
  return d === 1 ? cell.reverse : cell;
}

/** Resolve cell options for a cell kind; `fDefault` is the f the cell uses without options. */
export function resolveCellOptions(kind: 'rnn' | 'lstm' | 'gru', o: CellOptions | undefined, fDefault: CellFunction): ResolvedCellOptions {
  const what = `${kind}: cell`;
  if (o !== undefined && (o === null || typeof o !== 'object')) throw new WebRnnError('invalid-option', `${what} options must be an object`);
  for (const k of Object.keys(o ?? {})) {
    if (!['f', 'g', 'h', 'clip', 'inputForget', 'reverse'].includes(k)) throw new WebRnnError('invalid-option', `${what}: unknown option '${k}'`);
  }
  const r = o?.reverse;
  if (r !== undefined && (r === null || typeof r !== 'object')) throw new WebRnnError('invalid-option', `${what}: reverse must be an object { f, g, h }`);
  for (const k of Object.keys(r ?? {})) if (!['f', 'g', 'h'].includes(k)) throw new WebRnnError('invalid-option', `${what}: unknown option 'reverse.${k}'`);
  if (kind === 'rnn' && (o?.g || o?.h || r?.g || r?.h)) throw new WebRnnError('invalid-option', `${what}: the Elman RNN has only f`);
  if (kind === 'gru' && (o?.h || r?.h)) throw new WebRnnError('invalid-option', `${what}: the GRU has no h`);
  if (kind !== 'lstm' && o?.inputForget) throw new WebRnnError('invalid-option', `${what}: inputForget is for the LSTM`);
  const clip = o?.clip ?? 0;
  if (!Number.isFinite(clip) || clip < 0) throw new WebRnnError('invalid-option', `${what}: clip must be a finite number ≥ 0, got ${clip}`);
  const f = resolveCellFunction(o?.f ?? fDefault, `${what} f`);
  const g = resolveCellFunction(o?.g ?? { name: 'Tanh' }, `${what} g`);
  const h = resolveCellFunction(o?.h ?? { name: 'Tanh' }, `${what} h`);
  const reverse = {
    f: r?.f ? resolveCellFunction(r.f, `${what} reverse.f`) : f,
    g: r?.g ? resolveCellFunction(r.g, `${what} reverse.g`) : g,
    h: r?.h ? resolveCellFunction(r.h, `${what} reverse.h`) : h,
  };
  const same = (a: ResolvedCellFunction, b: ResolvedCellFunction): boolean => a.name === b.name && a.alpha === b.alpha && a.beta === b.beta;
  const sameDirections = same(f, reverse.f) && same(g, reverse.g) && same(h, reverse.h);
  const standard = !o?.f && !o?.g && !o?.h && sameDirections && clip === 0 && !o?.inputForget;
  return { f, g, h, clip, inputForget: o?.inputForget ?? false, reverse, sameDirections, standard };
}
