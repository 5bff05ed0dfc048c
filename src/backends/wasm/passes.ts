/**
 * The wasm backend's passes, recorded as programs (program.ts) over buffers allocated once per
 * shape: the plan of DESIGN.md on the CPU. Forward: per layer, the input projection of all
 * steps as one GEMM per direction (xp [T·B, D·G·H] = X·W_ihᵀ + b_ih), then one fused cell
 * record per step and direction; the state ping-pongs between two buffers, starting from h0's
 * slot and ending in hN's. Backward (gradient and training passes): per layer from the top, a
 * cell record and a product record (rec' += dG_t·W_hh) per step in reverse, then the weight
 * gradients as GEMMs over all steps (dW_ih = dGᵀ·X, dW_hh = dGrecᵀ·H_prev, db = Σ_rows dG)
 * and the input gradient dX = dG·W_ih for the layer below. With dropout between layers (training
 * passes), layer l's output is multiplied by its mask into the copy layer l + 1 reads, and the
 * gradient reaching it, in place, by the same mask.
 */
import { EMBEDDING_WEIGHT, gateCount, hasCellState, layerInputSize, layerSpec, outputWidth, stateOffset, stateSize, stateWidth, type ModelSpec } from '../../spec/spec.js';
import { projectionBuffers, projectionGradients, recordFold, recordGradientIn, recordGradientOut, recordOutput, type ProjectionBuffers, type ProjectionGradients, type RowRecord } from './projection.js';
import type { ReadoutRows } from '../../model/backend.js';
import { cellFunctionArgs } from './cell-args.js';
import type { WasmHeap } from './memory.js';
import type { WasmParameters } from './parameters.js';
import type { EncodedProgram, Program } from './program.js';
import { dropoutKeys, dropoutUniform } from '../../spec/dropout.js';

/** Heap blocks of one plan, released together. */
export class Blocks {
  private readonly owned: number[] = [];
  constructor(readonly heap: WasmHeap) {}
  /** A block of n floats (or ints); `zero` clears it. */
  take(n: number, zero = false): number {
    const p = this.heap.alloc(n);
    this.owned.push(p);
    if (zero) this.heap.f32(p, Math.max(1, n)).fill(0);
    return p;
  }
  release(): void {
    for (const p of this.owned) this.heap.release(p);
    this.owned.length = 0;
  }
}

/** The Elman cell's nonlinearity as rnn-cell-backward takes it. */
const NONLINEARITY_CODE = { tanh: 0, relu: 1, identity: 2 } as const;

/** Saved activations per (t, b) of a layer: LSTM i, f, g, o, c_t, c_{t−1}; GRU r, z, n, hn; the Elman cell none. */
export function saveSlots(layer: { kind: ModelSpec['kind'] }): number {
  return layer.kind === 'lstm' ? 6 : layer.kind === 'gru' ? 4 : 0;
}

/** The largest of `f` over the model's layers (scratch buffers that every layer reuses). */
function widest(spec: ModelSpec, f: (layer: ModelSpec['layers'][number]) => number): number {
  return Math.max(...spec.layers.map(f));
}

/** The buffers of a forward pass of B rows and T steps. */
export class ForwardBuffers {
  readonly x: number;
  /** i32 [T, B]: the token ids of a model with an embedding (x is then their vectors), or 0. */
  readonly ids: number;
  /** i32 [B]: each row's length (T where none is given). */
  readonly lens: number;
  /** States in hN's layout (spec.ts stateOffset): [L·D, B, H] where the layers are alike. */
  readonly h0: number;
  readonly hN: number;
  /** LSTM layers: their cell states (cN's layout), c0 written in, cN after the pass (updated in place). */
  readonly c: number;
  /** Each layer's output [T, B, D·H]; the last is the pass's. */
  readonly outs: number[] = [];
  readonly xp: number;
  readonly ping: [number, number];
  readonly hh: number;
  readonly rh: number;
  /** Training: [l][d] saved activations [T, B, S·H] and h_{t−1} [T, B, H]. */
  readonly save: number[][] = [];
  readonly hsave: number[][] = [];
  /** The read-out's rows, or 0. */
  readonly y: number;
  /** With dropout: layer l's output times its mask [T, B, D·H], which layer l + 1 reads (l < L − 1). */
  readonly dropped: number[] = [];
  /** The dropout records of this plan's program and the boundary (layer) of each, for patchDropout. */
  readonly dropoutRecords: Array<{ record: number; boundary: number }> = [];
  /** Each layer's projection buffers (projection.ts), null where it has none. */
  readonly proj: Array<ProjectionBuffers | null> = [];
  /** Records whose pointers follow each row's length, set per call (patchRows). */
  readonly rowRecords: RowRecord[] = [];

