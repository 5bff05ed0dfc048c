/**
 * The options and results of a model's calls (forward, gradients, warmup), and the checks of
 * their arguments, made before anything is queued.
 */
import { WebRnnError } from '../errors.js';
import type { StateDict } from '../spec/parameters.js';
import { describeLayers, hasCellState, outputWidth, stateShape, type CellKind, type ModelSpec } from '../spec/spec.js';
import { checkCount, checkFinite, checkLengths, checkTensor, reverseSteps, swapBatchTime } from '../arrays.js';
import { checkIds, lengthsFromIds } from '../spec/embedding.js';

/** Options of {@link RecurrentModel.forward}. */
export interface ForwardOptions {
  /** Sequences in the batch (B). */
  batch: number;
  /** Time steps (T). */
  seqLen: number;
  /** Initial hidden state [L·D, B, H]; zeros when absent. */
  h0?: Float32Array;
  /** Initial cell state [L·D, B, H], LSTM only; zeros when absent. */
  c0?: Float32Array;
  /** Check x, h0 and c0 for NaN and ±Infinity (default: the model's `checkFinite` option). */
  checkFinite?: boolean;
  /**
   * The length of each sequence [B], 1 … seqLen. Sequence b runs its first
   * seqLens[b] steps (the reverse direction starts at its own last step); its outputs after
   * that are 0 and hN/cN hold its state at its last step, as with PyTorch's packed sequences
   * and ONNX's sequence_lens. Gradients treat the outputs past a sequence's end as the
   * constants they are (zero), as autograd of packed sequences does.
   */
  seqLens?: ArrayLike<number>;
}

/** Options of {@link RecurrentModel.warmup}. */
export interface WarmupOptions {
  /** Also compile what {@link RecurrentModel.gradients} and {@link RecurrentModel.trainStep} run (default false). */
  training?: boolean;
}

/**
 * What a model's results hold of the LSTM's cell state: for an LSTM (K = 'lstm') the arrays
 * `names`, for the other cells none; for a model of unknown kind (K = CellKind) either.
 */
export type CellStates<K extends CellKind, Names extends string> = K extends 'lstm' ? { [N in Names]: Float32Array } : { [N in Names]?: undefined };

/** The parts of a forward result every cell has (see {@link ForwardOutput}). */
export interface ForwardOutputBase {
  /** [T, B, D·H], or [B, T, D·H] when batchFirst; directions concatenated, forward first. */
  output: Float32Array;
  /** Final hidden states [L·D, B, H], index layer·D + direction. */
  hN: Float32Array;
  /**
   * The model's output. With returnSequences (the default): the read-out of every step
   * [T, B, O] ([B, T, O] when batchFirst), or without a read-out the output itself (the same
   * array). With returnSequences false: one row per sequence, [B, O], the read-out of the last
   * layer's final states [h_fwd | h_rev], or those states themselves [B, D·H].
   */
  y: Float32Array;
}

/** Result of {@link RecurrentModel.forward}; an LSTM's also holds `cN`, its final cell states [L·D, B, H]. */
export type ForwardOutput<K extends CellKind = CellKind> = ForwardOutputBase & CellStates<K, 'cN'>;

/** Options of {@link RecurrentModel.gradients}: those of forward plus the output gradients. */
export interface GradientOptions extends ForwardOptions {
  /** Gradient of the output, in the output's layout. */
  gradOutput: Float32Array;
  /** Gradient of hN [L·D, B, H]; zeros when absent. */
  gradHN?: Float32Array;
  /** Gradient of cN [L·D, B, H], LSTM only; zeros when absent. */
  gradCN?: Float32Array;
  /**
   * A training pass: with dropout between layers (the model's `dropout`), the pass drops as a
   * training step does, with the masks of the model's next training call. Default false.
   */
  training?: boolean;
}

/** The gradients every cell's {@link RecurrentModel.gradients} gives (see {@link GradientOutput}). */
export interface GradientOutputBase extends ForwardOutputBase {
  /** Gradient of every parameter of the recurrent layers (not a read-out's), under PyTorch's names and layouts. */
  params: StateDict;
  /** Gradient of x, in x's layout. */
  input: Float32Array;
  /** Gradient of h0 [L·D, B, H] (zero-initial states included). */
  h0: Float32Array;
}

/** Result of {@link RecurrentModel.gradients}; an LSTM's also holds `c0` (the gradient of c0) and `cN`. */
export type GradientOutput<K extends CellKind = CellKind> = GradientOutputBase & CellStates<K, 'cN' | 'c0'>;

export function checkOptions(what: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new WebRnnError('invalid-option', `${what}: an options object { ${known.slice(0, 3).join(', ')}, … } expected`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new WebRnnError('invalid-option', `${what}: unknown option '${key}' (known: ${known.join(', ')})`);
  }
}



