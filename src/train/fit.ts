/**
 * model.fit: epochs of minibatch training over a dataset of many sequences. Each epoch draws
 * the training sequences in a seeded random order (without replacement) and runs one trainStep
 * per minibatch; the learning rate follows a schedule by epoch; the validation loss is measured
 * after each epoch (train/evaluate.ts); early stopping watches it. The loop yields to the event
 * loop between steps and stops there when its AbortSignal fires, so a page stays responsive and
 * the model is always left after a whole step.
 */
import { checkCount, checkInput, checkLengths, checkTensor, gatherSequences } from '../arrays.js';
import { WebRnnError } from '../errors.js';
import { yieldToEventLoop } from '../platform.js';
import type { StateDict } from '../spec/parameters.js';
import { createRandom } from '../spec/random.js';
import type { ModelSpec } from '../spec/spec.js';
import type { EvaluateOptions, EvaluateResult } from './evaluate.js';
import { resolveClipping, resolveLoss, resolveOptimizer, type LossKind, type OptimizerConfig, type TrainStepOptions, type TrainStepResult } from './options.js';

/** How the learning rate changes from epoch to epoch (as torch.optim.lr_scheduler's StepLR, CosineAnnealingLR, ExponentialLR). */
export type LearningRateSchedule =
  | { type: 'constant' }
  /** lr · gamma^⌊epoch / stepSize⌋. */
  | { type: 'step'; stepSize: number; gamma?: number }
  /** minLr + (lr − minLr) · (1 + cos(π · epoch / epochs)) / 2, over `epochs` (default: fit's). */
  | { type: 'cosine'; epochs?: number; minLr?: number }
  /** lr · gamma^epoch. */
  | { type: 'exponential'; gamma: number };

/** Data to validate on: `batch` sequences in the layout of fit's x and y. */
export interface ValidationData {
  /** [T, batch, I] ([batch, T, I] when batchFirst), or token ids [T, batch] ([batch, T]). */
  x: Float32Array | Int32Array;
  y: Float32Array;
  batch: number;
  seqLens?: ArrayLike<number>;
}

/** What onProgress receives after each step. */
export interface FitProgress {
  /** 0-based epoch and step within it. */
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  /** This step's loss (before its update). */
  loss: number;
  lr: number;
  /** Since fit began. */
  elapsedMs: number;
}

/** One epoch in fit's history. */
export interface FitEpoch {
  epoch: number;
  /** The mean of its steps' losses, each weighted by its sequences. */
  loss: number;
  /** The loss on the validation data after the epoch, where there is any. */
  valLoss?: number;
  lr: number;
  elapsedMs: number;
}

/** Options of `model.fit`. */
export interface FitOptions {
  /** Sequences in x (and y). */
  batch: number;
  seqLen: number;
  /** Each sequence's length [batch], as for trainStep. */
  seqLens?: ArrayLike<number>;
  loss: LossKind;
  /** As for trainStep (default: the model's own y). */
  lossOn?: 'all' | 'last' | 'final';
  /** Default: the model's (`model.optimizer`). */
  optimizer?: OptimizerConfig;
  /** Default 1. */
  epochs?: number;
  /** Sequences per step, default 32 (or fewer, when there are fewer); the last step of an epoch takes what is left. */
  batchSize?: number;
  /**
   * Draw each epoch's minibatches in a new random order (default true; a stateful model's
   * default is false); false keeps the data's order.
   */
  shuffle?: boolean;
  /** Seed of the order (default: the model's seed). */
  seed?: number;
  /**
   * Data to measure the loss on after each epoch, or a fraction in (0, 1): the last
   * ⌈fraction · batch⌉ sequences of x, held out of training (as Keras's validation_split).
   */
  validation?: ValidationData | number;
  /** The learning rate by epoch: a name with its defaults (step: stepSize ⌈epochs/3⌉, gamma 0.1; exponential: gamma 0.9; cosine: to 0 over the epochs) or a schedule. Default 'constant'. */
  schedule?: LearningRateSchedule['type'] | LearningRateSchedule;
  clipGradNorm?: number;
  clipGradValue?: number;
  /** Stop when the validation loss (the training loss without validation) has not improved by minDelta for `patience` epochs; restoreBest puts back the best epoch's parameters. */
  earlyStopping?: { patience: number; minDelta?: number; restoreBest?: boolean };
  /** Called after every step. */
  onProgress?: (progress: FitProgress) => void;
  /** Called after every epoch, with its entry of the history. */
  onEpochEnd?: (epoch: FitEpoch) => void;
  /** Stop between steps once aborted; fit then resolves with `stopped: 'aborted'`. */
  signal?: AbortSignal;
  checkFinite?: boolean;
}