  constructor(
    blocks: Blocks,
    readonly spec: ModelSpec,
    readonly B: number,
    readonly T: number,
    readonly training: boolean,
    /** Which rows the read-out takes: every step, the last step (training), or the final states. */
    readonly yRows: ReadoutRows | 'last',
    /** A training pass that drops between layers. */
    readonly dropout = false,
  ) {
    const L = spec.numLayers;
    const width = (l: number): number => spec.layers[l].numDirections * stateWidth(spec.layers[l]);
    this.x = blocks.take(T * B * spec.inputSize);
    this.ids = spec.embedding ? blocks.take(T * B) : 0;
    this.lens = blocks.take(B);
    this.h0 = blocks.take(stateSize(spec, B));
    this.hN = blocks.take(stateSize(spec, B));
    this.c = hasCellState(spec) ? blocks.take(stateSize(spec, B, true)) : 0;
    for (let l = 0; l < L; l++) this.outs.push(blocks.take(T * B * width(l)));
    if (dropout) for (let l = 0; l < L - 1; l++) this.dropped.push(blocks.take(T * B * width(l)));
    this.xp = blocks.take(T * B * widest(spec, (y) => y.numDirections * gateCount(y.kind) * y.hiddenSize));
    const H = widest(spec, (y) => y.hiddenSize);
    this.ping = [blocks.take(B * H), blocks.take(B * H)];
    this.hh = blocks.take(B * widest(spec, (y) => gateCount(y.kind) * y.hiddenSize));
    this.rh = blocks.take(B * H);
    if (training) {
      for (let l = 0; l < L; l++) {
        const layer = spec.layers[l];
        this.save.push([]);
        this.hsave.push([]);
        for (let d = 0; d < layer.numDirections; d++) {
          this.save[l].push(saveSlots(layer) ? blocks.take(T * B * saveSlots(layer) * layer.hiddenSize) : 0);
          this.hsave[l].push(blocks.take(T * B * layer.hiddenSize));
        }
      }
    }
    for (let l = 0; l < L; l++) this.proj.push(projectionBuffers((n, zero) => blocks.take(n, zero), spec, l, B, T));
    this.y = spec.outputSize > 0 ? blocks.take(this.yCount) : 0;
  }

  /** Floats of y. */
  get yCount(): number {
    return (this.yRows === 'steps' ? this.T * this.B : this.B) * this.spec.outputSize;
  }

  /** Layer l's input: x, or the output of the layer below (after its dropout). */
  input(l: number): number {
    return l === 0 ? this.x : (this.dropped[l - 1] ?? this.outs[l - 1]);
  }

  /** Record boundary l's mask from `x` into `y` (the keys are patched per call: patchDropout). */
  addDropout(program: Program, l: number, x: number, y: number): void {
    const { spec, B, T } = this;
    const layer = spec.layers[l];
    this.dropoutRecords.push({ record: program.count, boundary: l });
    program.add('dropout', { x, y, ...dropoutUniform(T * B * layer.numDirections * stateWidth(layer), spec.dropout, [0, 0]) });
  }

  /** Layer l, direction d's [B, H_l] of a state buffer in hN's layout (with `cells`, cN's). */
  slot(buffer: number, l: number, d: number, cells = false): number {
    const layer = this.spec.layers[l];
    return buffer + 4 * (stateOffset(this.spec, l, this.B, cells) + d * this.B * (cells ? layer.hiddenSize : stateWidth(layer)));
  }
}