/** Check gradOutput, gradHN and gradCN of a gradients call; returns them sequence-major and copied. */
export function prepareOutputGradients(spec: ModelSpec, options: GradientOptions, B: number, T: number): { gradOutput: Float32Array; gradHN?: Float32Array; gradCN?: Float32Array } {
  const F = outputWidth(spec);
  checkTensor('gradOutput', options.gradOutput, spec.batchFirst ? [B, T, F] : [T, B, F]);
  if (options.gradHN !== undefined) checkTensor('gradHN', options.gradHN, stateShape(spec, B));
  if (options.gradCN !== undefined) {
    if (!hasCellState(spec)) throw new WebRnnError('invalid-option', `gradients: gradCN is only for LSTM models (or stacks with LSTM layers), this is ${describeLayers(spec)}`);
    checkTensor('gradCN', options.gradCN, stateShape(spec, B, true));
  }
  if (options.checkFinite ?? spec.checkFinite) {
    checkFinite('gradOutput', options.gradOutput);
    if (options.gradHN) checkFinite('gradHN', options.gradHN);
    if (options.gradCN) checkFinite('gradCN', options.gradCN);
  }
  const gradOutput = spec.batchFirst ? swapBatchTime(options.gradOutput, B, T, F, false, new Float32Array(T * B * F)) : options.gradOutput.slice();
  return { gradOutput, gradHN: options.gradHN?.slice(), gradCN: options.gradCN?.slice() };
}

/** Throw unless the model's gradients can be taken (and, for training, it has a read-out). */
export function checkTrainable(spec: ModelSpec, what: string, needsReadout: boolean): void {
  if (needsReadout && spec.outputSize === 0) throw new WebRnnError('invalid-option', `${what}: the model has no read-out; create it with outputSize`);
  if (spec.layers.some((l) => l.kind === 'gru' && !l.linearBeforeReset)) throw new WebRnnError('invalid-option', `${what}: not available for a GRU with linearBeforeReset: false (ONNX linear_before_reset = 0)`);
  if (spec.peepholes) throw new WebRnnError('invalid-option', `${what}: not available for an LSTM with peepholes`);
  if (spec.layers.some((l) => !l.cell.standard)) throw new WebRnnError('invalid-option', `${what}: not available for cells with ONNX activations, clip or input_forget`);
  if (spec.weightPrecision === 'f16') throw new WebRnnError('invalid-option', `${what}: not available with weightPrecision 'f16' (for inference; train in 'f32')`);
}

/**
 * Check x (or a model's token ids), h0, c0 and seqLens of a forward, gradient or training call
 * of a model of `spec`; returns them sequence-major and copied, and each row's length (given,
 * or under the embedding's maskZero read from the ids).
 */
export function prepareInputs(
  spec: ModelSpec,
  what: string,
  x: Float32Array | Int32Array,
  options: ForwardOptions,
): { B: number; T: number; xSeq: Float32Array; ids: Int32Array | null; seqLens: Float32Array | null; h0?: Float32Array; c0?: Float32Array } {
  const B = checkCount('batch', options.batch);
  const T = checkCount('seqLen', options.seqLen);
  const I = spec.inputSize;
  let xSeq = new Float32Array(0);
  let ids: Int32Array | null = null;
  if (spec.embedding) {
    checkIds(spec, 'x', x, spec.batchFirst ? [B, T] : [T, B]);
    ids = spec.batchFirst ? swapBatchTime(x, B, T, 1, false, new Int32Array(x.length)) : (x as Int32Array).slice();
  } else {
    checkTensor('x', x, spec.batchFirst ? [B, T, I] : [T, B, I]);
    if (options.checkFinite ?? spec.checkFinite) checkFinite('x', x);
    // Copies: the caller may change the arrays once the call returns.
    xSeq = spec.batchFirst ? swapBatchTime(x, B, T, I, false, new Float32Array(x.length)) : (x as Float32Array).slice();
  }
  if (options.h0 !== undefined) checkTensor('h0', options.h0, stateShape(spec, B));
  if (options.c0 !== undefined) {
    if (!hasCellState(spec)) throw new WebRnnError('invalid-option', `${what}: c0 is only for LSTM models (or stacks with LSTM layers), this is ${describeLayers(spec)}`);
    checkTensor('c0', options.c0, stateShape(spec, B, true));
  }
  if (options.checkFinite ?? spec.checkFinite) {
    if (options.h0) checkFinite('h0', options.h0);
    if (options.c0) checkFinite('c0', options.c0);
  }
  let seqLens = options.seqLens === undefined ? null : checkLengths(options.seqLens, B, T);
  if (spec.embedding?.maskZero) {
    if (seqLens) throw new WebRnnError('invalid-option', `${what}: seqLens given to a model whose embedding has maskZero, where the lengths come from the ids`);
    seqLens = lengthsFromIds(ids!, B, T);
  }
  if (spec.goBackwards) {
    // Each sequence read from its last step back (after maskZero has read the lengths).
    if (ids) ids = reverseSteps(ids, B, T, 1, seqLens);
    else xSeq = reverseSteps(xSeq, B, T, I, seqLens);
  }
  return { B, T, xSeq, ids, seqLens, h0: options.h0?.slice(), c0: options.c0?.slice() };
}
