/**
 * The loss of a model on data without training it (model.evaluate, and fit's validation): the
 * engine's forward pass, then the read-out and the loss in float64 on its results
 * (reference/readout-loss.ts), over the rows a training step with the same options would read.
 */
import { checkCount, checkLengths, swapBatchTime } from '../arrays.js';
import { checkIds, lengthsFromIds } from '../spec/embedding.js';
import { WebRnnError } from '../errors.js';
import type { StateDict } from '../spec/parameters.js';
import { READOUT_BIAS, READOUT_WEIGHT, type ModelSpec } from '../spec/spec.js';
import { lossRows } from './loss-rows.js';
import { resolveLoss, type LossKind, type TrainStepOptions } from './options.js';

/** Options of `model.evaluate`: those of trainStep that choose the data and the loss. */
export type EvaluateOptions = Pick<TrainStepOptions, 'batch' | 'seqLen' | 'seqLens' | 'h0' | 'c0' | 'lossOn' | 'mask' | 'checkFinite'> & { loss: LossKind };

/** Result of `model.evaluate`. */
export interface EvaluateResult {
  /** The loss trainStep would report on this data (its mean over the weighted rows). */
  loss: number;
  /** Σ of the rows' weights: the mean's denominator (per output for MSE), for combining batches. */
  weight: number;
}

/** What evaluate needs of a model. */
export interface Evaluatee {
  readonly spec: ModelSpec;
  forward(x: Float32Array | Int32Array, options: Pick<EvaluateOptions, 'batch' | 'seqLen' | 'seqLens' | 'h0' | 'c0' | 'checkFinite'>): Promise<{ output: Float32Array; hN: Float32Array }>;
  stateDict(): Promise<StateDict>;
}

export async function evaluate(model: Evaluatee, x: Float32Array | Int32Array, target: Float32Array, options: EvaluateOptions): Promise<EvaluateResult> {
  const { spec } = model;
  if (spec.outputSize === 0) throw new WebRnnError('invalid-option', 'evaluate: the model has no read-out; create it with outputSize');
  const { lossOn } = resolveLoss('evaluate', spec, options);
  const B = checkCount('batch', options.batch);
  const T = checkCount('seqLen', options.seqLen);
  let seqLens = options.seqLens === undefined ? null : checkLengths(options.seqLens, B, T);
  if (spec.embedding?.maskZero) {
    // The lengths forward takes from the ids (it refuses seqLens beside them).
    checkIds(spec, 'x', x, spec.batchFirst ? [B, T] : [T, B]);
    seqLens = lengthsFromIds(spec.batchFirst ? swapBatchTime(x, B, T, 1, false, new Int32Array(x.length)) : (x as Int32Array), B, T);
  }
  // The same checks of target and mask as a training step's.
  lossRows(spec, target, options, lossOn, B, T, seqLens);
  const { batch, seqLen, h0, c0, checkFinite } = options;
  // Both calls are queued now, in the order the caller made this one; the float64 loss, which
  // only evaluate and fit need, is loaded on first use.
  const results = Promise.all([model.forward(x, { batch, seqLen, seqLens: options.seqLens, h0, c0, checkFinite }), model.stateDict()]);
  const [{ readoutLossReference }, [fwd, params]] = await Promise.all([import('../reference/readout-loss.js'), results]);
  const mask = options.mask ?? new Float32Array(lossOn === 'all' ? T * B : B).fill(1);
  const r = readoutLossReference(spec, fwd.output, fwd.hN, params[READOUT_WEIGHT], params[READOUT_BIAS], target, { batch: B, seqLen: T, seqLens: seqLens ?? undefined, loss: options.loss, lossOn, mask });
  return { loss: r.loss, weight: r.weight };
}
