/**
 * float64 reference of a whole model's gradients: backpropagation through time of
 *   L = Σ output ⊙ gradOutput + Σ hN ⊙ gradHN + Σ cN ⊙ gradCN
 * with respect to every parameter (PyTorch names and layouts), the input, h0 and c0. It
 * replays the forward reference layer by layer, keeping what each step's backward needs, then
 * sweeps every layer and direction in reverse with the cell backward references.
 */
import { WebRnnError } from '../errors.js';
import { EMBEDDING_WEIGHT, gateCount, hasCellState, layerInputSize, layerSpec, outputWidth, parameterInfo, parameterName, stateOffset, stateSize, stateWidth, type ModelSpec } from '../spec/spec.js';
import { gruCellBackwardReference } from './gru-cell-backward.js';
import { gruCellForwardReference } from './gru-cell-forward.js';
import { lstmCellBackwardReference } from './lstm-cell-backward.js';
import { lstmCellForwardReference } from './lstm-cell-forward.js';
import { droppedOutput, embedded, linearReference, type ReferenceForwardOptions } from './recurrent-forward.js';
import { embeddingBackwardReference } from './embedding-backward.js';
import { gradThroughWhh, rnnCellBackwardReference } from './rnn-cell-backward.js';
import { rnnCellForwardReference } from './rnn-cell-forward.js';
import { swapBatchTime } from '../arrays.js';

export interface ReferenceGradientOptions extends ReferenceForwardOptions {
  /** Gradient of the output, in the output's layout. */
  gradOutput: ArrayLike<number>;
  /** Gradient of hN [L·D, B, H] (hN's layout); zeros when absent. */
  gradHN?: ArrayLike<number>;
  /** Gradient of cN [L·D, B, H] (cN's layout, LSTM layers); zeros when absent. */
  gradCN?: ArrayLike<number>;
}

export interface ReferenceGradients {
  /** Gradient of every parameter of the recurrent layers, by PyTorch name. */
  params: Record<string, Float64Array>;
  /** Gradient of the input x, in x's layout. */
  input: Float64Array;
  /** Gradient of h0 [L·D, B, H]. */
  h0: Float64Array;
  /** Gradient of c0 [L·D, B, H] (LSTM). */
  c0?: Float64Array;
}

/**
 * Row b of each [B, H_l] block of a state tensor (hN's layout; with `cells`, cN's): an array of
 * one row's states, or with `into` the inverse, row b of `into` set from `row`.
 */
function stateRow(spec: ModelSpec, B: number, cells: boolean, a: ArrayLike<number>, b: number, into?: Float64Array): Float64Array {
  // With `into`, `a` is the row and `into` the tensor.
  const row = into ? Float64Array.from(a) : new Float64Array(stateSize(spec, 1, cells));
  let at = 0;
  for (let l = 0; l < spec.numLayers; l++) {
    const { kind, numDirections: D } = spec.layers[l];
    if (cells && kind !== 'lstm') continue;
    const H = cells ? spec.layers[l].hiddenSize : stateWidth(spec.layers[l]);
    for (let d = 0; d < D; d++) {
      const from = stateOffset(spec, l, B, cells) + (d * B + b) * H;
      for (let j = 0; j < H; j++) {
        if (into) into[from + j] = row[at + j];
        else row[at + j] = a[from + j];
      }
      at += H;
    }
  }
  return row;
}

interface StepRecord {
  x: Float64Array; // [B, I] the layer's input at t
  hPrev: Float64Array; // [B, R]
  h: Float64Array; // [B, R]
  r?: Float64Array; // [B, H] a projecting layer's o ⊙ tanh(c), which h = W_hr·r
  saved?: Float64Array[]; // cell activations, slot by slot
}

/**
 * With `seqLens`, each sequence is a separate problem: the gradients are the sum, over the
 * sequences, of the gradients of that sequence alone, cut to its length (the outputs past its
 * end are constants and pass nothing back); input, h0 and c0 gradients are per sequence.
 */