/** Record the forward pass (and the read-out, where the model has one) into `program`. */
export function recordForward(program: Program, params: WasmParameters, f: ForwardBuffers): void {
  const { spec: model, B, T } = f;
  // x [T·B, I] = the embedding's rows of the ids.
  if (f.ids) program.add('embeddingForward', { ids: f.ids, weight: params.at(EMBEDDING_WEIGHT), x: f.x, rows: T * B, features: model.inputSize });
  for (let l = 0; l < model.numLayers; l++) {
    const spec = layerSpec(model, l);
    const { hiddenSize: H, numDirections: D } = spec;
    const GH = gateCount(spec.kind) * H;
    const I = layerInputSize(spec, l);
    // A projecting layer's cells step r from r_{−1} = 0 into its own buffers (projection.ts).
    const proj = f.proj[l];
    for (let d = 0; d < D; d++) {
      // xp[:, d·GH …] = X·W_ihᵀ + b_ih over all T·B rows.
      program.add('matmul', { c: f.xp + 4 * d * GH, ldc: D * GH, a: f.input(l), sam: I, sak: 1, b: params.wihP[l][d], ldb: 0, packed: 1, bias: params.of('bias_ih', l, d), M: T * B, N: GH, K: I, accumulate: 0 });
      if (proj) recordFold(program, params, f, l, d, f.rowRecords);
    }
    for (let d = 0; d < D; d++) {
      const fns = cellFunctionArgs(spec.cell, d);
      for (let s = 0; s < T; s++) {
        const common = {
          xp: f.xp + 4 * d * GH, xld: D * GH, whhP: params.whhP[l][d], bhh: params.of('bias_hh', l, d),
          hPrev: s > 0 ? f.ping[(s - 1) % 2] : proj ? proj.rZero : f.slot(f.h0, l, d), hNext: s < T - 1 ? f.ping[s % 2] : proj ? proj.rN[d] : f.slot(f.hN, l, d),
          out: (proj ? proj.rseq : f.outs[l]) + 4 * d * H, old: D * H, hh: f.hh, hsave: f.training ? f.hsave[l][d] : 0, lens: f.lens,
          B, H, T, step: s, reverse: d, ...fns,
        };
        if (spec.kind === 'lstm') program.add('lstmCellForward', { ...common, peep: params.of('peephole', l, d), c: f.slot(f.c, l, d, true), save: f.training ? f.save[l][d] : 0 });
        else if (spec.kind === 'gru') {
          const gru = { ...common, rh: f.rh, save: f.training ? f.save[l][d] : 0, linearBeforeReset: spec.linearBeforeReset ? 1 : 0 };
          program.add('gruCellForward', { ...gru, phase: 0 });
          if (!spec.linearBeforeReset) program.add('gruCellForward', { ...gru, phase: 1 });
        } else program.add('rnnCellForward', common);
      }
    }
    if (proj) recordOutput(program, params, f, l, proj);
    if (f.dropped[l]) f.addDropout(program, l, f.outs[l], f.dropped[l]);
  }
  if (f.y) recordReadout(program, params, f);
}

/** Set the keys of every dropout record of `program` to those of training call `call`. */
export function patchDropout(program: EncodedProgram, f: ForwardBuffers, call: number): void {
  for (const { record, boundary } of f.dropoutRecords) {
    const [k0, k1] = dropoutKeys(f.spec.seed, call, boundary);
    program.patch<'dropout'>(record, { k0: k0 | 0, k1: k1 | 0 });
  }
}

/**
 * y = rows·Wᵀ + b: every step's output, the last step's, or the final states [h_fwd | h_rev];
 * one product a direction's H features (the read-out's packed panels are per direction).
 */
