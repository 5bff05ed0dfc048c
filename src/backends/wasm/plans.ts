/**
 * The wasm backend's plans: the buffers and encoded program of a forward, gradient or training
 * pass of one shape (passes.ts records them), made once and run per call.
 */
import type { PassInputs, ReadoutRows, TrainStepRequest } from '../../model/backend.js';
import { outputWidth, READOUT_BIAS, READOUT_WEIGHT, stateSize, stateWidth, type ModelSpec } from '../../spec/spec.js';
import { patchRows } from './projection.js';
import type { ResolvedOptimizer } from '../../train/options.js';
import type { WasmParameters } from './parameters.js';
import { embeddingRows } from '../../spec/embedding.js';
import { BackwardBuffers, Blocks, ForwardBuffers, patchDropout, recordBackward, recordForward } from './passes.js';
import { Program, type EncodedProgram } from './program.js';
import type { WasmRuntime } from './runtime.js';

/** A plan: its blocks and program, released together. */
abstract class Plan {
  protected readonly blocks: Blocks;
  program!: EncodedProgram;

  constructor(readonly rt: WasmRuntime) {
    this.blocks = new Blocks(rt.heap);
  }

  protected encode(program: Program): void {
    this.program = program.encode(this.rt.heap);
  }

  destroy(): void {
    this.blocks.release();
    if (this.program) this.rt.heap.release(this.program.ptr);
  }
}

/**
 * Write a pass's inputs: x, each row's length (T where none is given), h0 and c0 (zeros where
 * absent; left as they are with `statesInPlace`, a stream's carried state).
 */
function writeInputs(rt: WasmRuntime, f: ForwardBuffers, inputs: PassInputs, statesInPlace = false): void {
  const { heap } = rt;
  const { B, T, spec } = f;
  const stateFloats = stateSize(spec, B);
  if (inputs.ids) heap.i32(f.ids, inputs.ids.length).set(inputs.ids);
  else heap.write(f.x, inputs.x);
  const lens = heap.i32(f.lens, B);
  for (let b = 0; b < B; b++) lens[b] = inputs.seqLens ? inputs.seqLens[b] : T;
  if (statesInPlace) return;
  if (inputs.h0) heap.write(f.h0, inputs.h0);
  else heap.f32(f.h0, stateFloats).fill(0);
  if (f.c) {
    if (inputs.c0) heap.write(f.c, inputs.c0);
    else heap.f32(f.c, stateSize(spec, B, true)).fill(0);
  }
}

/** Point the records that follow each row's length (projection.ts) at this call's. */
function patchLengths(rt: WasmRuntime, program: EncodedProgram, f: ForwardBuffers): void {
  if (f.rowRecords.length) patchRows(program, f.rowRecords, rt.heap.i32(f.lens, f.B));
}

/** The rows of the embedding's gradient that a pass's token ids touch (src/spec/embedding.ts). */
function writeEmbeddingRows(rt: WasmRuntime, g: BackwardBuffers, inputs: PassInputs): void {
  const e = g.f.spec.embedding;
  if (!g.rows || !e || !inputs.ids) return;
  const { slot, starts, order } = embeddingRows(inputs.ids, e.numEmbeddings, e.paddingIdx);
  rt.heap.i32(g.rows.slot, slot.length).set(new Int32Array(slot.buffer));
  rt.heap.i32(g.rows.starts, starts.length).set(new Int32Array(starts.buffer));
  rt.heap.i32(g.rows.order, order.length).set(new Int32Array(order.buffer));
}

/** The forward's results, copied out. */
function readForward(rt: WasmRuntime, f: ForwardBuffers): { output: Float32Array; hN: Float32Array; cN?: Float32Array; y?: Float32Array } {
  const { heap } = rt;
  const { B, T, spec } = f;
  const r: { output: Float32Array; hN: Float32Array; cN?: Float32Array; y?: Float32Array } = {
    output: heap.read(f.outs[spec.numLayers - 1], T * B * outputWidth(spec)),
    hN: heap.read(f.hN, stateSize(spec, B)),
  };
  if (f.c) r.cN = heap.read(f.c, stateSize(spec, B, true));
  if (f.y) r.y = heap.read(f.y, f.yCount);
  return r;
}

export class ForwardPlan extends Plan {
  readonly f: ForwardBuffers;

