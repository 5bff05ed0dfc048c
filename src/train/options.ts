/**
 * Options of a training step: loss, optimizer, clipping; their validation and defaults.
 */
import { WebRnnError } from '../errors.js';
import type { AdamHyper } from '../reference/adam-update.js';
import type { SgdHyper } from '../reference/sgd-update.js';
import type { ResolvedOptimizer } from '../reference/train-step.js';

/** SGD (PyTorch's torch.optim.SGD, dampening 0). */
export interface SgdConfig {
  type: 'sgd';
  lr: number;
  /** Default 0. */
  momentum?: number;
  /** Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient, default 0. */
  weightDecay?: number;
}

/** Adam (L2 weight decay) or AdamW (decoupled weight decay), as in torch.optim. */
export interface AdamConfig {
  type: 'adam' | 'adamw';
  lr: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 0 for Adam, 0.01 for AdamW (PyTorch's defaults). */
  weightDecay?: number;
}

export type OptimizerConfig = SgdConfig | AdamConfig;

/** The loss applied to the model's read-out. */
export type LossKind = 'mse' | 'cross-entropy';

/** Options of `model.trainStep`. */
export interface TrainStepOptions {
  batch: number;
  seqLen: number;
  /**
   * Length of each sequence [B] (PyTorch's packed sequences): steps past a sequence's end
   * take no part, neither in the recurrence nor in the loss (with lossOn 'all' the mean is
   * over the real steps; with lossOn 'last' the loss reads each sequence's own last step, and
   * with 'final' the final states, which are taken there).
   */
  seqLens?: ArrayLike<number>;
  /** Initial states [L·D, B, H] (not trained: the gradient stops there, as for detached states). */
  h0?: Float32Array;
  c0?: Float32Array;
  /**
   * 'mse': target holds the read-out's values, [rows, O]. 'cross-entropy': target holds a class
   * index in [0, O) per row, [rows]. Rows are the (t, b) steps in the input's layout for
   * lossOn 'all', the B sequences for 'last' and 'final'.
   */
  loss: LossKind;
  /**
   * Which read-out rows the loss is on: 'all', every step; 'last', the output's last step
   * (PyTorch's output[-1]); 'final', the last layer's final states [h_fwd | h_rev], as
   * Keras trains a model with return_sequences false (the same as 'last' for a
   * unidirectional model). Default: the model's own y, 'all' with returnSequences and
   * 'final' without.
   */
  lossOn?: 'all' | 'last' | 'final';
  /**
   * Weight of each row in the loss, [T, B] ([B, T] when batchFirst) for 'all', [B] for 'last' and 'final':
   * 0 leaves a padded step out. The loss is the mean over the weighted rows. Default: all 1.
   */
  mask?: Float32Array;
  /** The optimizer; default: the model's (`model.optimizer`: that of its last step, or its file's). */
  optimizer?: OptimizerConfig;
  /** Scale all gradients so that their global L2 norm is at most this (on the GPU). */
  clipGradNorm?: number;
  /** Clip every gradient element to ±clipGradValue (after norm clipping). */
  clipGradValue?: number;
  /** Read the loss back (default true); false leaves the step with no readback at all. */
  readLoss?: boolean;
  /** Read back the global gradient norm before clipping (default false). */
  returnGradNorm?: boolean;
  /** Read back hN (and cN), e.g. to carry the state into the next chunk (default false). */
  returnState?: boolean;
  /** Check the inputs for NaN and ±Infinity (default: the model's checkFinite). */
  checkFinite?: boolean;
}

/** Result of `model.trainStep`: what was asked to be read back. */
export interface TrainStepResult {
  /** The loss before this step's update (unless readLoss is false). */
  loss?: number;
  /** Global L2 norm of the gradients before clipping (with returnGradNorm). */
  gradNorm?: number;
  /** The final states [L·D, B, H] (with returnState; cN for an LSTM). */
  hN?: Float32Array;
  cN?: Float32Array;
}

/** Whether options `O` set `key` to true (true), to anything else (false), or leave it out ('absent'). */
type FlagOf<O, Key extends string> = Key extends keyof O ? (O[Key] extends true ? true : false) : 'absent';

/**
 * The result of a training step with options `O`: `loss` unless `readLoss` may be false,
 * `gradNorm` with `returnGradNorm: true`, `hN` (and an LSTM's `cN`) with `returnState: true`.
 */
export type TrainStepResultFor<O, LSTM extends boolean = boolean> = TrainStepResult &
  (FlagOf<O, 'readLoss'> extends false ? unknown : { loss: number }) &
  (FlagOf<O, 'returnGradNorm'> extends true ? { gradNorm: number } : unknown) &
  (FlagOf<O, 'returnState'> extends true ? { hN: Float32Array } & (LSTM extends true ? { cN: Float32Array } : unknown) : unknown);

/** A validated optimizer configuration with every default filled in (the float64 reference's type). */
export type { ResolvedOptimizer } from '../reference/train-step.js';

function finiteNonNegative(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new WebRnnError('invalid-option', `${name} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

/** The keys each optimizer takes. */
const OPTIMIZER_KEYS: Readonly<Record<string, readonly string[]>> = {
  sgd: ['type', 'lr', 'momentum', 'nesterov', 'weightDecay'],
  adam: ['type', 'lr', 'betas', 'eps', 'weightDecay'],
  adamw: ['type', 'lr', 'betas', 'eps', 'weightDecay'],
};

export function resolveOptimizer(o: OptimizerConfig): ResolvedOptimizer {
  if (o === null || typeof o !== 'object') throw new WebRnnError('invalid-option', "optimizer: { type: 'sgd' | 'adam' | 'adamw', lr } expected");
  const known = Object.hasOwn(OPTIMIZER_KEYS, String(o.type)) ? OPTIMIZER_KEYS[String(o.type)] : undefined;
  if (!known) throw new WebRnnError('invalid-option', `optimizer.type must be 'sgd', 'adam' or 'adamw', got '${String((o as { type?: unknown }).type)}'`);
  // Unknown keys first: a misspelled lr ({ learningRate }) is named, not reported as missing.
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new WebRnnError('invalid-option', `optimizer: unknown option '${k}' for ${String(o.type)} (known: ${known.join(', ')})`);
  const lr = finiteNonNegative('optimizer.lr', o.lr, NaN);
  if (Number.isNaN(lr)) throw new WebRnnError('invalid-option', 'optimizer.lr is required');
  if (o.type === 'sgd') {
    const momentum = finiteNonNegative('optimizer.momentum', o.momentum, 0);
    const nesterov = o.nesterov ?? false;
    if (nesterov && momentum === 0) throw new WebRnnError('invalid-option', 'optimizer: nesterov needs a momentum above 0');
    return { type: 'sgd', hyper: { lr, momentum, nesterov, weightDecay: finiteNonNegative('optimizer.weightDecay', o.weightDecay, 0) } };
  }
  if (o.type === 'adam' || o.type === 'adamw') {
    const [beta1, beta2] = o.betas ?? [0.9, 0.999];
    for (const [n, b] of [
      ['betas[0]', beta1],
      ['betas[1]', beta2],
    ] as const) {
      if (!(b >= 0 && b < 1)) throw new WebRnnError('invalid-option', `optimizer.${n} must be in [0, 1), got ${b}`);
    }
    const eps = finiteNonNegative('optimizer.eps', o.eps, 1e-8);
    const weightDecay = finiteNonNegative('optimizer.weightDecay', o.weightDecay, o.type === 'adamw' ? 0.01 : 0);
    return { type: o.type, hyper: { lr, beta1, beta2, eps, weightDecay, decoupled: o.type === 'adamw' } };
  }
  throw new WebRnnError('invalid-option', `optimizer.type must be 'sgd', 'adam' or 'adamw', got '${String((o as { type?: unknown }).type)}'`);
}

/**
 * The loss and the rows it is on, checked: `lossOn` defaults to the model's own output, every
 * step, or the final states without returnSequences.
 */
export function resolveLoss(what: string, spec: { returnSequences: boolean }, options: { loss: unknown; lossOn?: unknown }): { loss: LossKind; lossOn: 'all' | 'last' | 'final' } {
  if (options.loss !== 'mse' && options.loss !== 'cross-entropy') throw new WebRnnError('invalid-option', `${what}: loss must be 'mse' or 'cross-entropy', got '${String(options.loss)}'`);
  const lossOn = options.lossOn ?? (spec.returnSequences ? 'all' : 'final');
  if (lossOn !== 'all' && lossOn !== 'last' && lossOn !== 'final') throw new WebRnnError('invalid-option', `${what}: lossOn must be 'all', 'last' or 'final', got '${String(lossOn)}'`);
  return { loss: options.loss, lossOn };
}

/** The metadata entry of a saved file holding the optimizer's configuration and step count (train/checkpoint.ts). */
export const OPTIMIZER_METADATA = 'webrnn.optimizer';

/** The configuration `o` stands for, every default written out. */
export function optimizerConfigOf(o: ResolvedOptimizer): OptimizerConfig {
  if (o.type === 'sgd') {
    const h = o.hyper;
    return { type: 'sgd', lr: h.lr, momentum: h.momentum, nesterov: h.nesterov, weightDecay: h.weightDecay };
  }
  const h = o.hyper;
  return { type: o.type, lr: h.lr, betas: [h.beta1, h.beta2], eps: h.eps, weightDecay: h.weightDecay };
}

/** Validate the clipping options: 0 (or absent) turns each off. */
export function resolveClipping(options: Pick<TrainStepOptions, 'clipGradNorm' | 'clipGradValue'>): { maxNorm: number; clipValue: number } {
  return {
    maxNorm: finiteNonNegative('clipGradNorm', options.clipGradNorm, 0),
    clipValue: finiteNonNegative('clipGradValue', options.clipGradValue, 0),
  };
}

/** Options of `model.trainSequence`: truncated backpropagation through time. */
export interface TrainSequenceOptions extends Omit<TrainStepOptions, 'lossOn' | 'returnState'> {
  /** Steps per chunk: gradients flow back at most this far; the state flows on across chunks. */
  chunkLength: number;
  /**
   * Length of each sequence [B] over the whole sequence: a chunk trains the sequences that
   * reach into it (each on its own steps); a sequence that has ended keeps its final state.
   */
  seqLens?: ArrayLike<number>;
}

/** Result of `model.trainSequence`. */
export interface TrainSequenceResult {
  /** Each chunk's loss (when read back). */
  losses: number[];
  /** The final states after the whole sequence. */
  hN: Float32Array;
  cN?: Float32Array;
}