function recordReadout(program: Program, params: WasmParameters, f: ForwardBuffers): void {
  const { spec, B, T } = f;
  const { numDirections: D, numLayers: L, outputSize: O } = spec;
  const H = stateWidth(spec);
  const DH = D * H;
  const last = f.outs[L - 1];
  for (let d = 0; d < D; d++) {
    const rows = f.yRows === 'steps' ? { a: last + 4 * d * H, sam: DH, M: T * B } : f.yRows === 'last' ? { a: last + 4 * ((T - 1) * B * DH + d * H), sam: DH, M: B } : { a: f.slot(f.hN, L - 1, d), sam: H, M: B };
    program.add('matmul', { c: f.y, ldc: O, ...rows, sak: 1, b: params.readoutP[d], ldb: 0, packed: 1, bias: d === 0 ? params.readoutBias : 0, N: O, K: H, accumulate: d > 0 ? 1 : 0 });
  }
}

/** The buffers a backward pass adds to its forward's. */
export class BackwardBuffers {
  /** The gradient reaching the last layer's output [T, B, D·H]. */
  readonly gradOutput: number;
  /** dX of layer l [T, B, I_l] (l ≥ 1; l = 0 where the input's gradient is wanted, else 0). */
  readonly dx: number[] = [];
  readonly dG: number;
  readonly dGrec: number;
  readonly dGstep: number;
  readonly ping: [number, number];
  /** In hN's layout: the gradient of hN (read), of h0 (written). */
  readonly gradHN: number;
  readonly dh0: number;
  /** LSTM layers, in cN's layout: the gradient of cN written in, of c0 after the pass. */
  readonly dc: number;
  /** One float, 1: the bias gradients' A. */
  readonly one: number;
  /** Gradients in the parameters' block layout. */
  readonly grads: number;
  /** Each layer's projection gradients (projection.ts), null where it has none. */
  readonly proj: Array<ProjectionGradients | null> = [];
  /** A model reading token ids: the rows of the embedding's gradient its ids touch (embeddingRows: slot [V], starts [T·B + 1], order [T·B], i32), or 0. */
  readonly rows: { slot: number; starts: number; order: number } | null;

  constructor(blocks: Blocks, readonly f: ForwardBuffers, params: WasmParameters, inputGradient: boolean) {
    const { spec, B, T } = f;
    const L = spec.numLayers;
    const GH = widest(spec, (y) => gateCount(y.kind) * y.hiddenSize);
    const H = widest(spec, (y) => y.hiddenSize);
    this.gradOutput = blocks.take(T * B * outputWidth(spec), true);
    for (let l = 0; l < L; l++) this.proj.push(projectionGradients((n) => blocks.take(n), spec, l, B, T));
    // The embedding's gradient is made from x's, which a training step then needs too.
    for (let l = 0; l < L; l++) this.dx.push(l > 0 || inputGradient || spec.embedding ? blocks.take(T * B * layerInputSize(spec, l)) : 0);
    this.rows = spec.embedding ? { slot: blocks.take(spec.embedding.numEmbeddings), starts: blocks.take(T * B + 1), order: blocks.take(T * B) } : null;
    this.dG = blocks.take(T * B * GH);
    this.dGrec = spec.layers.some((y) => y.kind === 'gru') ? blocks.take(T * B * GH) : 0;
    this.dGstep = blocks.take(B * GH);
    this.ping = [blocks.take(B * H), blocks.take(B * H)];
    this.gradHN = blocks.take(stateSize(spec, B), true);
    this.dh0 = blocks.take(stateSize(spec, B));
    this.dc = hasCellState(spec) ? blocks.take(stateSize(spec, B, true), true) : 0;
    this.one = blocks.take(1);
    blocks.heap.f32(this.one, 1)[0] = 1;
    this.grads = blocks.take(params.floats, true);
  }
}