function perSequenceGradients(
  spec: ModelSpec,
  params: Readonly<Record<string, ArrayLike<number>>>,
  x: ArrayLike<number>,
  opts: ReferenceGradientOptions,
  seqLens: ArrayLike<number>,
): ReferenceGradients {
  const { batch: B, seqLen: T } = opts;
  const I = spec.inputSize;
  const DH = outputWidth(spec);
  const at = (t: number, b: number, F: number): number => (spec.batchFirst ? (b * T + t) * F : (t * B + b) * F);
  const state = (a: ArrayLike<number> | undefined, b: number, cells = false): Float64Array | undefined => a && stateRow(spec, B, cells, a, b);
  const out: ReferenceGradients = { params: {}, input: new Float64Array(T * B * I), h0: new Float64Array(stateSize(spec, B)) };
  if (hasCellState(spec)) out.c0 = new Float64Array(stateSize(spec, B, true));
  for (let b = 0; b < B; b++) {
    const Lb = seqLens[b];
    const xb = new Float64Array(Lb * I);
    const gb = new Float64Array(Lb * DH);
    for (let t = 0; t < Lb; t++) {
      xb.set(Array.from({ length: I }, (_, i) => x[at(t, b, I) + i]), t * I);
      gb.set(Array.from({ length: DH }, (_, i) => opts.gradOutput[at(t, b, DH) + i]), t * DH);
    }
    // Sequence b's rows of each dropout mask, [Lb, 1, D_l·H_l].
    const masks = opts.dropoutMasks?.map((m) => {
      const w = m.length / (T * B);
      return Float64Array.from({ length: Lb * w }, (_, i) => m[(Math.floor(i / w) * B + b) * w + (i % w)]);
    });
    const r = recurrentBackwardReference(spec, params, xb, {
      batch: 1,
      seqLen: Lb,
      dropoutMasks: masks,
      h0: state(opts.h0, b),
      c0: state(opts.c0, b, true),
      gradOutput: gb,
      gradHN: state(opts.gradHN, b),
      gradCN: state(opts.gradCN, b, true),
    });
    for (const [name, g] of Object.entries(r.params)) {
      const sum = (out.params[name] ??= new Float64Array(g.length));
      for (let i = 0; i < g.length; i++) sum[i] += g[i];
    }
    for (let t = 0; t < Lb; t++) for (let i = 0; i < I; i++) out.input[at(t, b, I) + i] = r.input[t * I + i];
    stateRow(spec, B, false, r.h0, b, out.h0);
    if (out.c0) stateRow(spec, B, true, r.c0!, b, out.c0);
  }
  return out;
}

