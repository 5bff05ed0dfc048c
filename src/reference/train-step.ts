/**
 * float64 reference of one training step (schedule/train-step.ts): forward with the read-out,
 * the loss on all or the last steps or on the final states with row weights, backpropagation through time, global
 * norm clipping, value clipping and the optimizer update. Everything is in the caller's
 * layouts ([B, T, ·] when batchFirst).
 */
import { parameterInfo, READOUT_BIAS, READOUT_WEIGHT, type ModelSpec } from '../spec/spec.js';
import { adamUpdateReference, type AdamHyper } from './adam-update.js';
import { crossEntropyLossReference } from './cross-entropy-loss.js';
import { gradNormReference } from './grad-norm.js';
import { mseLossReference } from './mse-loss.js';
import { recurrentBackwardReference } from './recurrent-backward.js';
import { linearReference, recurrentForwardReference } from './recurrent-forward.js';
import { sgdUpdateReference, type SgdHyper } from './sgd-update.js';
import { finalStates } from '../arrays.js';

/** An optimizer with every hyperparameter given (train/options.ts resolves a user's configuration to one). */
export type ResolvedOptimizer = { type: 'sgd'; hyper: Omit<SgdHyper, 'clipValue'> } | { type: 'adam' | 'adamw'; hyper: Omit<AdamHyper, 'clipValue'> };

export interface ReferenceTrainOptions {
  batch: number;
  seqLen: number;
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
  seqLens?: ArrayLike<number>;
  loss: 'mse' | 'cross-entropy';
  lossOn: 'all' | 'last' | 'final';
  mask: ArrayLike<number>;
  optimizer: ResolvedOptimizer;
  maxNorm: number;
  clipValue: number;
  /** Dropout between layers (ReferenceForwardOptions.dropoutMasks). */
  dropoutMasks?: ReadonlyArray<ArrayLike<number>>;
}

/** Optimizer state per parameter name (velocity, or the two moments). */
export type ReferenceOptimizerState = Record<string, Float64Array[]>;

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
  const DH = spec.numDirections * spec.hiddenSize;
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
  const final = o.lossOn === 'final' ? finalStates(Float64Array.from(hN), spec.numLayers, spec.numDirections, B, spec.hiddenSize, new Float64Array(B * DH)) : null;
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

/**
 * One step at optimizer step `t` (1-based): updates `params` and `state` in place and returns
 * the loss and the gradient norm before clipping.
 */
export function trainStepReference(
  spec: ModelSpec,
  params: Record<string, Float64Array>,
  state: ReferenceOptimizerState,
  t: number,
  x: ArrayLike<number>,
  target: ArrayLike<number>,
  o: ReferenceTrainOptions,
): { loss: number; gradNorm: number } {
  const { batch: B, seqLen: T } = o;
  const O = spec.outputSize;
  const DH = spec.numDirections * spec.hiddenSize;
  const fwd = recurrentForwardReference(spec, params, x, o);
  const W = params[READOUT_WEIGHT];
  const { loss, features, rowIndex, final, dY } = readoutLossReference(spec, fwd.output, fwd.hN, W, params[READOUT_BIAS], target, o);
  const R = final ? B : rowIndex.length;

  // Read-out backward: dW, db, and the gradient of the rows read, into the output's steps or
  // (with 'final') the last layer's slots of hN.
  const grads: Record<string, Float64Array> = { [READOUT_WEIGHT]: new Float64Array(O * DH), [READOUT_BIAS]: new Float64Array(O) };
  const dFeatures = new Float64Array(R * DH);
  for (let r = 0; r < R; r++) {
    for (let k = 0; k < O; k++) {
      const g = dY[r * O + k];
      grads[READOUT_BIAS][k] += g;
      for (let f = 0; f < DH; f++) {
        grads[READOUT_WEIGHT][k * DH + f] += g * features[r * DH + f];
        dFeatures[r * DH + f] += g * W[k * DH + f];
      }
    }
  }
  const gradOutput = new Float64Array(T * B * DH);
  const gradHN = new Float64Array(spec.numLayers * spec.numDirections * B * spec.hiddenSize);
  if (final) {
    const H = spec.hiddenSize;
    const D = spec.numDirections;
    for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) gradHN[(((spec.numLayers - 1) * D + d) * B + b) * H + j] = dFeatures[(b * D + d) * H + j];
  } else rowIndex.forEach((i, r) => gradOutput.set(dFeatures.subarray(r * DH, (r + 1) * DH), i * DH));
  const bw = recurrentBackwardReference(spec, params, x, { ...o, gradOutput, gradHN });
  Object.assign(grads, bw.params);

  const names = parameterInfo(spec).map((p) => p.name);
  const { norm, scale } = gradNormReference(
    names.map((n) => grads[n]),
    o.maxNorm,
  );
  for (const name of names) {
    const p = params[name];
    if (!state[name]) state[name] = [new Float64Array(p.length), new Float64Array(p.length)];
    const [s1, s2] = state[name];
    if (o.optimizer.type === 'sgd') sgdUpdateReference({ ...o.optimizer.hyper, clipValue: o.clipValue }, t === 1, scale, p, grads[name], s1);
    else adamUpdateReference({ ...o.optimizer.hyper, clipValue: o.clipValue }, t, scale, p, grads[name], s1, s2);
  }
  return { loss, gradNorm: norm };
}
