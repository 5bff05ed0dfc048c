/**
 * The gradient plan of one model for one (batch, seqLen): a training forward pass (which
 * saves the activations backward needs) followed by backpropagation through time, all in one
 * command encoder, one submit and one readback:
 *
 *   forward    as in forward.ts, with the saving kernels
 *   for each layer l, top down:
 *     T + 1 dispatches   the reverse-time sweep of both directions (one with the resident
 *                        sweep, which loops over the steps itself): dG for every step, and
 *                        dh0 (LSTM: dc0 in `carry`) from the last dispatch
 *     GEMMs              dW_ih = dGᵀ·X_l and db_ih = dGᵀ·1 (both directions at once),
 *                        dW_hh = dGrecᵀ·H_prev per direction, in W_hh's packed layout (the
 *                        step reading h0, then the T − 1 steps reading the output sequence
 *                        shifted by one step),
 *                        db_hh = dGrecᵀ·1 (a copy of db_ih where dGrec = dG),
 *                        dX_l = dG·W_ih: the gradient of layer l − 1's output, or of x
 *     with dropout (l ≥ 1): 1 dispatch, dX_l times layer l − 1's mask (dX_l having been written
 *                        over the dropped output, which nothing reads after dW_ih)
 *
 * The gradient is that of L = Σ output ⊙ gradOutput + Σ hN ⊙ gradHN + Σ cN ⊙ gradCN.
 */
import { WebRnnError } from '../errors.js';
import { createReadbackBuffer, createStorageBuffer, createUniformBuffer, writeFloats } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import type { MatmulDispatch, MatmulKernel, MatmulShape } from '../kernels/matmul.js';
import type { CellBackwardKernel } from '../kernels/recurrent-step-backward.js';
import type { Kernel } from '../kernels/kernel.js';
import { embeddingRows, embeddingRowsWords } from '../spec/embedding.js';
import { gateCount, hasCellState, layerInputSize, packedGateStride, stateOffset, stateSize, stateWidth, type ModelSpec } from '../spec/spec.js';
import { ProjectionGradient } from './projection.js';
import { cellStepShape, ForwardPlan, submitAndRead, type ForwardExtras, type ForwardKernels, type LayerParameterBuffers, type ReadoutBuffers, type ReadoutRows } from './forward.js';

/** The GEMM and each layer's sweep kernel. */
export interface BackwardKernels {
  matmul: MatmulKernel;
  cells: readonly CellBackwardKernel[];
}

/** Per-layer parameter gradients in the GPU layout of the parameters (spec/parameters.ts). */
export interface LayerGradients {
  wih: Float32Array;
  bih: Float32Array;
  /** A projecting layer's: dW_hh as W_hh is, [D, G·H, P], and dW_hr [D, P, H]. */
  whh: Float32Array;
  bhh: Float32Array;
  whr?: Float32Array;
}

/** Raw results in sequence-major layout. */
export interface GradientResult {
  layers: LayerGradients[];
  /** Gradient of x [T, B, I]. */
  input: Float32Array;
  /** Gradient of h0 (h0's layout). */
  h0: Float32Array;
  /** Gradient of c0 (c0's layout; LSTM layers). */
  c0?: Float32Array;
  /** Gradient of the embedding [V, I], for a model that reads token ids. */
  embedding?: Float32Array;
  /** The forward results, [T, B, D·H] and [L·D, B, H]. */
  output: Float32Array;
  hN: Float32Array;
  cN?: Float32Array;
  y?: Float32Array;
}

