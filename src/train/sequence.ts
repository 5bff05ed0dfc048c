/**
 * Truncated backpropagation through time: a long sequence cut into chunks, each one training
 * step of the model from the previous chunk's final state.
 */
import { checkCount, checkInput, checkLengths, checkTensor, gatherSequences } from '../arrays.js';
import { WebRnnError } from '../errors.js';
import { stateSize, stateWidth, type ModelSpec } from '../spec/spec.js';
import type { TrainSequenceOptions, TrainSequenceResult, TrainStepOptions, TrainStepResult } from './options.js';

/** What trainSequence needs of a model: its spec (sizes, layout, layers) and its training step. */
export interface SequenceTrainee {
  readonly spec: ModelSpec;
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
  const chunk = <A extends Float32Array | Int32Array>(a: A, f: number, t0: number, t1: number, bs: number[]): A => gatherSequences(a, f, T, B, spec.batchFirst, t0, t1, bs);
  // States ([L·D, B, H]; each layer's [D, B, H] in turn): the rows of sequences `bs`, and those
  // rows written back. The blocks of [B, H] rows, with `cells` those of the LSTM layers only.
  const blocks = (cells: boolean): number[] => spec.layers.flatMap((l) => (cells && l.kind !== 'lstm' ? [] : Array<number>(l.numDirections).fill(cells ? l.hiddenSize : stateWidth(l))));
  const pickState = (s: Float32Array, bs: number[], cells = false): Float32Array => {
    const out = new Float32Array((s.length / B) * bs.length);
    let from = 0;
    let to = 0;
    for (const H of blocks(cells)) {
      bs.forEach((b, q) => out.set(s.subarray(from + b * H, from + (b + 1) * H), to + q * H));
      from += B * H;
      to += bs.length * H;
    }
    return out;
  };
  const putState = (into: Float32Array, part: Float32Array, bs: number[], cells = false): void => {
    let at = 0;
    let from = 0;
    for (const H of blocks(cells)) {
      bs.forEach((b, q) => into.set(part.subarray(from + q * H, from + (q + 1) * H), at + b * H));
      at += B * H;
      from += bs.length * H;
    }
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
      c0: c && pickState(c, bs, true),
      mask: mask ? chunk(mask, 1, t0, t1, bs) : undefined,
      lossOn: 'all',
      returnState: true,
    });
    if (r.loss !== undefined) losses.push(r.loss);
    h ??= new Float32Array(stateSize(spec, B));
    putState(h, r.hN!, bs);
    if (r.cN) {
      c ??= new Float32Array(stateSize(spec, B, true));
      putState(c, r.cN, bs, true);
    }
  }
  const result: TrainSequenceResult = { losses, hN: h! };
  if (c) result.cN = c;
  return result;
}