export function recurrentBackwardReference(
  model: ModelSpec,
  params: Readonly<Record<string, ArrayLike<number>>>,
  ids: ArrayLike<number>,
  opts: ReferenceGradientOptions,
): ReferenceGradients {
  const { spec, x } = embedded(model, params, ids);
  if (model.embedding) {
    // The embedding's gradient: the input's (the vectors read, caller layout) summed per id.
    const r = recurrentBackwardReference(spec, params, x, opts);
    r.params[EMBEDDING_WEIGHT] = embeddingBackwardReference(r.input, ids, model.embedding.numEmbeddings, model.inputSize, model.embedding.paddingIdx);
    return r;
  }
  if (opts.seqLens) return perSequenceGradients(spec, params, x, opts, opts.seqLens);
  if (spec.layers.some((l) => l.kind === 'gru' && !l.linearBeforeReset)) {
    throw new WebRnnError('invalid-option', 'gradients are not available for a GRU with linearBeforeReset: false');
  }
  const { batch: B, seqLen: T } = opts;
  const L = spec.numLayers;
  const slice = (a: ArrayLike<number> | undefined, start: number, n: number): Float64Array =>
    a ? Float64Array.from({ length: n }, (_, i) => a[start + i]) : new Float64Array(n);

  // Forward, keeping every step.
  const inputs: Float64Array[] = []; // layer inputs [T, B, I_l]
  const records: StepRecord[][][] = []; // [l][d][t]
  let input: Float64Array = spec.batchFirst ? swapBatchTime(x, B, T, spec.inputSize, false, new Float64Array(x.length)) : Float64Array.from(x);
  for (let l = 0; l < L; l++) {
    inputs.push(input);
    const layer = layerSpec(spec, l);
    const { hiddenSize: H, numDirections: D, kind, nonlinearity } = layer;
    const R = stateWidth(layer);
    const GH = gateCount(kind) * H;
    const I = layerInputSize(spec, l);
    const out = new Float64Array(T * B * D * R);
    records.push([]);
    for (let d = 0; d < D; d++) {
      const wih = params[parameterName('weight_ih', l, d)];
      const whh = params[parameterName('weight_hh', l, d)];
      const bih = spec.bias ? params[parameterName('bias_ih', l, d)] : null;
      const bhh = spec.bias ? params[parameterName('bias_hh', l, d)] : null;
      const whr = layer.projSize ? params[parameterName('weight_hr', l, d)] : null;
      let h = slice(opts.h0, stateOffset(spec, l, B) + d * B * R, B * R);
      let c = slice(kind === 'lstm' ? opts.c0 : undefined, stateOffset(spec, l, B, true) + d * B * H, B * H);
      const rec: StepRecord[] = new Array(T);
      for (let step = 0; step < T; step++) {
        const t = d === 0 ? step : T - 1 - step;
        const xt = input.slice(t * B * I, (t + 1) * B * I);
        const xproj = new Float64Array(B * GH);
        for (let b = 0; b < B; b++) {
          for (let r = 0; r < GH; r++) {
            let acc = bih ? bih[r] : 0;
            for (let k = 0; k < I; k++) acc += xt[b * I + k] * wih[r * I + k];
            xproj[b * GH + r] = acc;
          }
        }
        const cell = { batch: B, hidden: H, recurrent: R, xproj, hPrev: h, whh, bhh };
        let saved: Float64Array[] | undefined;
        let hNew: Float64Array;
        let projected: Float64Array | undefined;
        if (kind === 'lstm') {
          const r = lstmCellForwardReference({ ...cell, cPrev: c });
          projected = whr ? r.h : undefined;
          hNew = whr ? linearReference(r.h, B, H, whr, new Float64Array(R)) : r.h;
          c = r.c;
          saved = r.saved;
        } else if (kind === 'gru') {
          const r = gruCellForwardReference({ ...cell, linearBeforeReset: true });
          hNew = r.h;
          saved = r.saved;
        } else {
          hNew = rnnCellForwardReference({ ...cell, nonlinearity }).h;
        }
        rec[t] = { x: xt, hPrev: h, h: hNew, saved, r: projected };
        h = hNew;
        for (let b = 0; b < B; b++) for (let j = 0; j < R; j++) out[(t * B + b) * D * R + d * R + j] = h[b * R + j];
      }
      records[l].push(rec);
    }
    input = l < L - 1 ? droppedOutput(out, opts.dropoutMasks, l) : out;
  }

  // Backward, from the top layer down.
  const grads: Record<string, Float64Array> = {};
  // The recurrent layers' parameters (a read-out is not part of this gradient).
  for (const p of parameterInfo(spec)) {
    if (p.role !== 'readout_weight' && p.role !== 'readout_bias' && p.role !== 'embedding') grads[p.name] = new Float64Array(p.shape.reduce((a, b) => a * b, 1));
  }
  const dh0 = new Float64Array(stateSize(spec, B));
  const dc0 = hasCellState(spec) ? new Float64Array(stateSize(spec, B, true)) : undefined;
  const DHout = outputWidth(spec);
  let dy: Float64Array = spec.batchFirst
    ? swapBatchTime(opts.gradOutput, B, T, DHout, false, new Float64Array(T * B * DHout))
    : Float64Array.from(opts.gradOutput);
  for (let l = L - 1; l >= 0; l--) {
    const layer = layerSpec(spec, l);
    const { hiddenSize: H, numDirections: D, kind, nonlinearity } = layer;
    const R = stateWidth(layer);
    const GH = gateCount(kind) * H;
    const I = layerInputSize(spec, l);
    const dx = new Float64Array(T * B * I);
    for (let d = 0; d < D; d++) {
      const wih = params[parameterName('weight_ih', l, d)];
      const whh = params[parameterName('weight_hh', l, d)];
      const dWih = grads[parameterName('weight_ih', l, d)];
      const dWhh = grads[parameterName('weight_hh', l, d)];
      const dbih = spec.bias ? grads[parameterName('bias_ih', l, d)] : null;
      const dbhh = spec.bias ? grads[parameterName('bias_hh', l, d)] : null;
      const whr = layer.projSize ? params[parameterName('weight_hr', l, d)] : null;
      const dWhr = layer.projSize ? grads[parameterName('weight_hr', l, d)] : null;
      const s0 = stateOffset(spec, l, B) + d * B * R;
      const sc = stateOffset(spec, l, B, true) + d * B * H;
      let rec = slice(opts.gradHN, s0, B * R); // gradient reaching h_t from later in time
      let dc = slice(kind === 'lstm' ? opts.gradCN : undefined, sc, B * H);
      for (let step = T - 1; step >= 0; step--) {
        const t = d === 0 ? step : T - 1 - step;
        const r = records[l][d][t];
        let dh = new Float64Array(B * R);
        for (let b = 0; b < B; b++) for (let j = 0; j < R; j++) dh[b * R + j] = dy[(t * B + b) * D * R + d * R + j] + rec[b * R + j];
        if (whr && dWhr) {
          // h = W_hr·r: dW_hr += dh·rᵀ, and the cell's h (r) receives W_hrᵀ·dh.
          const dr = new Float64Array(B * H);
          for (let b = 0; b < B; b++) {
            for (let q = 0; q < R; q++) {
              const g = dh[b * R + q];
              for (let k = 0; k < H; k++) {
                dWhr[q * H + k] += g * r.r![b * H + k];
                dr[b * H + k] += g * whr[q * H + k];
              }
            }
          }
          dh = dr;
        }
        let dG: Float64Array;
        let dGrec: Float64Array;
        let direct: Float64Array | null = null;
        if (kind === 'lstm') {
          const bw = lstmCellBackwardReference({ batch: B, hidden: H, saved: r.saved!, dh, dc });
          dG = dGrec = bw.dG;
          dc = bw.dcPrev;
        } else if (kind === 'gru') {
          const bw = gruCellBackwardReference({ batch: B, hidden: H, saved: r.saved!, dh });
          dG = bw.dG;
          dGrec = bw.dGrec;
          direct = bw.direct;
        } else {
          dG = dGrec = rnnCellBackwardReference({ batch: B, hidden: H, nonlinearity, h: r.h, dh }).dG;
        }
        for (let b = 0; b < B; b++) {
          for (let q = 0; q < GH; q++) {
            const g = dG[b * GH + q];
            const gr = dGrec[b * GH + q];
            for (let k = 0; k < I; k++) {
              dWih[q * I + k] += g * r.x[b * I + k];
              dx[(t * B + b) * I + k] += g * wih[q * I + k];
            }
            for (let k = 0; k < R; k++) dWhh[q * R + k] += gr * r.hPrev[b * R + k];
            if (dbih) dbih[q] += g;
            if (dbhh) dbhh[q] += gr;
          }
        }
        rec = gradThroughWhh(B, R, dGrec, whh);
        if (direct) for (let i = 0; i < B * H; i++) rec[i] += direct[i];
      }
      dh0.set(rec, s0);
      if (kind === 'lstm') dc0!.set(dc, sc);
    }
    // Below the top, the gradient reaching layer l − 1's output passes back through its dropout mask.
    dy = l > 0 ? droppedOutput(dx, opts.dropoutMasks, l - 1) : dx;
  }
  const inputGrad = spec.batchFirst ? swapBatchTime(dy, B, T, spec.inputSize, true, new Float64Array(dy.length)) : dy;
  return dc0 ? { params: grads, input: inputGrad, h0: dh0, c0: dc0 } : { params: grads, input: inputGrad, h0: dh0 };
}
