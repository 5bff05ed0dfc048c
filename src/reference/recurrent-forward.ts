/**
 * float64 reference of a whole model's forward pass (all layers, directions and steps), built
 * from the cell references, with PyTorch's semantics: layer l > 0 reads the concatenated
 * outputs [h_fwd, h_rev] of layer l − 1; the reverse direction runs t = T−1 … 0; output is
 * [T, B, D·H] ([B, T, D·H] when batchFirst); hN and cN are [L·D, B, H], index l·D + d (in a
 * stack of unlike layers, each layer's [D_l, B, H_l] in turn, cN of the LSTM layers only). An
 * LSTM layer with a projection (projSize P) keeps h_t = W_hr (o_t ⊙ tanh(c_t)) [P] as its
 * state and output; c stays [H].
 */
import { EMBEDDING_WEIGHT, gateCount, hasCellState, layerInputSize, layerSpec, parameterName, READOUT_BIAS, READOUT_WEIGHT, stateOffset, stateSize, stateWidth, type ModelSpec } from '../spec/spec.js';
import { embeddingForwardReference } from './embedding-forward.js';
import { linearReference } from './linear.js';
import { gruCellForwardReference } from './gru-cell-forward.js';
import { lstmCellForwardReference } from './lstm-cell-forward.js';
import { rnnCellForwardReference } from './rnn-cell-forward.js';
import { finalStates, swapBatchTime } from '../arrays.js';

export interface ReferenceForwardOptions {
  batch: number;
  seqLen: number;
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
  /** Length of each sequence (PyTorch's packed sequences); all seqLen when absent. */
  seqLens?: ArrayLike<number>;
  /**
   * Dropout between layers: for each layer l < L − 1, the multipliers [T, B, D·H]
   * (sequence-major; 0 or 1/(1 − p), reference/dropout.ts) of its output as layer l + 1 reads it.
   */
  dropoutMasks?: ReadonlyArray<ArrayLike<number>>;
}

/** `out` as the layer above reads it: times layer l's dropout mask where there is one. */
export function droppedOutput(out: Float64Array, masks: ReadonlyArray<ArrayLike<number>> | undefined, l: number): Float64Array {
  const m = masks?.[l];
  return m ? out.map((v, i) => v * m[i]) : out;
}

export interface ReferenceForwardResult {
  output: Float64Array;
  hN: Float64Array;
  cN?: Float64Array;
  /**
   * The model's output: with returnSequences, the read-out output·Wᵀ + b, [T, B, O] ([B, T, O]
   * when batchFirst), or the output itself without a read-out; without it, the same of the
   * final states [B, D·H] (arrays.ts finalStates).
   */
  y: Float64Array;
}

export { linearReference } from './linear.js';

/**
 * A model reading token ids runs as the model without its embedding on the vectors the ids
 * select (x [T, B] or [B, T] becomes [T, B, I] or [B, T, I]): that model's spec and input.
 */
export function embedded(spec: ModelSpec, params: Readonly<Record<string, ArrayLike<number>>>, x: ArrayLike<number>): { spec: ModelSpec; x: ArrayLike<number> } {
  if (!spec.embedding) return { spec, x };
  return { spec: { ...spec, embedding: null }, x: embeddingForwardReference(params[EMBEDDING_WEIGHT], x, spec.inputSize) };
}

