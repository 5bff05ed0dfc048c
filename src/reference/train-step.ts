/**
 * float64 reference of one training step (schedule/train-step.ts): forward with the read-out,
 * the loss on all or the last steps with row weights, backpropagation through time, global
 * norm clipping, value clipping and the optimizer update. Everything is in the caller's
 * layouts ([B, T, ·] when batchFirst).
 */
import { parameterInfo, READOUT_BIAS, READOUT_WEIGHT, type ModelSpec } from '../model/spec.js';
import { adamUpdateReference } from './adam-update.js';
import { crossEntropyLossReference } from './cross-entropy-loss.js';
import { gradNormReference } from './grad-norm.js';
import { mseLossReference } from './mse-loss.js';
import { recurrentBackwardReference } from './recurrent-backward.js';
import { recurrentForwardReference } from './recurrent-forward.js';
import { sgdUpdateReference } from './sgd-update.js';
import type { ResolvedOptimizer } from '../train/options.js';

export interface ReferenceTrainOptions {
  batch: number;
  seqLen: number;
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
  seqLens?: ArrayLike<number>;
  loss: 'mse' | 'cross-entropy';
  lossOn: 'all' | 'last';
  mask: ArrayLike<number>;
  optimizer: ResolvedOptimizer;
  maxNorm: number;
  clipValue: number;
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
  const DH = spec.numDirections * spec.hiddenSize;
  const fwd = recurrentForwardReference(spec, params, x, o);
  const y = fwd.y!;
  // Row indices (into the caller-layout [·, ·] of steps) that the loss covers.
  // With sequence lengths, 'last' is each sequence's own last step L_b − 1, and under 'all' the
  // steps t ≥ L_b are padding, weighted 0.
  const len = (b: number): number => (o.seqLens ? o.seqLens[b] : T);
  const at = (t: number, b: number): number => (spec.batchFirst ? b * T + t : t * B + b);
  const rowIndex: number[] = [];
  const mask = Float64Array.from(o.mask);
  if (o.lossOn === 'all') {
    for (let i = 0; i < T * B; i++) rowIndex.push(i);
    for (let b = 0; b < B; b++) for (let t = len(b); t < T; t++) mask[at(t, b)] = 0;
  } else for (let b = 0; b < B; b++) rowIndex.push(at(len(b) - 1, b));
  const R = rowIndex.length;
  const yRows = new Float64Array(R * O);
  rowIndex.forEach((i, r) => yRows.set(y.subarray(i * O, (i + 1) * O), r * O));
  let weight = 0;
  for (let r = 0; r < R; r++) weight += mask[r];
  const ce = o.loss === 'cross-entropy';
  const lossArgs = { rows: R, outputs: O, classes: O, scale: ce ? 1 / weight : 1 / (weight * O), y: yRows, target, mask };
  const { lossRows, dY } = ce ? crossEntropyLossReference(lossArgs) : mseLossReference(lossArgs);
  const loss = lossRows.reduce((a, b) => a + b, 0);

  // Read-out backward.
  const W = params[READOUT_WEIGHT];
  const grads: Record<string, Float64Array> = { [READOUT_WEIGHT]: new Float64Array(O * DH), [READOUT_BIAS]: new Float64Array(O) };
  const gradOutput = new Float64Array(T * B * DH);
  rowIndex.forEach((i, r) => {
    for (let k = 0; k < O; k++) {
      const g = dY[r * O + k];
      grads[READOUT_BIAS][k] += g;
      for (let f = 0; f < DH; f++) {
        grads[READOUT_WEIGHT][k * DH + f] += g * fwd.output[i * DH + f];
        gradOutput[i * DH + f] += g * W[k * DH + f];
      }
    }
  });
  const bw = recurrentBackwardReference(spec, params, x, { ...o, gradOutput });
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
