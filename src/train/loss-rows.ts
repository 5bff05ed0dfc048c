/**
 * The rows a training step's loss reads: the targets and row weights checked, put in the
 * GPU's sequence-major order, padded steps weighted 0, and the scale that makes the loss a mean.
 */
import { checkFinite, checkTensor, swapBatchTime } from '../arrays.js';
import { WebRnnError } from '../errors.js';
import type { TrainStepOptions } from './options.js';

/** What the loss rows depend on of a model's options (a ModelSpec has them). */
export interface LossSpec {
  /** The read-out's outputs O. */
  readonly outputSize: number;
  readonly batchFirst: boolean;
  readonly checkFinite: boolean;
}

/** Targets, row weights and scale of one step's loss, as the train-step plan takes them. */
export interface LossRows {
  /** [rows, O] (MSE) or [rows] class indices, sequence-major. */
  targetSeq: Float32Array;
  /** [rows], sequence-major. */
  maskSeq: Float32Array;
  /** The rows the plan reads: 'last' with sequence lengths becomes 'all' with weights 0 elsewhere. */
  rowsOn: 'all' | 'last' | 'final';
  /** 1 / (Σ mask · O) for MSE, 1 / Σ mask for cross-entropy. */
  scale: number;
}

/** Check `target` and `options.mask` for a step of `lossOn` over B sequences of T steps. */
export function lossRows(spec: LossSpec, target: Float32Array, options: TrainStepOptions, lossOn: 'all' | 'last' | 'final', B: number, T: number, seqLens: Float32Array | null): LossRows {
  const O = spec.outputSize;
  const rowShape = lossOn !== 'all' ? [B] : spec.batchFirst ? [B, T] : [T, B];
  const rows = rowShape.reduce((a, b) => a * b, 1);
  const ce = options.loss === 'cross-entropy';
  checkTensor('target', target, ce ? rowShape : [...rowShape, O]);
  if (ce) {
    for (let i = 0; i < target.length; i++) {
      const c = target[i];
      if (!Number.isInteger(c) || c < 0 || c >= O) throw new WebRnnError('invalid-option', `target: element ${i} is ${c}; class indices in [0, ${O}) expected`);
    }
  } else if (options.checkFinite ?? spec.checkFinite) checkFinite('target', target);
  let mask: Float32Array;
  if (options.mask !== undefined) {
    checkTensor('mask', options.mask, rowShape);
    for (let i = 0; i < options.mask.length; i++) {
      const w = options.mask[i];
      if (!Number.isFinite(w) || w < 0) throw new WebRnnError('invalid-option', `mask: element ${i} is ${w}; finite weights ≥ 0 expected`);
    }
    mask = options.mask;
  } else mask = new Float32Array(rows).fill(1);
  // Rows in sequence-major order, as the GPU holds them.
  const toSeq = (a: Float32Array, F: number): Float32Array =>
    spec.batchFirst && lossOn === 'all' ? swapBatchTime(a, B, T, F, false, new Float32Array(a.length)) : a.slice();
  let targetSeq = toSeq(target, ce ? 1 : O);
  let maskSeq = toSeq(mask, 1);
  // Steps past a sequence's end are padding: they take no part in the loss, as with
  // PyTorch's packed sequences (the mean is over the real steps only).
  if (seqLens && lossOn === 'all') for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t >= seqLens[b]) maskSeq[t * B + b] = 0;
  const weight = maskSeq.reduce((a, b) => a + b, 0);
  if (!(weight > 0)) throw new WebRnnError('invalid-option', 'mask: every row is masked out; nothing to train on');
  let rowsOn = lossOn;
  if (seqLens && lossOn === 'last') {
    // Each sequence's own last step: the loss over every step, with each row placed at
    // (L_b − 1, b) and every other step weighted 0; the mean is the same.
    const F = ce ? 1 : O;
    const t = new Float32Array(T * B * F);
    const m = new Float32Array(T * B);
    for (let b = 0; b < B; b++) {
      const row = (seqLens[b] - 1) * B + b;
      t.set(targetSeq.subarray(b * F, (b + 1) * F), row * F);
      m[row] = maskSeq[b];
    }
    targetSeq = t;
    maskSeq = m;
    rowsOn = 'all';
  }
  const scale = ce ? 1 / weight : 1 / (weight * O);
  return { targetSeq, maskSeq, rowsOn, scale };
}