/** Record backpropagation through time from gradOutput, gradHN (and dc) into the gradients, dX and dh0. */
export function recordBackward(program: Program, params: WasmParameters, g: BackwardBuffers): void {
  const { f } = g;
  const { spec: model, B, T } = f;
  const L = model.numLayers;
  for (let l = L - 1; l >= 0; l--) {
    const spec = layerSpec(model, l);
    const { hiddenSize: H, numDirections: D } = spec;
    const GH = gateCount(spec.kind) * H;
    const DH = D * H;
    const I = layerInputSize(spec, l);
    const dy = l === L - 1 ? g.gradOutput : g.dx[l + 1];
    // A projecting layer sweeps r: its gradient from the output's and hN's (projection.ts).
    const [proj, pg] = [f.proj[l], g.proj[l]];
    if (pg) recordGradientIn(program, params, f, l, dy, g.gradHN, pg);
    for (let d = 0; d < D; d++) {
      const dGrec = spec.kind === 'gru' ? g.dGrec : g.dG;
      for (let k = 0; k < T; k++) {
        const s = T - 1 - k;
        const rec = k > 0 ? g.ping[(k - 1) % 2] : pg ? pg.gradHNr[d] : f.slot(g.gradHN, l, d);
        const recNext = k < T - 1 ? g.ping[k % 2] : pg ? pg.sink : f.slot(g.dh0, l, d);
        const common = { dy: (pg ? pg.dyR : dy) + 4 * d * H, dyld: DH, rec, recNext, dG: g.dG, dGstep: g.dGstep, lens: f.lens, B, H, T, step: s, reverse: d };
        if (spec.kind === 'lstm') program.add('lstmCellBackward', { ...common, save: f.save[l][d], dc: f.slot(g.dc, l, d, true) });
        else if (spec.kind === 'gru') program.add('gruCellBackward', { ...common, save: f.save[l][d], hsave: f.hsave[l][d], dGrec: g.dGrec });
        else program.add('rnnCellBackward', { ...common, out: f.outs[l] + 4 * d * H, old: DH, nonlinearity: NONLINEARITY_CODE[spec.nonlinearity] });
        // rec' += dG_t·W_hh: the gradient reaching h_{t−1} through the recurrence.
        program.add('matmul', { c: recNext, ldc: H, a: g.dGstep, sam: GH, sak: 1, b: params.recurrentWeight(l, d), ldb: H, packed: 0, bias: 0, M: B, N: H, K: GH, accumulate: 1 });
      }
      const TB = T * B;
      program.add('matmul', { c: params.of('weight_ih', l, d, g.grads), ldc: I, a: g.dG, sam: 1, sak: GH, b: f.input(l), ldb: I, packed: 0, bias: 0, M: GH, N: I, K: TB, accumulate: 0 });
      program.add('matmul', { c: pg ? pg.dWeff : params.of('weight_hh', l, d, g.grads), ldc: H, a: dGrec, sam: 1, sak: GH, b: f.hsave[l][d], ldb: H, packed: 0, bias: 0, M: GH, N: H, K: TB, accumulate: 0 });
      if (proj && pg) recordGradientOut(program, params, f, l, d, { dy, gradHN: g.gradHN, dh0: g.dh0, dG: g.dG, grads: g.grads, p: proj, g: pg }, f.rowRecords);
      if (spec.bias) {
        program.add('matmul', { c: params.of('bias_ih', l, d, g.grads), ldc: GH, a: g.one, sam: 0, sak: 0, b: g.dG, ldb: GH, packed: 0, bias: 0, M: 1, N: GH, K: TB, accumulate: 0 });
        program.add('matmul', { c: params.of('bias_hh', l, d, g.grads), ldc: GH, a: g.one, sam: 0, sak: 0, b: dGrec, ldb: GH, packed: 0, bias: 0, M: 1, N: GH, K: TB, accumulate: 0 });
      }
      if (g.dx[l]) program.add('matmul', { c: g.dx[l], ldc: I, a: g.dG, sam: GH, sak: 1, b: params.of('weight_ih', l, d), ldb: I, packed: 0, bias: 0, M: TB, N: I, K: GH, accumulate: d > 0 ? 1 : 0 });
    }
    // The gradient reaching layer l − 1's output passes back through its mask.
    if (l > 0 && f.dropped[l - 1]) f.addDropout(program, l - 1, g.dx[l], g.dx[l]);
  }
  if (g.rows) {
    const I = model.inputSize;
    program.add('embeddingBackward', { ...g.rows, dx: g.dx[0], dE: params.at(EMBEDDING_WEIGHT, g.grads), numEmbeddings: model.embedding!.numEmbeddings, features: I });
  }
}
