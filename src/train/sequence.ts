/**
 * Truncated backpropagation through time: a long sequence cut into chunks, each one training
 * step of the model from the previous chunk's final state.
 */
import { checkCount, checkInput, checkLengths, checkTensor, gatherSequences } from '../arrays.js';
import { WebRnnError } from '../errors.js';
import type { TrainSequenceOptions, TrainSequenceResult, TrainStepOptions, TrainStepResult } from './options.js';

/** What trainSequence needs of a model: the sizes and layout of its options (a ModelSpec has them) and its training step. */
export interface SequenceTrainee {
  readonly spec: {
    readonly inputSize: number;
    readonly embedding: object | null;
    readonly hiddenSize: number;
    readonly outputSize: number;
    readonly numLayers: number;
    readonly numDirections: number;
    readonly batchFirst: boolean;
  };
  trainStep(x: Float32Array | Int32Array, target: Float32Array, options: TrainStepOptions): Promise<TrainStepResult>;
}

/**
 * RecurrentModel.trainSequence: the sequence is cut into chunks of `chunkLength` steps (the
 * last may be shorter); each chunk is one trainStep whose initial state is the previous
 * chunk's final state (carried forward, not differentiated through), with the loss on every
 * step.
 *
 * @param x the whole sequence [T, B, I] ([B, T, I] when batchFirst)
 * @param target as for trainStep with lossOn 'all', over the whole sequence
 */
export async function trainSequence(model: SequenceTrainee, x: Float32Array | Int32Array, target: Float32Array, options: TrainSequenceOptions): Promise<TrainSequenceResult> {
  const { spec } = model;
  const { chunkLength, mask, seqLens: lengths, ...stepOptions } = options;
  if (!Number.isInteger(chunkLength) || chunkLength < 1) throw new WebRnnError('invalid-option', `trainSequence: chunkLength must be a positive integer, got ${String(chunkLength)}`);
  const B = checkCount('batch', options.batch);
  const T = checkCount('seqLen', options.seqLen);
  // Values per step of x: a vector, or a token id.
  const I = spec.embedding ? 1 : spec.inputSize;
  const ce = options.loss === 'cross-entropy';
  const F = ce ? 1 : spec.outputSize;
  const rows = spec.batchFirst ? [B, T] : [T, B];
  checkInput('x', x, spec.embedding ? rows : [...rows, I], spec.embedding !== null);
  checkTensor('target', target, ce ? rows : [...rows, F]);
  if (mask !== undefined) checkTensor('mask', mask, rows);
  const seqLens = lengths === undefined ? null : checkLengths(lengths, B, T);
  const LD = spec.numLayers * spec.numDirections;
  const H = spec.hiddenSize;
  const chunk = <A extends Float32Array | Int32Array>(a: A, f: number, t0: number, t1: number, bs: number[]): A => gatherSequences(a, f, T, B, spec.batchFirst, t0, t1, bs);
  // States [L·D, B, H]: the rows of sequences `bs`, and those rows written back.
  const pickState = (s: Float32Array, bs: number[]): Float32Array => {
    const out = new Float32Array(LD * bs.length * H);
    for (let k = 0; k < LD; k++) bs.forEach((b, q) => out.set(s.subarray((k * B + b) * H, (k * B + b + 1) * H), (k * bs.length + q) * H));
    return out;
  };
  const putState = (into: Float32Array, part: Float32Array, bs: number[]): void => {
    for (let k = 0; k < LD; k++) bs.forEach((b, q) => into.set(part.subarray((k * bs.length + q) * H, (k * bs.length + q + 1) * H), (k * B + b) * H));
  };
  const losses: number[] = [];
  let h = options.h0?.slice();
  let c = options.c0?.slice();
  const all = Array.from({ length: B }, (_, b) => b);
  for (let t0 = 0; t0 < T; t0 += chunkLength) {
    const t1 = Math.min(T, t0 + chunkLength);
    // The sequences that reach into this chunk, each for min(L_b − t0, t1 − t0) steps; a
    // sequence that has ended sits the chunk out and keeps its state.
    const bs = seqLens ? all.filter((b) => seqLens[b] > t0) : all;
    if (bs.length === 0) break;
    const own = seqLens ? bs.map((b) => Math.min(seqLens[b] - t0, t1 - t0)) : undefined;
    const r = await model.trainStep(chunk(x, I, t0, t1, bs), chunk(target, F, t0, t1, bs), {
      ...stepOptions,
      batch: bs.length,
      seqLen: t1 - t0,
      seqLens: own,
      h0: h && pickState(h, bs),
      c0: c && pickState(c, bs),
      mask: mask ? chunk(mask, 1, t0, t1, bs) : undefined,
      lossOn: 'all',
      returnState: true,
    });
    if (r.loss !== undefined) losses.push(r.loss);
    h ??= new Float32Array(LD * B * H);
    putState(h, r.hN!, bs);
    if (r.cN) {
      c ??= new Float32Array(LD * B * H);
      putState(c, r.cN, bs);
    }
  }
  const result: TrainSequenceResult = { losses, hN: h! };
  if (c) result.cN = c;
  return result;
}