interface Gemm {
  bindGroup: GPUBindGroup;
  workgroups: MatmulDispatch;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export class GradientPlan {
  readonly forward: ForwardPlan;
  /** Gradient of the output [T, B, D·H] (written by the caller). */
  readonly gradOutput: GPUBuffer;
  /** Gradient of hN (hN's layout; written by the caller, or cleared), then the lengths [B]. */
  readonly gradHN: GPUBuffer;
  /** LSTM layers: gradCN in, dc0 out (cN's layout). */
  readonly carry: GPUBuffer | null;
  /** GRU layers: the direct path z·dh (hN's layout), cleared before the pass. */
  private readonly stateCarry: GPUBuffer | null;
  /** Dispatches recorded by one gradient pass (forward included). */
  readonly dispatches: number;
  private readonly owned: GPUBuffer[] = [];
  private readonly dh0: GPUBuffer;
  /** The gradient of x [T, B, I]; null without `inputGradient` (and an embedding). */
  private readonly dx0: GPUBuffer | null;
  /** A model reading token ids: the embedding's gradient [V, I], the rows its ids touch (setIds), and the kernel making one from the other. */
  readonly embeddingGrad: GPUBuffer | null = null;
  private readonly embeddingRows: GPUBuffer | null = null;
  private readonly scatter: { kernel: Kernel; bindGroup: GPUBindGroup } | null = null;
  private readonly grads: Array<{ wih: GPUBuffer; bih: GPUBuffer; whh: GPUBuffer; bhh: GPUBuffer; whr?: GPUBuffer }> = [];
  /** Each projecting layer's gradient buffers and GEMMs (projection.ts); null for the others. */
  private readonly projections: Array<ProjectionGradient | null> = [];
  private readonly sweepBindGroups: GPUBindGroup[] = [];
  private readonly sweepWorkgroups: Array<[number, number, number]>;
  private readonly stepSlot: number;
  /** Per layer, in encoding order, the GEMMs after its sweep (and buffer copies, and the dropout mask of the layer below). */
  private readonly layerGemms: Array<Array<Gemm | { copy: [GPUBuffer, GPUBuffer, number] } | { dropout: GPUBindGroup; boundary: number }>> = [];
  /** Every gradient and the forward results, for run(); null without `inputGradient`. */
  private readonly staging: GPUBuffer | null = null;
  private readonly parts: Array<[number, number]> = [];

  /**
   * `inputGradient` false makes the plan of a training step (schedule/train-step.ts): it leaves
   * out the gradient of x (layer 0's dX GEMM, 2·T·B·I·D·G·H flops that no update reads: GRU and
   * Elman training steps at workloads B and C 3-10% faster without it in Chromium) and the
   * readback buffer of run(), which it then cannot call.
   */
  constructor(
    private readonly ctx: GpuContext,
    private readonly spec: ModelSpec,
    forwardKernels: ForwardKernels,
    readonly kernels: BackwardKernels,
    layers: readonly LayerParameterBuffers[],
    readonly batch: number,
    readonly seqLen: number,
    readout: ReadoutBuffers | null = null,
    readonly inputGradient = true,
    yRows: ReadoutRows = 'steps',
    /** As the forward's (ForwardExtras), and the embedding-backward kernel of a model that reads token ids. */
    extras: ForwardExtras & { embeddingBackward?: Kernel | null } = {},
  ) {
    const dropout = extras.dropout ?? null;
    const L = spec.numLayers;
    const B = batch;
    const T = seqLen;
    const shape = (l: number) => cellStepShape(spec, l, B, T);
    const width = (l: number): number => spec.layers[l].numDirections * spec.layers[l].hiddenSize;
    // D·G·H of layer l: its gate pre-activations per row, both directions.
    const gates = (l: number): number => width(l) * gateCount(spec.layers[l].kind);
    const separate = (l: number): boolean => kernels.cells[l].spec.recurrentGrad;
    this.sweepWorkgroups = kernels.cells.map((cell, l) => cell.workgroups(shape(l)));
    this.forward = new ForwardPlan(ctx, spec, forwardKernels, layers, batch, seqLen, readout, yRows, extras);
    const make = (label: string, floats: number): GPUBuffer => {
      const b = createStorageBuffer(ctx, `webrnn ${label}`, floats);
      this.owned.push(b);
      return b;
    };
    try {
      const state = stateSize(spec, B);
      // dys[l]: gradient of layer l's output [T, B, D·H]; the top one is gradOutput.
      const dys = Array.from({ length: L }, (_, l) => make(`layer ${l} output gradient [T,B,D*H]`, T * B * spec.layers[l].numDirections * stateWidth(spec.layers[l])));
      this.gradOutput = dys[L - 1];
      this.gradHN = make('gradHN [L*D,B,H] + lengths [B]', state + B);
      this.carry = hasCellState(spec) ? make('backward carry dc [L*D,B,H] (LSTM layers)', stateSize(spec, B, true)) : null;
      this.stateCarry = kernels.cells.some((c) => c.spec.carry === 'states') ? make('backward carry z*dh [L*D,B,H]', state) : null;
      this.dh0 = make('dh0 [L*D,B,H]', state);
      // The embedding's gradient is made from x's, which a training step then needs too.
      this.dx0 = inputGradient || spec.embedding ? make('dx [T,B,I]', T * B * spec.inputSize) : null;
      if (spec.embedding && extras.embeddingBackward) {
        const kernel = extras.embeddingBackward;
        const V = spec.embedding.numEmbeddings;
        const layout = embeddingRowsWords(V, T * B);
        this.embeddingGrad = make('embedding dE [V,I]', V * spec.inputSize);
        this.embeddingRows = make('embedding rows (u32: slot, starts, order)', layout.words);
        const uniform = createUniformBuffer(ctx, 'webrnn embedding-backward uniform', kernel.uniformLayout.size);
        this.owned.push(uniform);
        ctx.device.queue.writeBuffer(uniform, 0, kernel.params({ numEmbeddings: V, features: spec.inputSize, startsAt: layout.startsAt, orderAt: layout.orderAt }));
        this.scatter = { kernel, bindGroup: kernel.bindGroup({ buffer: uniform }, { rows: this.embeddingRows, dx: this.dx0!, dE: this.embeddingGrad }) };
      }
      // The recurrent-side buffer gets a slot T: each row's initial step again (for dW_hh with h0).
      // One dG (and dGrec) for every layer in turn, as large as the largest layer's.
      const layerIndices = spec.layers.map((_, l) => l);
      const dG = make('dG [T(+1),B,D,G*H]', Math.max(...layerIndices.map((l) => (separate(l) ? T : T + 1) * B * gates(l))));
      const recLayers = layerIndices.filter(separate);
      const dGrec = recLayers.length > 0 ? make('dGrec [T+1,B,D,G*H]', Math.max(...recLayers.map((l) => (T + 1) * B * gates(l)))) : null;
      const ones = make('ones [T*B]', T * B);
      // Every sequence runs all T steps until the caller says otherwise.
      writeFloats(ctx, this.gradHN, Float32Array.from({ length: B }, () => T), state);
      writeFloats(ctx, ones, new Float32Array(T * B).fill(1));
      for (let l = 0; l < L; l++) {
        const I = layerInputSize(spec, l);
        const { numDirections: D, hiddenSize: H, kind, projSize } = spec.layers[l];
        this.grads.push({
          wih: make(`layer ${l} dW_ih [D*G*H,I]`, gates(l) * I),
          bih: make(`layer ${l} db_ih [D*G*H]`, gates(l)),
          whh: projSize ? make(`layer ${l} dW_hh [D,G*H,P]`, gates(l) * projSize) : make(`layer ${l} dW_hh [D,H,H,P]`, D * H * H * packedGateStride(gateCount(kind))),
          bhh: make(`layer ${l} db_hh [D*G*H]`, gates(l)),
          ...(projSize ? { whr: make(`layer ${l} dW_hr [D,P,H]`, D * projSize * H) } : {}),
        });
      }

      // Uniforms: (T + 1) sweep slots per layer, then the GEMM slots.
      const alignment = ctx.limits.minUniformBufferOffsetAlignment;
      this.stepSlot = align(kernels.cells[0].uniformLayout.size, alignment);
      const gemmSlot = align(kernels.matmul.params({ M: 1, N: 1, K: 1 }).byteLength, alignment);
      const sweepBytes = L * (T + 1) * this.stepSlot;
      const sweepData = new ArrayBuffer(sweepBytes);
      const sweepUniforms = createUniformBuffer(ctx, 'webrnn backward step uniforms', sweepBytes);
      this.owned.push(sweepUniforms);
      const gemmShapes: Array<{ layer: number; shape: MatmulShape; a: GPUBuffer; b: GPUBuffer; c: GPUBuffer }> = [];
      const dropoutSteps: Array<{ layer: number; bindGroup: GPUBindGroup }> = [];
      for (let l = 0; l < L; l++) {
        const cell = kernels.cells[l];
        const { numDirections: D, hiddenSize: H, kind } = spec.layers[l];
        const G = gateCount(kind);
        const GH = G * H;
        const P = packedGateStride(G);
        for (let s = 0; s <= T; s++) cell.packStep(shape(l), s, sweepData, (l * (T + 1) + s) * this.stepSlot);
        const own = layers[l].proj;
        const fwd = this.forward.projections[l];
        const pg = own && fwd ? new ProjectionGradient(ctx, kernels.matmul, spec, l, B, T, { fwd, dy: dys[l], gradHN: this.gradHN, dG, h0: this.forward.h0, dh0: this.dh0, ...own, dWhh: this.grads[l].whh, dWhr: this.grads[l].whr! }, this.owned) : null;
        this.projections.push(pg);
        const bindings = {
          uniform: sweepUniforms,
          saved: this.forward.saved[l] ?? this.forward.hseq[l],
          whhT: layers[l].whhT,
          dy: pg?.dyR ?? dys[l],
          gradHN: pg?.gradHNr ?? this.gradHN,
          dG,
          dh0: pg?.sink ?? this.dh0,
          carry: (cell.spec.carry === 'cells' ? this.carry : cell.spec.carry === 'states' ? this.stateCarry : null) ?? undefined,
          dGrec: separate(l) ? dGrec! : undefined,
        };
        cell.checkBuffers(shape(l), bindings);
        this.sweepBindGroups.push(cell.bindGroup(bindings));

        const I = layerInputSize(spec, l);
        const x = this.forward.input(l);
        const g = this.grads[l];
        const rec = separate(l) ? dGrec! : dG;
        // dW_ih [D·G·H, I] = dGᵀ·X: A' is dG [T·B, D·G·H] read transposed.
        gemmShapes.push({ layer: l, shape: { M: D * GH, N: I, K: T * B, transA: true, transB: true }, a: dG, b: x, c: g.wih });
        if (spec.bias) gemmShapes.push({ layer: l, shape: { M: D * GH, N: 1, K: T * B, transA: true, transB: true }, a: dG, b: ones, c: g.bih });
        // A projecting layer's dW_hh and dW_hr: pg.after.
        for (let d = 0; d < (pg ? 0 : D); d++) {
          // dW_hh in the packed layout of W_hh [D, H(k), H(j), P]: for gate g,
          // dW[k, j] = Σ_rows hPrev[row, k]·dGrec[row, g·H + j], one batched GEMM over the
          // G gates (B advances a gate block, C one component of the P-interleave).
          const packed = { M: H, N: H, batch: G, transA: true, transB: true, strideA: 0, ldb: D * GH, strideB: H, ldc: H * P, colStrideC: P, strideC: 1, offsetC: d * H * H * P };
          // Each row's step whose h_{t−1} is h0 (t = 0 forward, its last step reverse), which the
          // sweep copied to slot T.
          gemmShapes.push({ layer: l, shape: { ...packed, K: B, lda: H, offsetA: stateOffset(spec, l, B) + d * B * H, offsetB: T * B * D * GH + d * GH }, a: this.forward.h0, b: rec, c: g.whh });
          if (T > 1) {
            // The other steps: forward pairs step t with output row t − 1, reverse with t + 1 (a
            // reverse row's initial step t = L − 1 < T − 1 meets its zero output at t + 1).
            const gStart = d === 0 ? B : 0;
            const hStart = d === 0 ? 0 : B;
            gemmShapes.push({
              layer: l,
              shape: { ...packed, K: (T - 1) * B, lda: D * H, offsetA: hStart * D * H + d * H, offsetB: gStart * D * GH + d * GH, accumulate: true },
              a: this.forward.hseq[l],
              b: rec,
              c: g.whh,
            });
          }
        }
        if (spec.bias && separate(l)) gemmShapes.push({ layer: l, shape: { M: D * GH, N: 1, K: T * B, transA: true, transB: true }, a: dGrec!, b: ones, c: g.bhh });
        // dX_l [T·B, I] = dG·W_ih, W_ih stored [D·G·H, I]; with dropout, into the dropped output
        // of layer l − 1 (read by dW_ih above, by nothing after), then through its mask into dys.
        const dropped = l > 0 ? this.forward.dropped[l - 1] : undefined;
        const dx = l === 0 ? this.dx0 : (dropped ?? dys[l - 1]);
        if (dx) gemmShapes.push({ layer: l, shape: { M: T * B, N: I, K: D * GH, transB: true }, a: dG, b: layers[l].wih, c: dx });
        if (dropped) dropoutSteps.push({ layer: l, bindGroup: dropout!.bindGroup({ buffer: this.forward.dropoutUniforms!.buffer }, { x: dropped, y: dys[l - 1] }) });
      }
      ctx.device.queue.writeBuffer(sweepUniforms, 0, sweepData);

      const gemmData = new ArrayBuffer(Math.max(1, gemmShapes.length) * gemmSlot);
      const gemmUniforms = createUniformBuffer(ctx, 'webrnn backward gemm uniforms', gemmData.byteLength);
      this.owned.push(gemmUniforms);
      for (let l = 0; l < L; l++) this.layerGemms.push([]);
      gemmShapes.forEach((gs, i) => {
        const bindings = { uniform: gemmUniforms, uniformOffset: i * gemmSlot, a: gs.a, b: gs.b, bias: gs.a, c: gs.c };
        kernels.matmul.checkBuffers(gs.shape, bindings);
        new Uint8Array(gemmData, i * gemmSlot).set(new Uint8Array(kernels.matmul.params(gs.shape)));
        this.layerGemms[gs.layer].push({ bindGroup: kernels.matmul.bindGroup(bindings, gs.shape), workgroups: kernels.matmul.dispatch(gs.shape) });
      });
      for (const d of dropoutSteps) this.layerGemms[d.layer].push({ dropout: d.bindGroup, boundary: d.layer - 1 });
      if (spec.bias) {
        // db_hh = db_ih where the recurrent and input sides share dG.
        for (let l = 0; l < L; l++) if (!separate(l)) this.layerGemms[l].push({ copy: [this.grads[l].bih, this.grads[l].bhh, gates(l)] });
      }
      ctx.device.queue.writeBuffer(gemmUniforms, 0, gemmData);

      // Readback: every gradient, then the forward results.
      if (inputGradient) {
        let total = 0;
        const part = (floats: number): void => {
          this.parts.push([total, floats]);
          total += floats;
        };
        for (const g of this.grads) for (const b of [g.wih, g.bih, g.whh, g.bhh, ...(g.whr ? [g.whr] : [])]) part(b.size / 4);
        part(T * B * spec.inputSize);
        part(state);
        if (this.carry) part(stateSize(spec, B, true));
        if (this.embeddingGrad) part(spec.embedding!.numEmbeddings * spec.inputSize);
        const fwd = this.forward.resultSizes;
        this.staging = createReadbackBuffer(ctx, 'webrnn gradients readback', total + fwd.output + fwd.state + fwd.cells + fwd.y);
        this.owned.push(this.staging);
      }
      const projected = this.projections.reduce((n, p) => n + (p ? p.before.length + p.after.length : 0), 0);
      this.dispatches = this.forward.stats.dispatches + layerIndices.reduce((n, l) => n + this.sweepDispatches(l), 0) + gemmShapes.length + projected + dropoutSteps.length + (this.scatter ? 1 : 0);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /**
   * Encode, submit and read back one gradient pass. The caller has written x, h0 and c0 to the
   * forward plan, gradOutput, and (when `hasGradHN`/`hasGradCN`) gradHN and gradCN (the latter
   * into `carry`).
   */
  /** Record the clears of absent initial states and output gradients; call before the pass. */
  encodeClears(encoder: GPUCommandEncoder, hasH0: boolean, hasC0: boolean, hasGradHN: boolean, hasGradCN: boolean): void {
    this.forward.encodeInitialStates(encoder, hasH0, hasC0);
    if (!hasGradHN) encoder.clearBuffer(this.gradHN, 0, this.forward.resultSizes.state * 4);
    if (this.carry && !hasGradCN) encoder.clearBuffer(this.carry);
    if (this.stateCarry) encoder.clearBuffer(this.stateCarry);
    for (const p of this.projections) if (p) encoder.clearBuffer(p.dWeff);
  }

  /** Whether this plan runs these forward and backward kernels. */
  uses(forwardKernels: ForwardKernels, backwardKernels: BackwardKernels): boolean {
    return this.forward.kernels === forwardKernels && this.kernels === backwardKernels;
  }

  /** Sweep dispatches of layer l: T + 1, or one for the resident (persistent) sweep. */
  sweepDispatches(l: number): number {
    return this.kernels.cells[l].persistent ? 1 : this.seqLen + 1;
  }

  /**
   * Record the backward half (every layer's sweep and GEMMs, top down) into `pass`, after the
   * forward. Returns the buffer copies that complete it, to record once the pass has ended.
   */
  encodeBackward(pass: GPUComputePassEncoder): Array<[GPUBuffer, GPUBuffer, number]> {
    const T = this.seqLen;
    const copies: Array<[GPUBuffer, GPUBuffer, number]> = [];
    for (let l = this.spec.numLayers - 1; l >= 0; l--) {
      this.projections[l]?.before.encode(pass);
      // The resident sweep: the dispatch with step 0's uniform runs every step.
      for (let s = 0; s < this.sweepDispatches(l); s++) {
        this.kernels.cells[l].encodeStep(pass, this.sweepBindGroups[l], (l * (T + 1) + s) * this.stepSlot, this.sweepWorkgroups[l]);
      }
      for (const g of this.layerGemms[l]) {
        if ('copy' in g) copies.push(g.copy);
        else if ('dropout' in g) this.forward.encodeDropout(pass, g.dropout, g.boundary);
        else this.kernels.matmul.encode(pass, g.bindGroup, g.workgroups);
      }
      this.projections[l]?.after.encode(pass);
    }
    if (this.scatter) {
      const n = this.spec.embedding!.numEmbeddings * this.spec.inputSize;
      this.scatter.kernel.encode(pass, this.scatter.bindGroup, this.scatter.kernel.workgroupsFor(n));
    }
    return copies;
  }

  /** Write the token ids [T·B] (sequence-major) for the forward's gather and the rows of the embedding's gradient. */
  setIds(ids: Int32Array): void {
    this.forward.setIds(ids);
    const e = this.spec.embedding!;
    const { slot, starts, order } = embeddingRows(ids, e.numEmbeddings, e.paddingIdx);
    const layout = embeddingRowsWords(e.numEmbeddings, ids.length);
    const words = new Uint32Array(layout.words);
    words.set(slot);
    words.set(starts, layout.startsAt);
    words.set(order, layout.orderAt);
    writeFloats(this.ctx, this.embeddingRows!, new Float32Array(words.buffer));
  }

  /** Write each sequence's length (null: all run seqLen steps) for the forward and the sweep. */
  setLengths(lengths: ArrayLike<number> | null): void {
    this.forward.setLengths(lengths);
    const data = Float32Array.from({ length: this.batch }, (_, b) => (lengths ? lengths[b] : this.seqLen));
    writeFloats(this.ctx, this.gradHN, data, this.forward.resultSizes.state);
    this.projections.forEach((p, l) => p && writeFloats(this.ctx, p.gradHNr, data, this.spec.layers[l].numDirections * this.batch * this.spec.layers[l].hiddenSize));
  }

  /** Each layer's parameter gradients, in the parameters' GPU layout. */
  get gradientBuffers(): ReadonlyArray<{ wih: GPUBuffer; bih: GPUBuffer; whh: GPUBuffer; bhh: GPUBuffer; whr?: GPUBuffer }> {
    return this.grads;
  }

  async run(hasH0: boolean, hasC0: boolean, hasGradHN: boolean, hasGradCN: boolean): Promise<GradientResult> {
    const { dx0, staging } = this;
    if (!dx0 || !staging) throw new WebRnnError('invalid-option', 'GradientPlan.run: this plan was built without the input gradient (for training steps)');
    const { device } = this.ctx;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder({ label: 'webrnn gradients' });
    this.encodeClears(encoder, hasH0, hasC0, hasGradHN, hasGradCN);
    const pass = encoder.beginComputePass({ label: 'webrnn gradients' });
    this.forward.encodeForward(pass);
    const copies = this.encodeBackward(pass);
    pass.end();
    for (const [src, dst, floats] of copies) encoder.copyBufferToBuffer(src, 0, dst, 0, floats * 4);

    let i = 0;
    const copy = (src: GPUBuffer): void => {
      const [offset, floats] = this.parts[i++];
      encoder.copyBufferToBuffer(src, 0, staging, offset * 4, floats * 4);
    };
    for (const g of this.grads) for (const b of [g.wih, g.bih, g.whh, g.bhh, ...(g.whr ? [g.whr] : [])]) copy(b);
    copy(dx0);
    copy(this.dh0);
    if (this.carry) copy(this.carry);
    if (this.embeddingGrad) copy(this.embeddingGrad);
    const last = this.parts[this.parts.length - 1];
    const fwdParts = this.forward.encodeResultCopies(encoder, staging, last[0] + last[1]);
    const arrays = await submitAndRead(this.ctx, encoder, staging, [...this.parts, ...fwdParts], 'gradient pass');
    let k = 0;
    const layers: LayerGradients[] = this.grads.map((g) => ({ wih: arrays[k++], bih: arrays[k++], whh: arrays[k++], bhh: arrays[k++], ...(g.whr ? { whr: arrays[k++] } : {}) }));
    const input = arrays[k++];
    const h0 = arrays[k++];
    const c0 = this.carry ? arrays[k++] : undefined;
    const embedding = this.embeddingGrad ? arrays[k++] : undefined;
    const output = arrays[k++];
    const hN = arrays[k++];
    const cN = this.forward.c ? arrays[k++] : undefined;
    const y = this.forward.y ? arrays[k++] : undefined;
    return { layers, input, h0, c0, embedding, output, hN, cN, y };
  }

  destroy(): void {
    this.forward?.destroy();
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
