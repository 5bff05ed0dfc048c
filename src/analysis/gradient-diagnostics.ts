/**
 * Gradient diagnostics on the GPU: how strongly a 1-layer unidirectional model's state at step
 * t depends on its state at an earlier step k (the norms of the state-to-state Jacobians
 * ∂h_t/∂h_k, which vanish or explode with t − k), and how large the backpropagated loss
 * gradient ∂L/∂h_k is at every step.
 *
 * Notation, for one sequence x_0 … x_{T−1}: h_k (and the LSTM's c_k) is the state after step
 * k, so output_k = h_k and hN = h_{T−1}; h_{−1} = h0 (c_{−1} = c0) is the initial state. The
 * state after step t is a function of the state after step k < t and of x_{k+1..t}; every
 * derivative here is of that function, the inputs held fixed. For the LSTM the state is the
 * pair (h, c): ∂/∂h_k holds c_k fixed and ∂/∂c_k holds h_k fixed (partial derivatives, as
 * backpropagation through time forms them).
 *
 * Both functions compute only with the model's own GPU passes: one forward to get every
 * state, then {@link RecurrentModel.gradients} on sub-sequences started from those states,
 * reading the gradient with respect to h0 (and c0). Everything is float32 on the GPU; the
 * Frobenius and Euclidean norms are accumulated in float64.
 */
import { ShapeError, WebRnnError } from '../errors.js';
import type { RecurrentModel } from '../model/recurrent-model.js';
import { gateCount } from '../spec/spec.js';

/** Options of {@link jacobianNorms}. */
export interface JacobianNormOptions {
  /** Must be 1: the Jacobians of one sequence. */
  batch: number;
  /** Time steps T. */
  seqLen: number;
  /** Initial hidden state [1, 1, H]; zeros when absent. */
  h0?: Float32Array;
  /** Initial cell state [1, 1, H], LSTM only; zeros when absent. */
  c0?: Float32Array;
  /**
   * Most sequence copies per `gradients` call (see {@link jacobianNorms}). Default: as many
   * as keep the gradient plan's largest buffer, the gate gradients [d + 1, B, G·H] of a
   * d-step call, within 2²² floats (16 MiB); a lag whose H·(T − d + 1) copies do not fit
   * takes several calls.
   */
  maxBatch?: number;
}

/** Result of {@link jacobianNorms}. */
export interface JacobianNorms {
  /** T. */
  seqLen: number;
  /** H. */
  hiddenSize: number;
  /**
   * [T, T] row-major, element t·T + k: ‖∂h_t/∂h_k‖_F (Frobenius norm) for 0 ≤ k < t < T
   * (LSTM: c_k held fixed). NaN where k ≥ t (not computed: ∂h_t/∂h_t = I, norm √H, and
   * h_t does not depend on later states).
   */
  norms: Float64Array;
  /** [T]: element t is ‖∂h_t/∂h0‖_F, the dependence on the initial state h_{−1} = h0. */
  initial: Float64Array;
  /** LSTM only: [T, T] ‖∂h_t/∂c_k‖_F for k < t (h_k held fixed), NaN where k ≥ t. */
  cellNorms?: Float64Array;
  /** LSTM only: [T] ‖∂h_t/∂c0‖_F. */
  cellInitial?: Float64Array;
  /** The `gradients` calls made (T when every lag's copies fit one call). */
  gradientCalls: number;
}

/** Options of {@link lossGradientNorms}. */
export interface LossGradientNormOptions {
  /** Must be 1: one sequence. */
  batch: number;
  /** Time steps T. */
  seqLen: number;
  /** Initial hidden state [1, 1, H]; zeros when absent. */
  h0?: Float32Array;
  /** Initial cell state [1, 1, H], LSTM only; zeros when absent. */
  c0?: Float32Array;
  /** ∂L/∂output, [T, 1, H] (= [1, T, H] when batchFirst: the same array for one sequence). */
  gradOutput: Float32Array;
  /** ∂L/∂hN [1, 1, H]; zeros when absent. */
  gradHN?: Float32Array;
  /** ∂L/∂cN [1, 1, H], LSTM only; zeros when absent. */
  gradCN?: Float32Array;
}

