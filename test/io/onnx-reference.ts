/**
 * An independent float64 oracle of ONNX's RNN, LSTM and GRU operators, written from the
 * operator specification with ONNX's own gate orders (LSTM i, o, f, c; GRU z, r, h) and
 * layouts, and without anything of webrnn's importer, so that it checks the importer's gate
 * reordering, directions, layouts and masking.
 */
export interface OnnxCase {
  op: 'RNN' | 'LSTM' | 'GRU';
  hidden: number;
  direction: 'forward' | 'reverse' | 'bidirectional';
  layout: 0 | 1;
  linearBeforeReset?: number;
  activation?: 'Tanh' | 'Relu';
  X: Float32Array; // [T, B, I] or [B, T, I]
  W: Float32Array; // [D, G·H, I]
  R: Float32Array; // [D, G·H, H]
  B: Float32Array; // [D, 2·G·H]
  P?: Float32Array; // [D, 3H], i, o, f
  seqLens: number[];
  /** f, g(, h) with alpha/beta of the forward direction (and of the reverse one unless reverseFunctions); ONNX's defaults when absent. */
  functions?: Array<{ name: string; alpha: number; beta: number }>;
  /** The reverse direction's f, g(, h) of a bidirectional node. */
  reverseFunctions?: Array<{ name: string; alpha: number; beta: number }>;
  clip?: number;
  inputForget?: boolean;
  h0: Float32Array; // [D, B, H] or [B, D, H]
  c0?: Float32Array;
  T: number;
  batch: number;
  input: number;
}

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

/** ONNX's activation functions, from the operator specification. */
function onnxFunction(name: string, a: number, b: number): (x: number) => number {
  switch (name) {
    case 'Sigmoid':
      return sig;
    case 'Tanh':
      return Math.tanh;
    case 'Relu':
      return (x) => Math.max(0, x);
    case 'HardSigmoid':
      return (x) => Math.max(0, Math.min(1, a * x + b));
    case 'Affine':
      return (x) => a * x + b;
    case 'LeakyRelu':
      return (x) => (x < 0 ? a * x : x);
    case 'ThresholdedRelu':
      return (x) => (x > a ? x : 0);
    case 'ScaledTanh':
      return (x) => a * Math.tanh(b * x);
    case 'Elu':
      return (x) => (x < 0 ? a * (Math.exp(x) - 1) : x);
    case 'Softsign':
      return (x) => x / (1 + Math.abs(x));
    case 'Softplus':
      return (x) => Math.log(1 + Math.exp(x));
    default:
      throw new Error(`no activation ${name}`);
  }
}