export function recurrentForwardReference(
  model: ModelSpec,
  params: Readonly<Record<string, ArrayLike<number>>>,
  ids: ArrayLike<number>,
  opts: ReferenceForwardOptions,
): ReferenceForwardResult {
  const { spec, x } = embedded(model, params, ids);
  const { batch: B, seqLen: T } = opts;
  const L = spec.numLayers;
  let input: Float64Array = spec.batchFirst ? swapBatchTime(x, B, T, spec.inputSize, false, new Float64Array(x.length)) : Float64Array.from(x);
  const hN = new Float64Array(stateSize(spec, B));
  const cN = hasCellState(spec) ? new Float64Array(stateSize(spec, B, true)) : undefined;

  for (let l = 0; l < L; l++) {
    const layer = layerSpec(spec, l);
    const { hiddenSize: H, numDirections: D } = layer;
    // R: features of h (the projection's where the layer has one).
    const R = stateWidth(layer);
    const G = gateCount(layer.kind);
    const I = layerInputSize(spec, l);
    const out = new Float64Array(T * B * D * R);
    for (let d = 0; d < D; d++) {
      const wih = params[parameterName('weight_ih', l, d)];
      const whh = params[parameterName('weight_hh', l, d)];
      const bih = spec.bias ? params[parameterName('bias_ih', l, d)] : null;
      const bhh = spec.bias ? params[parameterName('bias_hh', l, d)] : null;
      const whr = layer.projSize ? params[parameterName('weight_hr', l, d)] : null;
      const s = stateOffset(spec, l, B) + d * B * R;
      const sc = stateOffset(spec, l, B, true) + d * B * H;
      let h: Float64Array = opts.h0 ? Float64Array.from({ length: B * R }, (_, i) => opts.h0![s + i]) : new Float64Array(B * R);
      let c: Float64Array = opts.c0 && layer.kind === 'lstm' ? Float64Array.from({ length: B * H }, (_, i) => opts.c0![sc + i]) : new Float64Array(B * H);
      const len = (b: number): number => (opts.seqLens ? opts.seqLens[b] : T);
      for (let step = 0; step < T; step++) {
        // Row b runs while step < its length; the reverse direction starts at its own last step.
        const time = (b: number): number => (d === 0 ? step : len(b) - 1 - step);
        // Input projection of this step: x_t·W_ihᵀ + b_ih, [B, G·H] (zeros for finished rows).
        const xproj = new Float64Array(B * G * H);
        for (let b = 0; b < B; b++) {
          if (step >= len(b)) continue;
          const t = time(b);
          for (let r = 0; r < G * H; r++) {
            let acc = bih ? bih[r] : 0;
            for (let k = 0; k < I; k++) acc += input[(t * B + b) * I + k] * wih[r * I + k];
            xproj[b * G * H + r] = acc;
          }
        }
        const cell = { batch: B, hidden: H, recurrent: R, xproj, hPrev: h, whh, bhh, direction: d };
        let hNew: Float64Array;
        let cNew = c;
        if (layer.kind === 'lstm') {
          const r = lstmCellForwardReference({ ...cell, cPrev: c, peephole: spec.peepholes ? params[parameterName('peephole', l, d)] : null, cell: layer.cell });
          // h = W_hr·r for each row: r·W_hrᵀ [B, P].
          hNew = whr ? linearReference(r.h, B, H, whr, new Float64Array(R)) : r.h;
          cNew = r.c;
        } else if (layer.kind === 'gru') {
          hNew = gruCellForwardReference({ ...cell, linearBeforeReset: layer.linearBeforeReset, cell: layer.cell }).h;
        } else {
          hNew = rnnCellForwardReference({ ...cell, nonlinearity: layer.nonlinearity, cell: layer.cell }).h;
        }
        // Only rows still running take the new state; finished rows keep theirs.
        h = Float64Array.from(h);
        c = Float64Array.from(c);
        for (let b = 0; b < B; b++) {
          if (step >= len(b)) continue;
          const t = time(b);
          for (let j = 0; j < H; j++) c[b * H + j] = cNew[b * H + j];
          for (let j = 0; j < R; j++) {
            h[b * R + j] = hNew[b * R + j];
            out[(t * B + b) * D * R + d * R + j] = h[b * R + j];
          }
        }
      }
      hN.set(h, s);
      if (layer.kind === 'lstm') cN!.set(c, sc);
    }
    input = l < L - 1 ? droppedOutput(out, opts.dropoutMasks, l) : out;
  }
  const D = spec.numDirections;
  const H = stateWidth(spec);
  const output = spec.batchFirst ? swapBatchTime(input, B, T, D * H, true, new Float64Array(input.length)) : input;
  // Rows are independent, so the read-out applies in the output's own layout.
  const rows = spec.returnSequences ? output : finalStates(hN.subarray(stateOffset(spec, L - 1, B)), 1, D, B, H, new Float64Array(B * D * H));
  const y = spec.outputSize > 0 ? linearReference(rows, rows.length / (D * H), D * H, params[READOUT_WEIGHT], params[READOUT_BIAS]) : rows;
  return cN ? { output, hN, cN, y } : { output, hN, y };
}
