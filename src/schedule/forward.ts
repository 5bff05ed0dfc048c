/**
 * The forward plan of one model for one (batch, seqLen): every buffer, uniform and bind group
 * the pass needs, created once and reused by every call of that shape, and the encoding of
 * the whole pass (all layers, directions and steps) into one command encoder:
 *
 *   for each layer l:
 *     1 dispatch   xproj = X_l·W_ihᵀ + b_ih over [T·B, I_l], both directions at once
 *     T steps      one dispatch each (two for the GRU's linear_before_reset = 0 form) that
 *                  advances both directions by one step
 *     (training with dropout, l < L − 1: 1 dispatch, the layer's output times its mask, which
 *     the layer above reads)
 *   read-out    y = output·Wᵀ + b over [T·B, D·H] (one GEMM), or of the final states
 *               (yRows 'final': one GEMM per direction, from hN)
 *   copies of output, hN (and cN, y) into one staging buffer, one submit, one mapAsync.
 *
 * Per-step facts travel as uniform slots selected with a dynamic offset; there is no CPU
 * round trip inside the pass.
 */
import type { ForwardStats, PassResult, ReadoutRows } from '../model/backend.js';
import { GpuError, WebRnnError } from '../errors.js';
import { createReadbackBuffer, createStorageBuffer, createUniformBuffer, readFloats, writeFloats } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import type { MatmulDispatch, MatmulKernel, MatmulShape } from '../kernels/matmul.js';
import type { CellStepKernel, CellStepShape } from '../kernels/recurrent-step.js';
import type { Kernel } from '../kernels/kernel.js';
import { dropoutKeys, dropoutUniform } from '../spec/dropout.js';
import { gateCount, hasCellState, layerInputSize, outputWidth, stateOffset, stateSize, stateWidth, type ModelSpec } from '../spec/spec.js';
import { ProjectionForward } from './projection.js';

/** GPU buffers of one layer's parameters (layout in spec/parameters.ts). */
export interface LayerParameterBuffers {
  wih: GPUBuffer;
  bih: GPUBuffer;
  whhT: GPUBuffer;
  bhh: GPUBuffer;
  /** A projecting layer's own W_hh [D, G·H, P] and W_hr [D, P, H] (whhT holds their product). */
  proj?: { whh: GPUBuffer; whr: GPUBuffer };
  /** W_hhᵀ as half-precision words (packWhhTHalf), for the step kernels that read it so (weightPrecision 'f16'). */
  whhHalf?: GPUBuffer;
}

/** What a forward plan runs besides its layers, where the model and pass have it. */
export interface ForwardExtras {
  /** The dropout kernel of a training pass that drops between layers. */
  dropout?: Kernel | null;
  /** The embedding-forward kernel and the embedding's weights [V, I], for a model that reads token ids. */
  embedding?: { kernel: Kernel; weight: GPUBuffer } | null;
}

/** The GEMM and each layer's step kernel (layers of one cell share theirs). */
export interface ForwardKernels {
  matmul: MatmulKernel;
  cells: readonly CellStepKernel[];
}

/**
 * Layer l's recurrence as the step kernels see it: its sizes and where its states sit among
 * every layer's (a projecting layer's r in buffers of its own, [D, B, H]: projection.ts).
 */
export function cellStepShape(spec: ModelSpec, l: number, batch: number, seqLen: number): CellStepShape {
  const { hiddenSize, numDirections, projSize } = spec.layers[l];
  return {
    batch,
    hidden: hiddenSize,
    seqLen,
    numDirections,
    stateBase: projSize ? 0 : stateOffset(spec, l, batch),
    stateFloats: projSize ? numDirections * batch * hiddenSize : stateSize(spec, batch),
    cellBase: stateOffset(spec, l, batch, true),
    cellFloats: stateSize(spec, batch, true),
  };
}

/** GPU buffers of the read-out: weight [O, D·H], bias [O]. */
export interface ReadoutBuffers {
  weight: GPUBuffer;
  bias: GPUBuffer;
}

// The rows of the read-out y (ReadoutRows): 'steps', one per (t, b) of the output [T, B, O];
// 'final', one per sequence [B, O], from the last layer's final states [h_fwd | h_rev].
export type { ForwardStats, ReadoutRows } from '../model/backend.js';