/** What fit returns. */
export interface FitHistory {
  /** Each epoch that ran to its end (an aborted one's steps count in `steps` only). */
  epochs: FitEpoch[];
  /** Steps taken. */
  steps: number;
  /** Why it ended: all epochs done, early stopping, or the signal. */
  stopped: 'completed' | 'early-stopping' | 'aborted';
  /** The epoch of the lowest monitored loss (null before the first epoch ends). */
  bestEpoch: number | null;
}

/** What fit needs of a model. */
export interface FitTrainee {
  readonly spec: ModelSpec;
  readonly optimizer: OptimizerConfig | null;
  trainStep(x: Float32Array | Int32Array, target: Float32Array, options: TrainStepOptions): Promise<TrainStepResult>;
  evaluate(x: Float32Array | Int32Array, target: Float32Array, options: EvaluateOptions): Promise<EvaluateResult>;
  stateDict(): Promise<StateDict>;
  loadStateDict(dict: StateDict): void;
}

const KNOWN = [
  'batch', 'seqLen', 'seqLens', 'loss', 'lossOn', 'optimizer', 'epochs', 'batchSize', 'shuffle', 'seed', 'validation', 'schedule',
  'clipGradNorm', 'clipGradValue', 'earlyStopping', 'onProgress', 'onEpochEnd', 'signal', 'checkFinite',
];

function fail(message: string): never {
  throw new WebRnnError('invalid-option', `fit: ${message}`);
}