export function onnxReference(c: OnnxCase): { Y: Float64Array; Y_h: Float64Array; Y_c?: Float64Array } {
  const { hidden: H, T, batch: Bn, input: I } = c;
  const D = c.direction === 'bidirectional' ? 2 : 1;
  const G = c.op === 'LSTM' ? 4 : c.op === 'GRU' ? 3 : 1;
  const x = (t: number, b: number, i: number): number => (c.layout === 0 ? c.X[(t * Bn + b) * I + i] : c.X[(b * T + t) * I + i]);
  const st = (a: ArrayLike<number>, d: number, b: number, j: number): number => (c.layout === 0 ? a[(d * Bn + b) * H + j] : a[(b * D + d) * H + j]);
  const Y = new Float64Array(T * D * Bn * H);
  const Yh = new Float64Array(D * Bn * H);
  const Yc = new Float64Array(D * Bn * H);
  const yAt = (t: number, d: number, b: number, j: number): number => (c.layout === 0 ? ((t * D + d) * Bn + b) * H + j : ((b * T + t) * D + d) * H + j);
  const sAt = (d: number, b: number, j: number): number => (c.layout === 0 ? (d * Bn + b) * H + j : (b * D + d) * H + j);
  const defaults = c.op === 'LSTM' ? ['Sigmoid', 'Tanh', 'Tanh'] : c.op === 'GRU' ? ['Sigmoid', 'Tanh'] : ['Tanh'];
  const clip = (x: number): number => (c.clip ? Math.max(-c.clip, Math.min(c.clip, x)) : x);
  for (let d = 0; d < D; d++) {
    const list = d === 1 && c.reverseFunctions ? c.reverseFunctions : c.functions;
    const fns = (list ?? defaults.map((name) => ({ name, alpha: 0, beta: 0 }))).map((fn) => onnxFunction(fn.name, fn.alpha, fn.beta));
    const f = (x: number): number => fns[0](clip(x));
    const g = (x: number): number => fns[1](clip(x));
    const hf = (x: number): number => fns[2](x);
    const reverse = c.direction === 'reverse' || d === 1;
    // Row g·H + j of W / R for gate block g (in ONNX's order), and the two biases.
    const w = (g: number, j: number, i: number): number => c.W[((d * G + g) * H + j) * I + i];
    const r = (g: number, j: number, k: number): number => c.R[((d * G + g) * H + j) * H + k];
    const wb = (g: number, j: number): number => c.B[d * 2 * G * H + g * H + j];
    const rb = (g: number, j: number): number => c.B[d * 2 * G * H + G * H + g * H + j];
    for (let b = 0; b < Bn; b++) {
      const L = c.seqLens[b];
      let h = Float64Array.from({ length: H }, (_, j) => st(c.h0, d, b, j));
      let cs = Float64Array.from({ length: H }, (_, j) => (c.c0 ? st(c.c0, d, b, j) : 0));
      for (let s = 0; s < L; s++) {
        const t = reverse ? L - 1 - s : s;
        const xw = (g: number, j: number): number => {
          let a = wb(g, j);
          for (let i = 0; i < I; i++) a += x(t, b, i) * w(g, j, i);
          return a;
        };
        const hr = (g: number, j: number, hv: ArrayLike<number> = h): number => {
          let a = 0;
          for (let k = 0; k < H; k++) a += hv[k] * r(g, j, k);
          return a;
        };
        const hNew = new Float64Array(H);
        const cNew = new Float64Array(H);
        if (c.op === 'LSTM') {
          for (let j = 0; j < H; j++) {
            const P = (q: number): number => (c.P ? c.P[d * 3 * H + q * H + j] : 0);
            const it = f(xw(0, j) + hr(0, j) + rb(0, j) + P(0) * cs[j]);
            const ft = c.inputForget ? 1 - it : f(xw(2, j) + hr(2, j) + rb(2, j) + P(2) * cs[j]);
            const ct = g(xw(3, j) + hr(3, j) + rb(3, j));
            cNew[j] = ft * cs[j] + it * ct;
            const ot = f(xw(1, j) + hr(1, j) + rb(1, j) + P(1) * cNew[j]);
            hNew[j] = ot * hf(cNew[j]);
          }
        } else if (c.op === 'GRU') {
          const z = Float64Array.from({ length: H }, (_, j) => f(xw(0, j) + hr(0, j) + rb(0, j)));
          const rr = Float64Array.from({ length: H }, (_, j) => f(xw(1, j) + hr(1, j) + rb(1, j)));
          const rh = Float64Array.from({ length: H }, (_, k) => rr[k] * h[k]);
          for (let j = 0; j < H; j++) {
            const n = c.linearBeforeReset ? g(xw(2, j) + rr[j] * (hr(2, j) + rb(2, j))) : g(xw(2, j) + hr(2, j, rh) + rb(2, j));
            hNew[j] = (1 - z[j]) * n + z[j] * h[j];
          }
        } else {
          for (let j = 0; j < H; j++) {
            const a = xw(0, j) + hr(0, j) + rb(0, j);
            hNew[j] = c.functions ? f(a) : c.activation === 'Relu' ? Math.max(0, a) : Math.tanh(clip(a));
          }
        }
        h = hNew;
        if (c.op === 'LSTM') cs = cNew;
        for (let j = 0; j < H; j++) Y[yAt(t, d, b, j)] = h[j];
      }
      for (let j = 0; j < H; j++) {
        Yh[sAt(d, b, j)] = h[j];
        Yc[sAt(d, b, j)] = cs[j];
      }
    }
  }
  return c.op === 'LSTM' ? { Y, Y_h: Yh, Y_c: Yc } : { Y, Y_h: Yh };
}