/** Raw results in sequence-major layout. */
export type ForwardResult = PassResult;

/** What one forward pass records. */

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export class ForwardPlan {
  readonly stats: ForwardStats;
  /** Input [T, B, I], sequence-major. */
  readonly x: GPUBuffer;
  /** Initial hidden states (every layer's [D, B, H] in turn: [L·D, B, H] for alike layers), followed by the sequence lengths [B] (f32). */
  readonly h0: GPUBuffer;
  /** The LSTM layers' cell states (cN's layout): c0 before the pass, cN after it. */
  readonly c: GPUBuffer | null;
  /** Final hidden states (h0's layout). */
  readonly hN: GPUBuffer;
  /** Each layer's output sequence [T, B, D·H]. */
  readonly hseq: GPUBuffer[];
  /** Training plans: each layer's saved activations [T, B, D, S·H] (an Elman layer, which saves none: its output). */
  readonly saved: GPUBuffer[] = [];
  /** The read-out [T, B, O] or (yRows 'final') [B, O], for models with one. */
  readonly y: GPUBuffer | null;
  /** With dropout: layer l's output times its mask [T, B, D·H], what layer l + 1 reads (l < L − 1). */
  readonly dropped: GPUBuffer[] = [];
  /** Each projecting layer's buffers and GEMMs (projection.ts); null for the others. */
  readonly projections: Array<ProjectionForward | null> = [];
  /** With dropout: one uniform slot per layer boundary, shared by the forward's and the backward's dispatch of its mask. */
  readonly dropoutUniforms: { buffer: GPUBuffer; slot: number } | null = null;
  private readonly dropoutBindGroups: GPUBindGroup[] = [];
  readonly dropout: Kernel | null;
  /** A model reading token ids: the ids [T·B] (u32), written by the caller (setIds), and the gather into x. */
  readonly ids: GPUBuffer | null = null;
  private readonly gather: { kernel: Kernel; bindGroup: GPUBindGroup } | null = null;
  private readonly owned: GPUBuffer[] = [];
  private readonly staging: GPUBuffer;
  private readonly readoutGemms: Array<{ bindGroup: GPUBindGroup; workgroups: MatmulDispatch }> = [];
  private readonly gemm: Array<{ bindGroup: GPUBindGroup; workgroups: MatmulDispatch }> = [];
  private readonly cellBindGroups: GPUBindGroup[] = [];
  private readonly cellWorkgroups: Array<[number, number, number]>;
  private readonly stepSlot: number;
  private readonly sizes: { output: number; state: number; cells: number; y: number };

  constructor(
    private readonly ctx: GpuContext,
    private readonly spec: ModelSpec,
    readonly kernels: ForwardKernels,
    layers: readonly LayerParameterBuffers[],
    readonly batch: number,
    readonly seqLen: number,
    readout: ReadoutBuffers | null = null,
    readonly yRows: ReadoutRows = 'steps',
    /** The dropout kernel of a training pass that drops between layers; the embedding of a model that reads token ids. */
    extras: ForwardExtras = {},
  ) {
    this.dropout = extras.dropout ?? null;
    const dropout = this.dropout;
    const training = kernels.cells[0].spec.training;
    const { numLayers: L, numDirections: D } = spec;
    // H: features of the last layer's h a direction (its projSize where it projects).
    const H = stateWidth(spec);
    const B = batch;
    const T = seqLen;
    // D·H of layer l's cells, and D·H of its output (D·P where it projects).
    const width = (l: number): number => spec.layers[l].numDirections * spec.layers[l].hiddenSize;
    const outWidth = (l: number): number => spec.layers[l].numDirections * stateWidth(spec.layers[l]);
    const gates = (l: number): number => width(l) * gateCount(spec.layers[l].kind);
    const make = (label: string, floats: number): GPUBuffer => {
      const b = createStorageBuffer(ctx, `webrnn ${label}`, floats);
      this.owned.push(b);
      return b;
    };
    // Dispatch sizes first: a shape beyond the device's limits fails before anything is allocated.
    this.cellWorkgroups = kernels.cells.map((cell, l) => cell.workgroups(cellStepShape(spec, l, B, T)));
    for (let l = 0; l < L; l++) kernels.matmul.workgroups({ M: T * B, N: gates(l), K: layerInputSize(spec, l) });
    try {
      this.x = make('x [T,B,I]', T * B * spec.inputSize);
      if (extras.embedding) {
        const { kernel, weight } = extras.embedding;
        this.ids = make('token ids [T,B] (u32)', T * B);
        const uniform = createUniformBuffer(ctx, 'webrnn embedding uniform', kernel.uniformLayout.size);
        this.owned.push(uniform);
        ctx.device.queue.writeBuffer(uniform, 0, kernel.params({ rows: T * B, features: spec.inputSize }));
        this.gather = { kernel, bindGroup: kernel.bindGroup({ buffer: uniform }, { ids: this.ids, weight, x: this.x }) };
      }
      const state = stateSize(spec, B);
      this.h0 = make('h0 [L*D,B,H] + lengths [B]', state + B);
      this.hN = make('hN [L*D,B,H]', state);
      this.c = hasCellState(spec) ? make('c [L*D,B,H] (LSTM layers)', stateSize(spec, B, true)) : null;
      const rhLayers = spec.layers.map((_, l) => l).filter((l) => kernels.cells[l].spec.extra === 'rh');
      const rh = rhLayers.length > 0 ? make('r*h [D,B,H]', B * Math.max(...rhLayers.map(width))) : null;
      // One xproj for every layer in turn, as large as the widest layer's.
      const xproj = make('xproj [T,B,D,G*H]', T * B * Math.max(...spec.layers.map((_, l) => gates(l))));
      this.hseq = Array.from({ length: L }, (_, l) => make(`layer ${l} output [T,B,D*H]`, T * B * outWidth(l)));
      if (dropout) {
        const slot = align(dropout.uniformLayout.size, ctx.limits.minUniformBufferOffsetAlignment);
        const buffer = createUniformBuffer(ctx, 'webrnn dropout uniforms', (L - 1) * slot);
        this.owned.push(buffer);
        this.dropoutUniforms = { buffer, slot };
        for (let l = 0; l < L - 1; l++) {
          this.dropped.push(make(`layer ${l} output after dropout [T,B,D*H]`, T * B * outWidth(l)));
          this.dropoutBindGroups.push(dropout.bindGroup({ buffer }, { x: this.hseq[l], y: this.dropped[l] }));
        }
      }
      if (training) {
        for (let l = 0; l < L; l++) {
          const S = kernels.cells[l].spec.savedSlots;
          // A placeholder for the layers that save nothing (the Elman cell's sweep reads its output).
          this.saved.push(kernels.cells[l].savesActivations ? make(`layer ${l} saved activations [T,B,D,${S}H]`, T * B * width(l) * S) : this.hseq[l]);
        }
      }
      const O = spec.outputSize;
      const yFloats = (yRows === 'final' ? B : T * B) * O;
      this.y = readout && O > 0 ? make(yRows === 'final' ? 'read-out y [B,O]' : 'read-out y [T,B,O]', yFloats) : null;
      this.sizes = { output: T * B * outputWidth(spec), state, cells: this.c ? stateSize(spec, B, true) : 0, y: this.y ? yFloats : 0 };
      const stagingFloats = this.sizes.output + this.sizes.state + this.sizes.cells + this.sizes.y;
      this.staging = createReadbackBuffer(ctx, 'webrnn forward readback', stagingFloats);
      this.owned.push(this.staging);

      // Uniforms: one GEMM slot per layer and per read-out GEMM, then one step slot per (layer, step).
      const alignment = ctx.limits.minUniformBufferOffsetAlignment;
      const gemmSlot = align(kernels.matmul.params({ M: 1, N: 1, K: 1 }).byteLength, alignment);
      this.stepSlot = align(kernels.cells[0].uniformLayout.size, alignment);
      const gemmBytes = (L + D) * gemmSlot;
      const uniformData = new ArrayBuffer(gemmBytes);
      const uniforms = createUniformBuffer(ctx, 'webrnn gemm uniforms', gemmBytes);
      this.owned.push(uniforms);
      const stepUniforms = createUniformBuffer(ctx, 'webrnn step uniforms', L * T * this.stepSlot);
      this.owned.push(stepUniforms);

      for (let l = 0; l < L; l++) {
        const I = layerInputSize(spec, l);
        const shape: MatmulShape = { M: T * B, N: gates(l), K: I, hasBias: spec.bias };
        const bindings = { uniform: uniforms, uniformOffset: l * gemmSlot, a: this.input(l), b: layers[l].wih, bias: layers[l].bih, c: xproj };
        kernels.matmul.checkBuffers(shape, bindings);
        new Uint8Array(uniformData, l * gemmSlot).set(new Uint8Array(kernels.matmul.params(shape)));
        this.gemm.push({ bindGroup: kernels.matmul.bindGroup(bindings, shape), workgroups: kernels.matmul.dispatch(shape) });

        const cell = kernels.cells[l];
        const cellShape = cellStepShape(spec, l, B, T);
        const own = layers[l].proj;
        const proj = own ? new ProjectionForward(ctx, kernels.matmul, spec, l, B, T, { xproj, h0: this.h0, hN: this.hN, hseq: this.hseq[l], ...own }, this.owned) : null;
        this.projections.push(proj);
        const cellBindings = {
          uniform: stepUniforms,
          xproj,
          whhT: cell.spec.half ? layers[l].whhHalf! : layers[l].whhT,
          bhh: layers[l].bhh,
          h0: proj?.r0 ?? this.h0,
          hseq: proj?.rseq ?? this.hseq[l],
          hN: proj?.rN ?? this.hN,
          extra: (cell.spec.extra === 'c' ? this.c : cell.spec.extra === 'rh' ? rh : null) ?? undefined,
          saved: cell.savesActivations ? this.saved[l] : undefined,
        };
        cell.checkBuffers(cellShape, cellBindings);
        const stepData = new ArrayBuffer(T * this.stepSlot);
        for (let s = 0; s < T; s++) cell.packStep(cellShape, s, stepData, s * this.stepSlot);
        ctx.device.queue.writeBuffer(stepUniforms, l * T * this.stepSlot, stepData);
        this.cellBindGroups.push(cell.bindGroup(cellBindings));
      }
      // Every sequence runs all T steps until the caller says otherwise (the projections' r0 too).
      this.setLengths(null);
      if (readout && this.y) {
        // 'steps': y [T·B, O] = last layer's output [T·B, D·H]·Wᵀ + b. 'final': y [B, O] =
        // Σ_d hN[(L−1)·D + d] [B, H]·W[:, d·H .. d·H + H]ᵀ + b, the second direction accumulating.
        const last = stateOffset(spec, L - 1, B);
        const shapes: MatmulShape[] =
          yRows === 'final'
            ? Array.from({ length: D }, (_, d) => ({ M: B, N: O, K: H, hasBias: d === 0, accumulate: d > 0, offsetA: last + d * B * H, offsetB: d * H, ldb: D * H }))
            : [{ M: T * B, N: O, K: D * H, hasBias: true }];
        shapes.forEach((shape, i) => {
          const bindings = { uniform: uniforms, uniformOffset: (L + i) * gemmSlot, a: yRows === 'final' ? this.hN : this.hseq[L - 1], b: readout.weight, bias: readout.bias, c: this.y! };
          kernels.matmul.checkBuffers(shape, bindings);
          new Uint8Array(uniformData, (L + i) * gemmSlot).set(new Uint8Array(kernels.matmul.params(shape)));
          this.readoutGemms.push({ bindGroup: kernels.matmul.bindGroup(bindings, shape), workgroups: kernels.matmul.dispatch(shape) });
        });
      }
      ctx.device.queue.writeBuffer(uniforms, 0, uniformData);
    } catch (e) {
      this.destroy();
      throw e;
    }
    // The persistent variant: one dispatch per layer for all its steps.
    const perStep = kernels.cells.reduce((n, cell) => n + (cell.persistent ? 0 : cell.dispatchesPerStep), 0);
    const persistentLayers = kernels.cells.filter((cell) => cell.persistent).length;
    const gemms = L + this.readoutGemms.length + this.projections.reduce((n, p) => n + (p ? p.fold.length + p.output.length : 0), 0);
    const extra = this.dropped.length + (this.gather ? 1 : 0);
    this.stats = { submits: 1, gemmDispatches: gemms, dispatchesPerStep: perStep, dispatches: gemms + T * perStep + persistentLayers + extra };
  }

  /** Write the token ids [T·B] (sequence-major, in range) that the gather reads. */
  setIds(ids: Int32Array): void {
    writeFloats(this.ctx, this.ids!, new Float32Array(ids.buffer, ids.byteOffset, ids.length));
  }

  /** Layer l's input [T, B, I_l]: x, or the output of the layer below (after its dropout). */
  input(l: number): GPUBuffer {
    return l === 0 ? this.x : (this.dropped[l - 1] ?? this.hseq[l - 1]);
  }

  /** Write the masks of training call `call` (dropoutKeys), for the next run; plans with dropout only. */
  setDropout(call: number): void {
    const { dropout, dropoutUniforms: u } = this;
    if (!dropout || !u) return;
    const { seed } = this.spec;
    const data = new ArrayBuffer(this.dropped.length * u.slot);
    this.dropped.forEach((_, l) => dropout.params(dropoutUniform(this.boundaryFloats(l), this.spec.dropout, dropoutKeys(seed, call, l)), data, l * u.slot));
    this.ctx.device.queue.writeBuffer(u.buffer, 0, data);
  }

  /** Record the dispatch of boundary l's mask: `bindGroup` maps its x to its y. */
  encodeDropout(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, l: number): void {
    this.dropout!.encode(pass, bindGroup, this.dropout!.workgroupsFor(this.boundaryFloats(l)), 'main', l * this.dropoutUniforms!.slot);
  }

  /** Floats of layer l's output [T, B, D·H], what boundary l's mask covers. */
  private boundaryFloats(l: number): number {
    const layer = this.spec.layers[l];
    return this.seqLen * this.batch * layer.numDirections * stateWidth(layer);
  }

  /** Write each sequence's length (null: every sequence runs all seqLen steps). */
  setLengths(lengths: ArrayLike<number> | null): void {
    const data = new Float32Array(this.batch);
    for (let b = 0; b < this.batch; b++) data[b] = lengths ? lengths[b] : this.seqLen;
    writeFloats(this.ctx, this.h0, data, stateSize(this.spec, this.batch));
    this.projections.forEach((p, l) => {
      if (!p) return;
      const { numDirections: D, hiddenSize: H } = this.spec.layers[l];
      writeFloats(this.ctx, p.r0, data, D * this.batch * H);
      p.fold.setLengths(data);
    });
  }

  /** Record the clears of absent initial states; call before the pass. */
  encodeInitialStates(encoder: GPUCommandEncoder, hasH0: boolean, hasC0: boolean): void {
    if (!hasH0) encoder.clearBuffer(this.h0, 0, this.sizes.state * 4);
    if (this.c && !hasC0) encoder.clearBuffer(this.c);
  }

  /** Record every dispatch of the forward pass (all layers and steps) into `pass`. */
  encodeForward(pass: GPUComputePassEncoder): void {
    const T = this.seqLen;
    if (this.gather) this.gather.kernel.encode(pass, this.gather.bindGroup, this.gather.kernel.workgroupsFor(T * this.batch * this.spec.inputSize));
    for (let l = 0; l < this.spec.numLayers; l++) {
      const cell = this.kernels.cells[l];
      const proj = this.projections[l];
      this.kernels.matmul.encode(pass, this.gemm[l].bindGroup, this.gemm[l].workgroups);
      proj?.fold.encode(pass);
      // Persistent: the dispatch with step 0's uniform runs every step.
      const steps = cell.persistent ? 1 : T;
      for (let s = 0; s < steps; s++) {
        cell.encodeStep(pass, this.cellBindGroups[l], (l * T + s) * this.stepSlot, this.cellWorkgroups[l]);
      }
      proj?.output.encode(pass);
      if (this.dropoutBindGroups[l]) this.encodeDropout(pass, this.dropoutBindGroups[l], l);
    }
    for (const g of this.readoutGemms) this.kernels.matmul.encode(pass, g.bindGroup, g.workgroups);
  }

  /** Floats of output, hN (and cN, y): what they take in a readback. */
  get resultSizes(): { output: number; state: number; cells: number; y: number } {
    return this.sizes;
  }

  /** Record the copies of output, hN (and cN) into `staging` from float `offset` on. */
  encodeResultCopies(encoder: GPUCommandEncoder, staging: GPUBuffer, offset: number): Array<[number, number]> {
    const out = this.sizes.output;
    const state = this.sizes.state;
    encoder.copyBufferToBuffer(this.hseq[this.spec.numLayers - 1], 0, staging, offset * 4, out * 4);
    encoder.copyBufferToBuffer(this.hN, 0, staging, (offset + out) * 4, state * 4);
    const parts: Array<[number, number]> = [
      [offset, out],
      [offset + out, state],
    ];
    let at = offset + out + state;
    if (this.c) {
      encoder.copyBufferToBuffer(this.c, 0, staging, at * 4, this.sizes.cells * 4);
      parts.push([at, this.sizes.cells]);
      at += this.sizes.cells;
    }
    if (this.y) {
      encoder.copyBufferToBuffer(this.y, 0, staging, at * 4, this.sizes.y * 4);
      parts.push([at, this.sizes.y]);
    }
    return parts;
  }

  /**
   * Encode and submit the whole pass, then read the results back with one mapAsync. The
   * caller has written x (and h0, c0 when `hasH0`/`hasC0`) to this plan's buffers. With
   * `carry`, hN is copied over h0 after the pass (c already holds cN in place), so that the
   * next run continues from this one's final state without leaving the GPU: a stream's step.
   */
  async run(hasH0: boolean, hasC0: boolean, carry = false): Promise<ForwardResult> {
    const { device } = this.ctx;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder({ label: 'webrnn forward' });
    this.encodeInitialStates(encoder, hasH0, hasC0);
    const pass = encoder.beginComputePass({ label: 'webrnn forward' });
    this.encodeForward(pass);
    pass.end();
    if (carry) encoder.copyBufferToBuffer(this.hN, 0, this.h0, 0, this.sizes.state * 4);
    const parts = this.encodeResultCopies(encoder, this.staging, 0);
    const arrays = await submitAndRead(this.ctx, encoder, this.staging, parts, 'forward pass');
    const [output, hN] = arrays;
    const result: ForwardResult = { output, hN };
    let k = 2;
    if (this.c) result.cN = arrays[k++];
    if (this.y) result.y = arrays[k++];
    return result;
  }

  /** Read the initial states as they stand: h0 (and c), in hN's (and cN's) layout. */
  async readInitialStates(): Promise<{ h: Float32Array; c?: Float32Array }> {
    const { state, cells } = this.sizes;
    const encoder = this.ctx.device.createCommandEncoder({ label: 'webrnn state readback' });
    encoder.copyBufferToBuffer(this.h0, 0, this.staging, 0, state * 4);
    const parts: Array<[number, number]> = [[0, state]];
    if (this.c) {
      encoder.copyBufferToBuffer(this.c, 0, this.staging, state * 4, cells * 4);
      parts.push([state, cells]);
    }
    this.ctx.device.pushErrorScope('out-of-memory');
    this.ctx.device.pushErrorScope('validation');
    const [h, c] = await submitAndRead(this.ctx, encoder, this.staging, parts, 'state readback');
    return c ? { h, c } : { h };
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/**
 * Submit `encoder` inside validation and out-of-memory error scopes, then map `staging` once
 * and copy `parts` out of it. A GPU error becomes a GpuError naming `what`.
 */
export async function submitAndRead(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  staging: GPUBuffer,
  parts: ReadonlyArray<readonly [number, number]>,
  what: string,
): Promise<Float32Array[]> {
  const { device } = ctx;
  device.queue.submit([encoder.finish()]);
  const validation = device.popErrorScope();
  const oom = device.popErrorScope();
  const [vErr, oErr] = await Promise.all([validation, oom]);
  const err = vErr ?? oErr;
  if (err) throw new GpuError('gpu-error', `${what}: ${err.message}`);
  try {
    return await readFloats(staging, parts);
  } catch (e) {
    ctx.check();
    throw new GpuError('gpu-error', `${what}: readback failed: ${(e as Error).message}`);
  }
}