function positiveInteger(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || (v as number) < 1) fail(`${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

/** The learning rate of epoch `e` under `schedule`, from `lr`. */
export function scheduledRate(schedule: LearningRateSchedule, lr: number, e: number, epochs: number): number {
  switch (schedule.type) {
    case 'constant':
      return lr;
    case 'step':
      return lr * (schedule.gamma ?? 0.1) ** Math.floor(e / schedule.stepSize);
    case 'exponential':
      return lr * schedule.gamma ** e;
    case 'cosine': {
      const n = schedule.epochs ?? epochs;
      const min = schedule.minLr ?? 0;
      return min + ((lr - min) * (1 + Math.cos((Math.PI * Math.min(e, n)) / n))) / 2;
    }
  }
}

function resolveSchedule(s: FitOptions['schedule'], epochs: number): LearningRateSchedule {
  const given = typeof s === 'string' ? { type: s } : (s ?? { type: 'constant' });
  if (given === null || typeof given !== 'object') fail(`schedule must be 'constant', 'step', 'cosine', 'exponential' or such an object, got ${String(s)}`);
  const o = given as Record<string, unknown>;
  const known: Record<string, string[]> = { constant: ['type'], step: ['type', 'stepSize', 'gamma'], cosine: ['type', 'epochs', 'minLr'], exponential: ['type', 'gamma'] };
  const keys = Object.hasOwn(known, String(o.type)) ? known[String(o.type)] : undefined;
  if (!keys) fail(`schedule.type must be 'constant', 'step', 'cosine' or 'exponential', got '${String(o.type)}'`);
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`schedule: unknown option '${k}' for ${String(o.type)} (known: ${keys.join(', ')})`);
  const rate = (name: string, v: unknown, fallback: number, max = 1): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v > 0 && v <= max)) fail(`schedule.${name} must be in (0, ${max}], got ${String(v)}`);
    return v as number;
  };
  switch (o.type) {
    case 'step':
      return { type: 'step', stepSize: positiveInteger('schedule.stepSize', o.stepSize, Math.max(1, Math.ceil(epochs / 3))), gamma: rate('gamma', o.gamma, 0.1) };
    case 'exponential':
      return { type: 'exponential', gamma: rate('gamma', o.gamma, 0.9) };
    case 'cosine': {
      if (o.minLr !== undefined && !(typeof o.minLr === 'number' && o.minLr >= 0 && Number.isFinite(o.minLr))) fail(`schedule.minLr must be a finite number ≥ 0, got ${String(o.minLr)}`);
      return { type: 'cosine', epochs: positiveInteger('schedule.epochs', o.epochs, epochs), minLr: (o.minLr as number | undefined) ?? 0 };
    }
    default:
      return { type: 'constant' };
  }
}

export async function fit(model: FitTrainee, x: Float32Array | Int32Array, y: Float32Array, options: FitOptions): Promise<FitHistory> {
  if (options === null || typeof options !== 'object') fail('an options object { batch, seqLen, loss, … } expected');
  for (const k of Object.keys(options)) if (!KNOWN.includes(k)) fail(`unknown option '${k}' (known: ${KNOWN.join(', ')})`);
  const { spec } = model;
  if (spec.outputSize === 0) fail('the model has no read-out; create it with outputSize');
  const N = checkCount('batch', options.batch);
  const T = checkCount('seqLen', options.seqLen);
  const epochs = positiveInteger('epochs', options.epochs, 1);
  const optimizer = options.optimizer ?? model.optimizer ?? fail("optimizer is required ({ type: 'sgd' | 'adam' | 'adamw', lr }) until the model has trained or was loaded with one");
  const baseLr = resolveOptimizer(optimizer).hyper.lr;
  const schedule = resolveSchedule(options.schedule, epochs);
  resolveClipping(options);
  const { lossOn } = resolveLoss('fit', spec, options);
  const ce = options.loss === 'cross-entropy';
  // y's rows: every step of each sequence with lossOn 'all', else one per sequence; F values a row.
  const F = ce ? 1 : spec.outputSize;
  const perStep = lossOn === 'all';
  // Values per step of x: a vector, or a token id.
  const I = spec.embedding ? 1 : spec.inputSize;
  checkInput('x', x, spec.batchFirst ? [N, T, I] : [T, N, I], spec.embedding !== null);
  checkTensor('y', y, perStep ? (spec.batchFirst ? [N, T, F] : [T, N, F]) : [N, F]);
  const lengths = options.seqLens === undefined ? null : checkLengths(options.seqLens, N, T);
  if (options.shuffle !== undefined && typeof options.shuffle !== 'boolean') fail(`shuffle must be a boolean, got ${String(options.shuffle)}`);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) fail(`seed must be an integer, got ${String(options.seed)}`);
  for (const k of ['onProgress', 'onEpochEnd'] as const) if (options[k] !== undefined && typeof options[k] !== 'function') fail(`${k} must be a function`);
  const stopping = options.earlyStopping;
  if (stopping !== undefined) {
    if (stopping === null || typeof stopping !== 'object') fail('earlyStopping: { patience, minDelta?, restoreBest? } expected');
    positiveInteger('earlyStopping.patience', stopping.patience, 1);
    if (stopping.minDelta !== undefined && !(stopping.minDelta >= 0)) fail(`earlyStopping.minDelta must be ≥ 0, got ${String(stopping.minDelta)}`);
  }

  // Which sequences train and which validate.
  let trainIds = Array.from({ length: N }, (_, b) => b);
  let validation: ValidationData | null = null;
  const v = options.validation;
  if (typeof v === 'number') {
    if (!(v > 0 && v < 1)) fail(`validation as a fraction must be in (0, 1), got ${v}`);
    const held = Math.ceil(v * N);
    if (held >= N) fail(`validation ${v} of ${N} sequences leaves none to train on`);
    const ids = trainIds.slice(N - held);
    trainIds = trainIds.slice(0, N - held);
    validation = pick(ids);
  } else if (v !== undefined) {
    if (v === null || typeof v !== 'object') fail('validation: { x, y, batch } or a fraction in (0, 1) expected');
    const vb = checkCount('validation.batch', v.batch);
    checkInput('validation.x', v.x, spec.batchFirst ? [vb, T, I] : [T, vb, I], spec.embedding !== null);
    checkTensor('validation.y', v.y, perStep ? (spec.batchFirst ? [vb, T, F] : [T, vb, F]) : [vb, F]);
    validation = { ...v, seqLens: v.seqLens === undefined ? undefined : checkLengths(v.seqLens, vb, T) };
  }
  const batchSize = Math.min(positiveInteger('batchSize', options.batchSize, 32), trainIds.length);
  // A stateful model's row i of each minibatch goes on from row i of the one before (Keras's
  // stateful): the data's order, and every minibatch of one size.
  const shuffle = options.shuffle ?? !spec.stateful;
  if (spec.stateful && shuffle) fail('shuffle on a stateful model, whose minibatches go on from each other in order');
  if (spec.stateful && trainIds.length % batchSize !== 0) fail(`a stateful model trains on minibatches of one size: ${trainIds.length} training sequences are not a multiple of batchSize ${batchSize}`);

  /** x, y and lengths of sequences `ids`, in x's layout. */
  function pick(ids: readonly number[]): ValidationData {
    return {
      x: gatherSequences(x, I, T, N, spec.batchFirst, 0, T, ids),
      y: perStep ? gatherSequences(y, F, T, N, spec.batchFirst, 0, T, ids) : gatherSequences(y, F, 1, N, false, 0, 1, ids),
      batch: ids.length,
      seqLens: lengths ? ids.map((b) => lengths[b]) : undefined,
    };
  }

  /** The mean loss over the validation data, in steps of batchSize sequences. */
  async function validate(data: ValidationData): Promise<number> {
    let sum = 0;
    let weight = 0;
    const all = Array.from({ length: data.batch }, (_, b) => b);
    for (let at = 0; at < data.batch; at += batchSize) {
      const ids = all.slice(at, at + batchSize);
      const part = {
        x: gatherSequences(data.x, I, T, data.batch, spec.batchFirst, 0, T, ids),
        y: perStep ? gatherSequences(data.y, F, T, data.batch, spec.batchFirst, 0, T, ids) : gatherSequences(data.y, F, 1, data.batch, false, 0, 1, ids),
      };
      const r = await model.evaluate(part.x, part.y, { batch: ids.length, seqLen: T, seqLens: data.seqLens && ids.map((b) => data.seqLens![b]), loss: options.loss, lossOn, checkFinite: options.checkFinite });
      sum += r.loss * r.weight;
      weight += r.weight;
    }
    return sum / weight;
  }

  const rng = createRandom(options.seed ?? spec.seed);
  const start = performance.now();
  const history: FitHistory = { epochs: [], steps: 0, stopped: 'completed', bestEpoch: null };
  const stepsPerEpoch = Math.ceil(trainIds.length / batchSize);
  let best = Infinity;
  let bestParams: StateDict | null = null;
  let stepsAtBest = 0;
  let waited = 0;
  epochs: for (let epoch = 0; epoch < epochs; epoch++) {
    const order = trainIds.slice();
    if (shuffle) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const lr = scheduledRate(schedule, baseLr, epoch, epochs);
    let lossSum = 0;
    let seen = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      await yieldToEventLoop();
      if (options.signal?.aborted) {
        history.stopped = 'aborted';
        break epochs;
      }
      const ids = order.slice(step * batchSize, (step + 1) * batchSize);
      const part = pick(ids);
      const r = await model.trainStep(part.x, part.y, {
        batch: ids.length,
        seqLen: T,
        seqLens: part.seqLens,
        loss: options.loss,
        lossOn,
        optimizer: { ...optimizer, lr },
        clipGradNorm: options.clipGradNorm,
        clipGradValue: options.clipGradValue,
        checkFinite: options.checkFinite,
      });
      history.steps++;
      lossSum += r.loss! * ids.length;
      seen += ids.length;
      options.onProgress?.({ epoch, step, stepsPerEpoch, loss: r.loss!, lr, elapsedMs: performance.now() - start });
    }
    const entry: FitEpoch = { epoch, loss: lossSum / seen, lr, elapsedMs: 0 };
    if (validation) entry.valLoss = await validate(validation);
    entry.elapsedMs = performance.now() - start;
    history.epochs.push(entry);
    options.onEpochEnd?.(entry);
    const monitored = entry.valLoss ?? entry.loss;
    if (monitored < best - (stopping?.minDelta ?? 0)) {
      best = monitored;
      history.bestEpoch = epoch;
      waited = 0;
      if (stopping?.restoreBest) {
        bestParams = await model.stateDict();
        stepsAtBest = history.steps;
      }
    } else if (stopping && ++waited >= stopping.patience) {
      history.stopped = 'early-stopping';
      break;
    }
  }
  if (bestParams && history.steps !== stepsAtBest) model.loadStateDict(bestParams);
  return history;
}