/** Result of {@link lossGradientNorms}. */
export interface LossGradientNorms {
  /** [T]: element k is ‖∂L/∂h_k‖₂ (LSTM: c_k held fixed). */
  norms: Float64Array;
  /** ‖∂L/∂h0‖₂, the initial state h_{−1}. */
  initial: number;
  /** The gradient vectors [T, H]: row k is ∂L/∂h_k. */
  gradients: Float64Array;
  /** LSTM only: [T] ‖∂L/∂c_k‖₂ (h_k held fixed). */
  cellNorms?: Float64Array;
  /** LSTM only: ‖∂L/∂c0‖₂. */
  cellInitial?: number;
}

/** Floats allowed in the gradient plan's largest buffer when choosing the default maxBatch. */
const PLAN_BUDGET_FLOATS = 2 ** 22;

function invalid(message: string): WebRnnError {
  return new WebRnnError('invalid-option', message);
}

/** Refuse what these diagnostics do not cover, naming why. */
function checkModel(what: string, model: RecurrentModel): void {
  const { spec } = model;
  if (spec.numLayers !== 1) {
    throw invalid(`${what}: needs a 1-layer model, this one has ${spec.numLayers} layers (the state of a stacked model is every layer's h, which h0 of one layer does not span)`);
  }
  if (spec.numDirections !== 1) {
    throw invalid(`${what}: needs a unidirectional model (the reverse direction's state at step k depends on later inputs, not on h_k)`);
  }
  if (spec.kind === 'gru' && !spec.linearBeforeReset) {
    throw invalid(`${what}: needs model.gradients, which is not available for a GRU with linearBeforeReset: false`);
  }
  if (spec.peepholes) throw invalid(`${what}: needs model.gradients, which is not available for an LSTM with peepholes`);
  if (spec.projSize) throw invalid(`${what}: needs h to be the whole state beside c, which an LSTM with projections (projSize) does not have`);
  if (!spec.cell.standard) throw invalid(`${what}: needs model.gradients, which is not available for cells with ONNX activations, clip or input_forget`);
}

function checkKeys(what: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw invalid(`${what}: options { batch: 1, seqLen } expected`);
  for (const key of Object.keys(options)) if (!known.includes(key)) throw invalid(`${what}: unknown option '${key}'`);
}