  constructor(rt: WasmRuntime, spec: ModelSpec, params: WasmParameters, B: number, T: number, readonly yRows: ReadoutRows) {
    super(rt);
    try {
      this.f = new ForwardBuffers(this.blocks, spec, B, T, false, yRows);
      const program = new Program();
      recordForward(program, params, this.f);
      this.encode(program);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** One pass; with `statesInPlace`, from the states h0 and c already hold. */
  run(inputs: PassInputs, statesInPlace = false): ReturnType<typeof readForward> {
    writeInputs(this.rt, this.f, inputs, statesInPlace);
    patchLengths(this.rt, this.program, this.f);
    this.rt.run(this.program);
    return readForward(this.rt, this.f);
  }
}

export class GradientPlan extends Plan {
  readonly f: ForwardBuffers;
  readonly g: BackwardBuffers;

  constructor(rt: WasmRuntime, readonly spec: ModelSpec, readonly params: WasmParameters, B: number, T: number, readonly yRows: ReadoutRows, dropout: boolean) {
    super(rt);
    try {
      this.f = new ForwardBuffers(this.blocks, spec, B, T, true, yRows, dropout);
      this.g = new BackwardBuffers(this.blocks, this.f, params, true);
      const program = new Program();
      recordForward(program, params, this.f);
      recordBackward(program, params, this.g);
      this.encode(program);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  run(inputs: PassInputs, gradOutput: Float32Array, gradHN?: Float32Array, gradCN?: Float32Array) {
    const { heap } = this.rt;
    const { f, g, spec } = this;
    const stateFloats = stateSize(spec, f.B);
    writeInputs(this.rt, f, inputs);
    patchLengths(this.rt, this.program, f);
    writeEmbeddingRows(this.rt, g, inputs);
    if (inputs.dropoutCall !== undefined) patchDropout(this.program, f, inputs.dropoutCall);
    heap.write(g.gradOutput, gradOutput);
    if (gradHN) heap.write(g.gradHN, gradHN);
    else heap.f32(g.gradHN, stateFloats).fill(0);
    if (g.dc) {
      if (gradCN) heap.write(g.dc, gradCN);
      else heap.f32(g.dc, stateSize(spec, f.B, true)).fill(0);
    }
    this.rt.run(this.program);
    const fwd = readForward(this.rt, f);
    // The recurrent layers' gradients, and the embedding's.
    const params = this.params.read(g.grads, (name) => name !== READOUT_WEIGHT && name !== READOUT_BIAS);
    const input = heap.read(g.dx[0], f.T * f.B * spec.inputSize);
    const h0 = heap.read(g.dh0, stateFloats);
    return { ...fwd, params, input, h0, c0: g.dc ? heap.read(g.dc, stateSize(spec, f.B, true)) : undefined };
  }
}

/** Optimizer state blocks in the parameters' layout. */
export interface OptimizerState {
  type: ResolvedOptimizer['type'];
  step: number;
  /** Velocity (SGD) or the two moments (Adam). */
  blocks: number[];
}

/**
 * A training step: forward with the read-out, the loss, the read-out's backward into the
 * gradient of the output rows read (or of the final states), backpropagation through time,
 * the gradient norm, the update over the whole parameter block, and the transposed copies.
 */
export class TrainPlan extends Plan {
  readonly f: ForwardBuffers;
  readonly g: BackwardBuffers;
  readonly targets: number;
  readonly mask: number;
  readonly lossRows: number;
  readonly partials: number;
  readonly rows: number;
  private readonly lossRecord: number;
  private readonly updateRecord: number;

  constructor(rt: WasmRuntime, readonly spec: ModelSpec, readonly params: WasmParameters, B: number, T: number, readonly loss: 'mse' | 'cross-entropy', rowsOn: 'all' | 'last' | 'final', readonly state: OptimizerState, dropout: boolean) {
    super(rt);
    try {
      const { numDirections: D, numLayers: L, outputSize: O } = spec;
      // H: features of the last layer's h a direction (its projSize where it projects).
      const H = stateWidth(spec);
      const DH = D * H;
      const f = (this.f = new ForwardBuffers(this.blocks, spec, B, T, true, rowsOn === 'all' ? 'steps' : rowsOn, dropout));
      const g = (this.g = new BackwardBuffers(this.blocks, f, params, false));
      const R = (this.rows = rowsOn === 'all' ? T * B : B);
      const ce = loss === 'cross-entropy';
      this.targets = this.blocks.take(ce ? R : R * O);
      this.mask = this.blocks.take(R);
      this.lossRows = this.blocks.take(R);
      const dY = this.blocks.take(R * O);
      this.partials = this.blocks.take(2 * rt.threads);
      const program = new Program();
      recordForward(program, params, f);
      this.lossRecord = program.count;
      const lossArgs = { y: f.y, target: this.targets, mask: this.mask, lossRows: this.lossRows, dY, R, scale: 1 };
      if (ce) program.add('crossEntropyLoss', { ...lossArgs, C: O });
      else program.add('mseLoss', { ...lossArgs, O });
      // The read-out's backward: dW = dYᵀ·F, db = Σ dY, dF = dY·W into the rows read.
      const dW = params.at(READOUT_WEIGHT, g.grads);
      program.add('matmul', { c: params.at(READOUT_BIAS, g.grads), ldc: O, a: g.one, sam: 0, sak: 0, b: dY, ldb: O, packed: 0, bias: 0, M: 1, N: O, K: R, accumulate: 0 });
      if (rowsOn === 'final') {
        for (let d = 0; d < D; d++) {
          program.add('matmul', { c: dW + 4 * d * H, ldc: DH, a: dY, sam: 1, sak: O, b: f.slot(f.hN, L - 1, d), ldb: H, packed: 0, bias: 0, M: O, N: H, K: B, accumulate: 0 });
          program.add('matmul', { c: f.slot(g.gradHN, L - 1, d), ldc: H, a: dY, sam: O, sak: 1, b: params.readoutWeight + 4 * d * H, ldb: DH, packed: 0, bias: 0, M: B, N: H, K: O, accumulate: 0 });
        }
      } else {
        const offset = rowsOn === 'last' ? 4 * (T - 1) * B * DH : 0;
        program.add('matmul', { c: dW, ldc: DH, a: dY, sam: 1, sak: O, b: f.outs[L - 1] + offset, ldb: DH, packed: 0, bias: 0, M: O, N: DH, K: R, accumulate: 0 });
        program.add('matmul', { c: g.gradOutput + offset, ldc: DH, a: dY, sam: O, sak: 1, b: params.readoutWeight, ldb: DH, packed: 0, bias: 0, M: R, N: DH, K: O, accumulate: 0 });
      }
      recordBackward(program, params, g);
      program.add('gradNorm', { g: g.grads, n: params.floats, partials: this.partials });
      this.updateRecord = program.count;
      const common = { p: params.block, grad: g.grads, n: params.floats, partials: this.partials, count: rt.threads, maxNorm: 0, lr: 0, weightDecay: 0, clipValue: 0 };
      if (state.type === 'sgd') program.add('sgdUpdate', { ...common, v: state.blocks[0], momentum: 0, nesterov: 0, first: 0 });
      else program.add('adamUpdate', { ...common, m1: state.blocks[0], m2: state.blocks[1], beta1: 0, beta2: 0, eps: 0, decoupled: 0, c1: 1, c2: 1 });
      params.packs(program);
      this.encode(program);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  run(inputs: PassInputs, request: TrainStepRequest): { lossRows?: Float32Array; norm?: number; hN?: Float32Array; cN?: Float32Array } {
    const { heap } = this.rt;
    const { f, g, spec, state } = this;
    writeInputs(this.rt, f, inputs);
    patchLengths(this.rt, this.program, f);
    writeEmbeddingRows(this.rt, g, inputs);
    if (inputs.dropoutCall !== undefined) patchDropout(this.program, f, inputs.dropoutCall);
    heap.write(this.targets, request.targets);
    heap.write(this.mask, request.mask);
    if (g.dc) heap.f32(g.dc, stateSize(spec, f.B, true)).fill(0);
    state.step++;
    this.program.patch(this.lossRecord, { scale: request.scale });
    const { optimizer: o, maxNorm, clipValue } = request;
    const common = { maxNorm, clipValue, lr: o.hyper.lr, weightDecay: o.hyper.weightDecay };
    if (o.type === 'sgd') this.program.patch<'sgdUpdate'>(this.updateRecord, { ...common, momentum: o.hyper.momentum, nesterov: o.hyper.nesterov ? 1 : 0, first: state.step === 1 ? 1 : 0 });
    else {
      const h = o.hyper;
      this.program.patch<'adamUpdate'>(this.updateRecord, { ...common, beta1: h.beta1, beta2: h.beta2, eps: h.eps, decoupled: h.decoupled ? 1 : 0, c1: 1 - h.beta1 ** state.step, c2: 1 - h.beta2 ** state.step });
    }
    this.rt.run(this.program);
    const out: { lossRows?: Float32Array; norm?: number; hN?: Float32Array; cN?: Float32Array } = {};
    if (request.readLoss) out.lossRows = heap.read(this.lossRows, this.rows);
    if (request.readNorm) {
      const parts = new Float64Array(heap.buffer, this.partials, this.rt.threads);
      out.norm = Math.sqrt(parts.reduce((a, b) => a + b, 0));
    }
    if (request.readState) {
      const r = readForward(this.rt, f);
      out.hN = r.hN;
      if (r.cN) out.cN = r.cN;
    }
    return out;
  }
}
