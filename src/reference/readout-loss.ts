/**
 * float64 reference of the loss on a model's read-out: the first half of a training step
 * (train-step.ts), and what `model.evaluate` computes from the backend's forward results.
 */
import { finalStates } from '../arrays.js';
import { outputWidth, stateOffset, stateWidth, type ModelSpec } from '../spec/spec.js';
import { crossEntropyLossReference } from './cross-entropy-loss.js';
import { linearReference } from './linear.js';
import { mseLossReference } from './mse-loss.js';
import type { ReferenceTrainOptions } from './train-step.js';

/** What {@link readoutLossReference} gives: the loss, the rows it read, and its gradient dY [R, O]. */
export interface ReadoutLoss {
  loss: number;
  /** Σ of the rows' weights (the mean's denominator, times O for MSE). */
  weight: number;
  /** The rows read, [R, D·H]: output steps (their indices in `rowIndex`) or, with 'final', the final states. */
  features: Float64Array;
  rowIndex: number[];
  final: Float64Array | null;
  dY: Float64Array;
}

/**
 * The loss of the read-out W·f + b on the rows of a forward pass's `output` (caller layout) and
 * `hN` that `o.lossOn` names, with row weights `o.mask` and padded steps weighted 0: the first
 * half of a training step, and what `model.evaluate` computes from the engine's forward.
 */
export function readoutLossReference(
  spec: ModelSpec,
  output: ArrayLike<number>,
  hN: ArrayLike<number>,
  W: ArrayLike<number>,
  bias: ArrayLike<number>,
  target: ArrayLike<number>,
  o: Pick<ReferenceTrainOptions, 'batch' | 'seqLen' | 'seqLens' | 'loss' | 'lossOn' | 'mask'>,
): ReadoutLoss {
  const { batch: B, seqLen: T } = o;
  const O = spec.outputSize;
  const DH = outputWidth(spec);
  // The rows the loss reads, [R, D·H]: the output's steps (caller layout), or with 'final' the
  // last layer's final states [B, D·H].
  // With sequence lengths, 'last' is each sequence's own last step L_b − 1, and under 'all' the
  // steps t ≥ L_b are padding, weighted 0.
  const len = (b: number): number => (o.seqLens ? o.seqLens[b] : T);
  const at = (t: number, b: number): number => (spec.batchFirst ? b * T + t : t * B + b);
  const rowIndex: number[] = [];
  const mask = Float64Array.from(o.mask);
  if (o.lossOn === 'all') {
    for (let i = 0; i < T * B; i++) rowIndex.push(i);
    for (let b = 0; b < B; b++) for (let t = len(b); t < T; t++) mask[at(t, b)] = 0;
  } else if (o.lossOn === 'last') for (let b = 0; b < B; b++) rowIndex.push(at(len(b) - 1, b));
  const final = o.lossOn === 'final' ? finalStates(Float64Array.from(hN).subarray(stateOffset(spec, spec.numLayers - 1, B)), 1, spec.numDirections, B, stateWidth(spec), new Float64Array(B * DH)) : null;
  const R = final ? B : rowIndex.length;
  const features = new Float64Array(R * DH);
  if (final) features.set(final);
  else rowIndex.forEach((i, r) => {
    for (let f = 0; f < DH; f++) features[r * DH + f] = output[i * DH + f];
  });
  const yRows = linearReference(features, R, DH, W, bias);
  let weight = 0;
  for (let r = 0; r < R; r++) weight += mask[r];
  const ce = o.loss === 'cross-entropy';
  const lossArgs = { rows: R, outputs: O, classes: O, scale: ce ? 1 / weight : 1 / (weight * O), y: yRows, target, mask };
  const { lossRows, dY } = ce ? crossEntropyLossReference(lossArgs) : mseLossReference(lossArgs);
  const loss = lossRows.reduce((a, b) => a + b, 0);
  return { loss, weight, features, rowIndex, final, dY };
}