function checkArray(name: string, v: unknown, shape: readonly number[]): asserts v is Float32Array {
  if (!(v instanceof Float32Array)) throw invalid(`${name}: Float32Array of shape [${shape.join(', ')}] expected, got ${Object.prototype.toString.call(v)}`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (v.length !== n) throw new ShapeError(name, shape, [v.length]);
}

/** Check batch, seqLen, x, h0 and c0; returns T. */
function checkSequence(what: string, model: RecurrentModel, x: Float32Array, options: { batch: number; seqLen: number; h0?: Float32Array; c0?: Float32Array }): number {
  const { spec } = model;
  if (options.batch !== 1) {
    throw invalid(`${what}: batch must be 1, got ${String(options.batch)} (the diagnostics are of one sequence; the batch dimension is used for the copies that form the Jacobian rows)`);
  }
  const T = options.seqLen;
  if (!Number.isInteger(T) || T < 1) throw invalid(`${what}: seqLen must be a positive integer, got ${String(T)}`);
  const { inputSize: I, hiddenSize: H } = spec;
  checkArray('x', x, spec.batchFirst ? [1, T, I] : [T, 1, I]);
  if (options.h0 !== undefined) checkArray('h0', options.h0, [1, 1, H]);
  if (options.c0 !== undefined) {
    if (spec.kind !== 'lstm') throw invalid(`${what}: c0 is only for LSTM models, this is ${spec.kind}`);
    checkArray('c0', options.c0, [1, 1, H]);
  }
  return T;
}

/** Index of (step s, row b) in a [n, B, F] tensor, or [B, n, F] when batchFirst. */
function rowIndex(batchFirst: boolean, n: number, B: number, s: number, b: number): number {
  return batchFirst ? b * n + s : s * B + b;
}

/**
 * Every state of the sequence: h [T + 1, H] and, for the LSTM, c [T + 1, H], row k + 1 the
 * state after step k (row 0: h0, c0). One GPU forward: of the sequence itself, or for the
 * LSTM (whose forward returns only the last cell state) of T copies, copy k run for its
 * first k + 1 steps (seqLens), whose final states are h_k and c_k.
 */
async function allStates(model: RecurrentModel, x: Float32Array, T: number, h0?: Float32Array, c0?: Float32Array): Promise<{ h: Float32Array; c?: Float32Array }> {
  const { inputSize: I, hiddenSize: H, batchFirst } = model.spec;
  const h = new Float32Array((T + 1) * H);
  if (h0) h.set(h0);
  if (model.spec.kind !== 'lstm') {
    const r = await model.forward(x, { batch: 1, seqLen: T, h0 });
    h.set(r.output, H); // [T, 1, H] and [1, T, H] are one layout
    return { h };
  }
  const B = T;
  const xs = new Float32Array(T * B * I);
  for (let b = 0; b < B; b++) for (let s = 0; s < T; s++) xs.set(x.subarray(s * I, (s + 1) * I), rowIndex(batchFirst, T, B, s, b) * I);
  const repeat = (v: Float32Array | undefined): Float32Array | undefined => {
    if (!v) return undefined;
    const out = new Float32Array(B * H);
    for (let b = 0; b < B; b++) out.set(v, b * H);
    return out;
  };
  const seqLens = Array.from({ length: B }, (_, b) => b + 1);
  const r = await model.forward(xs, { batch: B, seqLen: T, h0: repeat(h0), c0: repeat(c0), seqLens });
  const c = new Float32Array((T + 1) * H);
  if (c0) c.set(c0);
  h.set(r.hN, H);
  c.set(r.cN!, H);
  return { h, c };
}

/**
 * Frobenius norms of the state-to-state Jacobians ‖∂h_t/∂h_k‖ of one sequence, for every
 * 0 ≤ k < t < T and for the initial state (k = −1), computed on the GPU by the model's own
 * backward sweep; for the LSTM also ‖∂h_t/∂c_k‖. See the module comment for the notation.
 *
 * How: one forward gives every state h_k (and c_k). Then for each lag d = t − k = 1 … T, one
 * {@link RecurrentModel.gradients} call of d steps on a batch of H·(T − d + 1) copies: copy
 * (k, i), k = −1 … T − 1 − d, runs x_{k+1..k+d} from h0 = h_k (c0 = c_k) with gradHN = e_i (the
 * unit vector: gradOutput = e_i at its last output step, t, and zero elsewhere), so its
 * gradient with respect to h0 is row i of ∂h_t/∂h_k (with respect to c0, row i of
 * ∂h_t/∂c_k). The squares of the H rows sum to ‖∂h_t/∂h_k‖²_F. Grouping the copies by lag
 * rather than by starting state gives each copy only the steps it needs.
 *
 * Cost: 1 forward and T `gradients` calls (more when `maxBatch` splits a lag's copies), each
 * a full training forward and reverse sweep with the weight-gradient GEMMs: Σ_d H·(T − d + 1)·d
 * ≈ H·T³/6 batch-row steps in all (the costliest call: about H·T/2 copies of T/2 steps; times
 * in docs/theory.md). The model's cached plans of other shapes are evicted (it keeps 4).
 *
 * @param model a 1-layer unidirectional model whose `gradients` are available
 * @param x the sequence [T, 1, I] ([1, T, I] when batchFirst: the same array)
 * @throws WebRnnError('invalid-option') for a stacked or bidirectional model, batch ≠ 1, or a
 *   model without gradients; ShapeError for x, h0 or c0 of the wrong size
 */
export async function jacobianNorms(model: RecurrentModel, x: Float32Array, options: JacobianNormOptions): Promise<JacobianNorms> {
  const what = 'jacobianNorms';
  checkKeys(what, options, ['batch', 'seqLen', 'h0', 'c0', 'maxBatch']);
  checkModel(what, model);
  const T = checkSequence(what, model, x, options);
  const { spec } = model;
  const { inputSize: I, hiddenSize: H, batchFirst } = spec;
  const lstm = spec.kind === 'lstm';
  const G = gateCount(spec.kind);
  if (options.maxBatch !== undefined && (!Number.isInteger(options.maxBatch) || options.maxBatch < 1)) {
    throw invalid(`${what}: maxBatch must be a positive integer, got ${String(options.maxBatch)}`);
  }

  const { h, c } = await allStates(model, x, T, options.h0, options.c0);
  const norms = new Float64Array(T * T).fill(NaN);
  const initial = new Float64Array(T);
  const cellNorms = lstm ? new Float64Array(T * T).fill(NaN) : undefined;
  const cellInitial = lstm ? new Float64Array(T) : undefined;
  // Squared norms accumulate here: [T, T + 1], column k + 1 for starting state k.
  const sq = new Float64Array(T * (T + 1));
  const sqC = lstm ? new Float64Array(T * (T + 1)) : undefined;
  let calls = 0;

  // One call per lag d = t − k (d = 1 … T): a batch of copies (k, i) for every starting state
  // k = −1 … T − 1 − d and unit i, each running x_{k+1..k+d} from h_k (c_k) with gradHN = e_i.
  for (let d = 1; d <= T; d++) {
    const starts = T - d + 1;
    const copies = starts * H;
    const perCall = options.maxBatch ?? Math.max(1, Math.floor(PLAN_BUDGET_FLOATS / ((d + 1) * G * H)));
    for (let first = 0; first < copies; first += perCall) {
      const B = Math.min(perCall, copies - first);
      const xs = new Float32Array(d * B * I);
      const h0 = new Float32Array(B * H);
      const c0 = c ? new Float32Array(B * H) : undefined;
      const gradHN = new Float32Array(B * H);
      for (let b = 0; b < B; b++) {
        // Copy first + b = (k + 1)·H + i.
        const k = Math.floor((first + b) / H) - 1;
        const i = (first + b) % H;
        for (let s = 0; s < d; s++) xs.set(x.subarray((k + 1 + s) * I, (k + 2 + s) * I), rowIndex(batchFirst, d, B, s, b) * I);
        h0.set(h.subarray((k + 1) * H, (k + 2) * H), b * H);
        c0?.set(c!.subarray((k + 1) * H, (k + 2) * H), b * H);
        gradHN[b * H + i] = 1;
      }
      const g = await model.gradients(xs, { batch: B, seqLen: d, h0, c0, gradOutput: new Float32Array(d * B * H), gradHN });
      calls++;
      for (let b = 0; b < B; b++) {
        const k = Math.floor((first + b) / H) - 1;
        const at = (k + d) * (T + 1) + k + 1;
        let s2 = 0;
        for (let m = 0; m < H; m++) s2 += g.h0[b * H + m] ** 2;
        sq[at] += s2;
        if (sqC) {
          let c2 = 0;
          for (let m = 0; m < H; m++) c2 += g.c0![b * H + m] ** 2;
          sqC[at] += c2;
        }
      }
    }
  }

  for (let t = 0; t < T; t++) {
    initial[t] = Math.sqrt(sq[t * (T + 1)]);
    if (sqC) cellInitial![t] = Math.sqrt(sqC[t * (T + 1)]);
    for (let k = 0; k < t; k++) {
      norms[t * T + k] = Math.sqrt(sq[t * (T + 1) + k + 1]);
      if (sqC) cellNorms![t * T + k] = Math.sqrt(sqC[t * (T + 1) + k + 1]);
    }
  }
  const result: JacobianNorms = { seqLen: T, hiddenSize: H, norms, initial, gradientCalls: calls };
  if (lstm) {
    result.cellNorms = cellNorms;
    result.cellInitial = cellInitial;
  }
  return result;
}

/**
 * The norms ‖∂L/∂h_k‖ of the backpropagated gradient at every state of one sequence, for
 * L = Σ output ⊙ gradOutput + Σ hN ⊙ gradHN + Σ cN ⊙ gradCN (the loss model.gradients
 * differentiates; pass the gradient of your loss with respect to the output, e.g. for MSE on
 * the last step 2(h_{T−1} − y)/H at step T − 1 and zeros elsewhere). ∂L/∂h_k is the
 * derivative of L with respect to the state after step k, everything before k held fixed:
 * the direct term gradOutput_k (output_k = h_k; plus gradHN at k = T − 1) and all that
 * reaches L through the later steps (LSTM: c_k held fixed; ∂L/∂c_k also returned). This is
 * the signal backpropagation through time carries back through step k.
 *
 * How, on the GPU: one forward for the states h_k (and c_k), then one
 * {@link RecurrentModel.gradients} call on T copies of the sequence, copy k + 1 (k = −1 …
 * T − 2) running the T − 1 − k steps x_{k+1..T−1} (seqLens) from h0 = h_k, c0 = c_k with
 * gradOutput_{k+1..T−1}, gradHN and gradCN: its gradient with respect to h0 is the part of
 * ∂L/∂h_k that goes through later steps. The direct terms are added in float64. Cost: one
 * forward and one gradients call of batch T and T steps.
 *
 * @param model a 1-layer unidirectional model whose `gradients` are available
 * @param x the sequence [T, 1, I] ([1, T, I] when batchFirst: the same array)
 * @throws as {@link jacobianNorms}, and ShapeError for gradOutput, gradHN or gradCN
 */
export async function lossGradientNorms(model: RecurrentModel, x: Float32Array, options: LossGradientNormOptions): Promise<LossGradientNorms> {
  const what = 'lossGradientNorms';
  checkKeys(what, options, ['batch', 'seqLen', 'h0', 'c0', 'gradOutput', 'gradHN', 'gradCN']);
  checkModel(what, model);
  const T = checkSequence(what, model, x, options);
  const { spec } = model;
  const { inputSize: I, hiddenSize: H, batchFirst } = spec;
  const lstm = spec.kind === 'lstm';
  checkArray('gradOutput', options.gradOutput, batchFirst ? [1, T, H] : [T, 1, H]);
  if (options.gradHN !== undefined) checkArray('gradHN', options.gradHN, [1, 1, H]);
  if (options.gradCN !== undefined) {
    if (!lstm) throw invalid(`${what}: gradCN is only for LSTM models, this is ${spec.kind}`);
    checkArray('gradCN', options.gradCN, [1, 1, H]);
  }
  const gOut = options.gradOutput;
  const gradHN = options.gradHN;
  const gradCN = options.gradCN;

  const { h, c } = await allStates(model, x, T, options.h0, options.c0);
  // Through later steps: [T + 1, H], row k + 1 for state k (the last row, k = T − 1, stays 0).
  const later = new Float64Array((T + 1) * H);
  const laterC = lstm ? new Float64Array((T + 1) * H) : undefined;
  const B = T; // copies for k = −1 … T − 2
  const xs = new Float32Array(T * B * I);
  const go = new Float32Array(T * B * H);
  const h0 = new Float32Array(B * H);
  const c0 = lstm ? new Float32Array(B * H) : undefined;
  const seqLens: number[] = [];
  for (let b = 0; b < B; b++) {
    const k = b - 1;
    const n = T - 1 - k;
    seqLens.push(n);
    for (let s = 0; s < n; s++) {
      xs.set(x.subarray((k + 1 + s) * I, (k + 2 + s) * I), rowIndex(batchFirst, T, B, s, b) * I);
      go.set(gOut.subarray((k + 1 + s) * H, (k + 2 + s) * H), rowIndex(batchFirst, T, B, s, b) * H);
    }
    h0.set(h.subarray(b * H, (b + 1) * H), b * H);
    c0?.set(c!.subarray(b * H, (b + 1) * H), b * H);
  }
  const repeat = (v: Float32Array | undefined): Float32Array | undefined => {
    if (!v) return undefined;
    const out = new Float32Array(B * H);
    for (let b = 0; b < B; b++) out.set(v, b * H);
    return out;
  };
  const g = await model.gradients(xs, { batch: B, seqLen: T, seqLens, h0, c0, gradOutput: go, gradHN: repeat(gradHN), gradCN: repeat(gradCN) });
  later.set(g.h0.subarray(0, B * H));
  laterC?.set(g.c0!.subarray(0, B * H));

  const gradients = new Float64Array(T * H);
  const norms = new Float64Array(T);
  const cellNorms = lstm ? new Float64Array(T) : undefined;
  for (let k = 0; k < T; k++) {
    let s2 = 0;
    let c2 = 0;
    for (let m = 0; m < H; m++) {
      let v = gOut[k * H + m] + later[(k + 1) * H + m];
      if (k === T - 1 && gradHN) v += gradHN[m];
      gradients[k * H + m] = v;
      s2 += v * v;
      if (laterC) {
        const w = k === T - 1 ? (gradCN?.[m] ?? 0) : laterC[(k + 1) * H + m];
        c2 += w * w;
      }
    }
    norms[k] = Math.sqrt(s2);
    if (cellNorms) cellNorms[k] = Math.sqrt(c2);
  }
  let s0 = 0;
  let c0s = 0;
  for (let m = 0; m < H; m++) {
    s0 += later[m] ** 2;
    if (laterC) c0s += laterC[m] ** 2;
  }
  const result: LossGradientNorms = { norms, initial: Math.sqrt(s0), gradients };
  if (cellNorms) {
    result.cellNorms = cellNorms;
    result.cellInitial = Math.sqrt(c0s);
  }
  return result;
}
