/**
 * float64 reference of one training step (schedule/train-step.ts): forward with the read-out,
 * the loss on all or the last steps or on the final states with row weights, backpropagation through time, global
 * norm clipping, value clipping and the optimizer update. Everything is in the caller's
 * layouts ([B, T, ·] when batchFirst).
 */
import { outputWidth, parameterInfo, READOUT_BIAS, READOUT_WEIGHT, stateOffset, stateSize, stateWidth, type ModelSpec } from '../spec/spec.js';
import { adamUpdateReference, type AdamHyper } from './adam-update.js';
import { gradNormReference } from './grad-norm.js';
import { recurrentBackwardReference } from './recurrent-backward.js';
import { recurrentForwardReference } from './recurrent-forward.js';
import { readoutLossReference } from './readout-loss.js';

export { readoutLossReference, type ReadoutLoss } from './readout-loss.js';
import { sgdUpdateReference, type SgdHyper } from './sgd-update.js';

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
  const DH = outputWidth(spec);
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
  const gradHN = new Float64Array(stateSize(spec, B));
  if (final) {
    const H = stateWidth(spec);
    const D = spec.numDirections;
    const last = stateOffset(spec, spec.numLayers - 1, B);
    for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) gradHN[last + (d * B + b) * H + j] = dFeatures[(b * D + d) * H + j];
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
