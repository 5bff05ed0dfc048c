/**
 * One training step of a model with a read-out, for one (batch, seqLen, loss, lossOn): all in
 * one command encoder and one submit, with a readback only of what the caller asks for.
 *
 *   pass 1   the training forward (read-out y included) — loss kernel: per-row loss shares
 *            and dY — read-out backward GEMMs: dW = dYᵀ·H, db = dYᵀ·1, gradOutput = dY·W
 *            (lossOn 'final': H is the last layer's final states and dY·W goes to gradHN, one
 *            GEMM of each per direction) — BPTT (backward.ts)
 *   copies   that complete the gradients (db_hh where it equals db_ih)
 *   pass 2   grad-norm partials per gradient tensor, then the norm and the clipping factor;
 *            the optimizer update per parameter tensor (factor, value clipping and update
 *            fused); a projecting layer's W_hh·W_hr packed again (projection.ts)
 *   copies   of the loss shares, the norm and the final states into one staging buffer
 */
import { GpuError, WebRnnError } from '../errors.js';
import { createReadbackBuffer, createStorageBuffer, createUniformBuffer, writeFloats } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { gradNormWorkgroupLimit, gradNormWorkgroups } from '../kernels/grad-norm.js';
import type { Kernel } from '../kernels/kernel.js';
import type { MatmulDispatch, MatmulKernel, MatmulShape } from '../kernels/matmul.js';
import { LOSS_WORKGROUP } from '../kernels/mse-loss.js';
import { UPDATE_WORKGROUP } from '../kernels/sgd-update.js';
import { layerInputSize, outputWidth, packedGateStride, gateCount, stateOffset, stateSize, stateWidth, type ModelSpec } from '../spec/spec.js';
import { GemmList, recurrenceGemms } from './projection.js';
import type { ResolvedOptimizer } from '../train/options.js';
import type { GradientPlan } from './backward.js';
import { submitAndRead, type LayerParameterBuffers, type ReadoutBuffers } from './forward.js';

export interface TrainKernels {
  matmul: MatmulKernel;
  loss: Kernel;
  gradNorm: Kernel;
  update: Kernel;
}

/** Floats of every trained tensor, in the order the plan updates them (optimizer state follows it). */
export function trainableSizes(spec: ModelSpec): number[] {
  const sizes: number[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const { hiddenSize: H, numDirections: D, kind, projSize: P } = spec.layers[l];
    const G = gateCount(kind);
    // A projecting layer trains W_hh as it is [D, G·H, P], and W_hr [D, P, H] last.
    sizes.push(D * G * H * layerInputSize(spec, l), P ? D * G * H * P : D * H * H * packedGateStride(G));
    if (spec.bias) sizes.push(D * G * H, D * G * H);
    if (P) sizes.push(D * P * H);
  }
  sizes.push(spec.outputSize * outputWidth(spec), spec.outputSize);
  if (spec.embedding) sizes.push(spec.embedding.numEmbeddings * spec.inputSize);
  return sizes;
}

/** Per-call facts of a step. */
export interface TrainStepCall {
  hasH0: boolean;
  hasC0: boolean;
  /** 1 / (Σ mask · O) for MSE, 1 / Σ mask for cross-entropy. */
  scale: number;
  maxNorm: number;
  clipValue: number;
  optimizer: ResolvedOptimizer;
  /** 1-based step count of the optimizer. */
  step: number;
  readLoss: boolean;
  readNorm: boolean;
  readState: boolean;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export class TrainStepPlan {
  /** Targets [rows, O] (MSE) or class indices [rows] (cross-entropy), written by the caller. */
  readonly targets: GPUBuffer;
  /** Row weights [rows], written by the caller. */
  readonly mask: GPUBuffer;
  readonly rows: number;
  private readonly owned: GPUBuffer[] = [];
  private readonly lossRows: GPUBuffer;
  private readonly clip: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly lossUniform: GPUBuffer;
  private readonly lossBindGroup: GPUBindGroup;
  private readonly readoutGemms: Array<{ bindGroup: GPUBindGroup; workgroups: MatmulDispatch }> = [];
  private readonly tensors: Array<{ param: GPUBuffer; grad: GPUBuffer; count: number }> = [];
  private readonly normUniform: GPUBuffer;
  private readonly normBindGroups: GPUBindGroup[] = [];
  private readonly normSlots: number[] = [];
  /** The most workgroups a tensor's norm partials take on this adapter (gradNormWorkgroupLimit). */
  private readonly normLimit: number;
  private readonly updateUniform: GPUBuffer;
  private readonly updateBindGroups: GPUBindGroup[];
  private readonly slot: number;
  private readonly yOffset: number;
  /** After the update: the projecting layers' W_hh·W_hr, packed (projection.ts). */
  private readonly recurrence: GemmList;

  constructor(
    private readonly ctx: GpuContext,
    private readonly spec: ModelSpec,
    readonly gradients: GradientPlan,
    private readonly kernels: TrainKernels,
    layers: readonly LayerParameterBuffers[],
    readout: ReadoutBuffers,
    /** The embedding's weights [V, I], for a model that reads token ids. */
    embedding: GPUBuffer | null,
    state: readonly GPUBuffer[][],
    readonly lossOn: 'all' | 'last' | 'final',
  ) {
    const { batch: B, seqLen: T } = gradients;
    this.normLimit = gradNormWorkgroupLimit(ctx);
    const O = spec.outputSize;
    const { numLayers: L, numDirections: D } = spec;
    // H: features of the last layer's h a direction (its projSize where it projects).
    const H = stateWidth(spec);
    const DH = D * H;
    const crossEntropy = kernels.loss.spec.name === 'cross-entropy-loss';
    if ((lossOn === 'final') !== (gradients.forward.yRows === 'final')) throw new WebRnnError('invalid-option', `train step: lossOn '${lossOn}' on a forward plan with y rows '${gradients.forward.yRows}'`);
    this.rows = lossOn === 'all' ? T * B : B;
    const rowStart = lossOn === 'last' ? (T - 1) * B : 0;
    this.yOffset = rowStart * O;
    const make = (label: string, floats: number): GPUBuffer => {
      const b = createStorageBuffer(ctx, `webrnn ${label}`, floats);
      this.owned.push(b);
      return b;
    };
    const alignment = ctx.limits.minUniformBufferOffsetAlignment;
    this.slot = align(Math.max(kernels.gradNorm.uniformLayout.size, kernels.update.uniformLayout.size, kernels.matmul.params({ M: 1, N: 1, K: 1 }).byteLength), alignment);
    try {
      this.targets = make('train targets', crossEntropy ? this.rows : this.rows * O);
      this.mask = make('train mask [rows]', this.rows);
      this.lossRows = make('loss per row [rows]', this.rows);
      const dY = make('dY [rows,O]', this.rows * O);
      const dW = make('readout dW [O,D*H]', O * DH);
      const db = make('readout db [O]', O);
      const ones = make('ones [rows]', this.rows);
      writeFloats(ctx, ones, new Float32Array(this.rows).fill(1));
      this.clip = make('clip (norm, scale)', 2);

      // Loss (its uniform is written per call: the mask decides the scale).
      this.lossUniform = createUniformBuffer(ctx, 'webrnn loss uniform', kernels.loss.uniformLayout.size);
      this.owned.push(this.lossUniform);
      const y = gradients.forward.y;
      if (!y) throw new WebRnnError('invalid-option', 'train step: the model has no read-out');
      this.lossBindGroup = kernels.loss.bindGroup({ buffer: this.lossUniform }, { y, targets: this.targets, mask: this.mask, lossRows: this.lossRows, dY });

      // Read-out backward: dW [O, DH] = dYᵀ·H_rows, db = dYᵀ·1, gradOutput rows = dY·W. With
      // 'final' the rows are hN[(L−1)·D + d] [B, H], direction d owning W's columns d·H .. d·H + H:
      // dW[:, d·H ..] = dYᵀ·hN_d and gradHN_d = dY·W[:, d·H ..] per direction.
      const hseq = gradients.forward.hseq[L - 1];
      const hN = gradients.forward.hN;
      const shapes: Array<{ shape: MatmulShape; a: GPUBuffer; b: GPUBuffer; c: GPUBuffer }> = [{ shape: { M: O, N: 1, K: this.rows, transA: true, transB: true }, a: dY, b: ones, c: db }];
      if (lossOn === 'final') {
        for (let d = 0; d < D; d++) {
          const state = stateOffset(spec, L - 1, B) + d * B * H;
          shapes.push(
            { shape: { M: O, N: H, K: B, transA: true, transB: true, offsetB: state, offsetC: d * H, ldc: DH }, a: dY, b: hN, c: dW },
            { shape: { M: B, N: H, K: O, transB: true, offsetB: d * H, ldb: DH, offsetC: state }, a: dY, b: readout.weight, c: gradients.gradHN },
          );
        }
      } else {
        shapes.push(
          { shape: { M: O, N: DH, K: this.rows, transA: true, transB: true, offsetB: rowStart * DH }, a: dY, b: hseq, c: dW },
          { shape: { M: this.rows, N: DH, K: O, transB: true, offsetC: rowStart * DH }, a: dY, b: readout.weight, c: gradients.gradOutput },
        );
      }
      const gemmData = new ArrayBuffer(shapes.length * this.slot);
      const gemmUniform = createUniformBuffer(ctx, 'webrnn readout gemm uniforms', gemmData.byteLength);
      this.owned.push(gemmUniform);
      shapes.forEach((g, i) => {
        const bindings = { uniform: gemmUniform, uniformOffset: i * this.slot, a: g.a, b: g.b, bias: g.a, c: g.c };
        kernels.matmul.checkBuffers(g.shape, bindings);
        new Uint8Array(gemmData, i * this.slot).set(new Uint8Array(kernels.matmul.params(g.shape)));
        this.readoutGemms.push({ bindGroup: kernels.matmul.bindGroup(bindings, g.shape), workgroups: kernels.matmul.dispatch(g.shape) });
      });
      ctx.device.queue.writeBuffer(gemmUniform, 0, gemmData);

      // The trained tensors, in trainableSizes order.
      const grads = gradients.gradientBuffers;
      for (let l = 0; l < spec.numLayers; l++) {
        const own = layers[l].proj;
        this.tensors.push({ param: layers[l].wih, grad: grads[l].wih, count: 0 }, { param: own?.whh ?? layers[l].whhT, grad: grads[l].whh, count: 0 });
        if (spec.bias) this.tensors.push({ param: layers[l].bih, grad: grads[l].bih, count: 0 }, { param: layers[l].bhh, grad: grads[l].bhh, count: 0 });
        if (own) this.tensors.push({ param: own.whr, grad: grads[l].whr!, count: 0 });
      }
      this.recurrence = new GemmList(ctx, kernels.matmul, 'projection recurrence', layers.flatMap((layer, l) => (layer.proj ? recurrenceGemms(spec, l, { ...layer.proj, whhT: layer.whhT }) : [])), this.owned);
      this.tensors.push({ param: readout.weight, grad: dW, count: 0 }, { param: readout.bias, grad: db, count: 0 });
      if (embedding) this.tensors.push({ param: embedding, grad: gradients.embeddingGrad!, count: 0 });
      const sizes = trainableSizes(spec);
      this.tensors.forEach((t, i) => (t.count = sizes[i]));

      // Norm: one partial dispatch per tensor, then `finish`.
      let slots = 0;
      for (const t of this.tensors) {
        this.normSlots.push(slots);
        slots += gradNormWorkgroups(t.count, this.normLimit);
      }
      const partials = make('grad-norm partials', slots);
      this.normUniform = createUniformBuffer(ctx, 'webrnn grad-norm uniforms', (this.tensors.length + 1) * this.slot);
      this.owned.push(this.normUniform);
      for (const t of this.tensors) this.normBindGroups.push(kernels.gradNorm.bindGroup({ buffer: this.normUniform }, { grad: t.grad, partials, clip: this.clip }));

      // Optimizer updates.
      this.updateUniform = createUniformBuffer(ctx, 'webrnn optimizer uniforms', this.tensors.length * this.slot);
      this.owned.push(this.updateUniform);
      const stateNames = kernels.update.spec.bindings.map((b) => b.name).filter((n) => n !== 'param' && n !== 'grad' && n !== 'clip');
      this.updateBindGroups = this.tensors.map((t, i) => {
        const buffers: Record<string, GPUBuffer> = { param: t.param, grad: t.grad, clip: this.clip };
        stateNames.forEach((name, k) => (buffers[name] = state[i][k]));
        return kernels.update.bindGroup({ buffer: this.updateUniform }, buffers);
      });

      this.staging = createReadbackBuffer(ctx, 'webrnn train-step readback', this.rows + 2 + stateSize(spec, B) + stateSize(spec, B, true));
      this.owned.push(this.staging);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Dispatches one step records. */
  get dispatches(): number {
    return this.gradients.dispatches + 1 + this.readoutGemms.length + 2 * this.tensors.length + 1 + this.recurrence.length;
  }

  async run(call: TrainStepCall): Promise<{ lossRows?: Float32Array; norm?: number; hN?: Float32Array; cN?: Float32Array }> {
    const { device } = this.ctx;
    const { kernels } = this;
    const O = this.spec.outputSize;
    const crossEntropy = kernels.loss.spec.name === 'cross-entropy-loss';
    device.queue.writeBuffer(
      this.lossUniform,
      0,
      kernels.loss.params({ rows: this.rows, [crossEntropy ? 'classes' : 'outputs']: O, scale: call.scale, yOffset: this.yOffset }),
    );
    const normData = new ArrayBuffer((this.tensors.length + 1) * this.slot);
    const slots = this.normSlots[this.normSlots.length - 1] + gradNormWorkgroups(this.tensors[this.tensors.length - 1].count, this.normLimit);
    this.tensors.forEach((t, i) => kernels.gradNorm.params({ count: t.count, slot: this.normSlots[i], slots, maxNorm: call.maxNorm }, normData, i * this.slot));
    kernels.gradNorm.params({ count: 0, slot: 0, slots, maxNorm: call.maxNorm }, normData, this.tensors.length * this.slot);
    device.queue.writeBuffer(this.normUniform, 0, normData);
    const updateData = new ArrayBuffer(this.tensors.length * this.slot);
    this.tensors.forEach((t, i) => kernels.update.params(updateParams(call, t.count), updateData, i * this.slot));
    device.queue.writeBuffer(this.updateUniform, 0, updateData);

    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder({ label: 'webrnn train step' });
    this.gradients.encodeClears(encoder, call.hasH0, call.hasC0, false, false);
    // Only the rows the loss reads get an output gradient; 'final' writes the last layer's part
    // of gradHN (cleared with the rest by encodeClears) instead.
    if (this.lossOn !== 'all') encoder.clearBuffer(this.gradients.gradOutput);
    const pass = encoder.beginComputePass({ label: 'webrnn train step: forward and backward' });
    this.gradients.forward.encodeForward(pass);
    kernels.loss.encode(pass, this.lossBindGroup, kernels.loss.workgroups1d(this.rows, LOSS_WORKGROUP));
    for (const g of this.readoutGemms) kernels.matmul.encode(pass, g.bindGroup, g.workgroups);
    const copies = this.gradients.encodeBackward(pass);
    pass.end();
    for (const [src, dst, floats] of copies) encoder.copyBufferToBuffer(src, 0, dst, 0, floats * 4);

    const update = encoder.beginComputePass({ label: 'webrnn train step: clipping and update' });
    this.tensors.forEach((t, i) => kernels.gradNorm.encode(update, this.normBindGroups[i], [gradNormWorkgroups(t.count, this.normLimit), 1, 1], 'partial', i * this.slot));
    kernels.gradNorm.encode(update, this.normBindGroups[0], [1, 1, 1], 'finish', this.tensors.length * this.slot);
    this.tensors.forEach((t, i) => kernels.update.encode(update, this.updateBindGroups[i], kernels.update.workgroups1d(t.count, UPDATE_WORKGROUP), 'main', i * this.slot));
    this.recurrence.encode(update);
    update.end();

    const parts: Array<[number, number]> = [];
    let at = 0;
    const copy = (src: GPUBuffer, floats: number): void => {
      encoder.copyBufferToBuffer(src, 0, this.staging, at * 4, floats * 4);
      parts.push([at, floats]);
      at += floats;
    };
    if (call.readLoss) copy(this.lossRows, this.rows);
    if (call.readNorm) copy(this.clip, 2);
    const fwd = this.gradients.forward;
    const state = fwd.resultSizes.state;
    if (call.readState) {
      copy(fwd.hN, state);
      if (fwd.c) copy(fwd.c, fwd.resultSizes.cells);
    }
    if (parts.length === 0) {
      // Nothing to read: submit, and still surface any GPU error of the step.
      device.queue.submit([encoder.finish()]);
      const [v, o] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
      const err = v ?? o;
      if (err) throw new GpuError('gpu-error', `train step: ${err.message}`);
      return {};
    }
    const arrays = await submitAndRead(this.ctx, encoder, this.staging, parts, 'train step');
    let k = 0;
    const out: { lossRows?: Float32Array; norm?: number; hN?: Float32Array; cN?: Float32Array } = {};
    if (call.readLoss) out.lossRows = arrays[k++];
    if (call.readNorm) out.norm = arrays[k++][0];
    if (call.readState) {
      out.hN = arrays[k++];
      if (fwd.c) out.cN = arrays[k++];
    }
    return out;
  }

  destroy(): void {
    this.gradients.destroy();
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/** The update kernel's Params for one tensor of `count` elements. */
function updateParams(call: TrainStepCall, count: number): Record<string, number> {
  const o = call.optimizer;
  if (o.type === 'sgd') {
    const h = o.hyper;
    return { count, lr: h.lr, momentum: h.momentum, weightDecay: h.weightDecay, nesterov: h.nesterov ? 1 : 0, clipValue: call.clipValue, first: call.step === 1 ? 1 : 0 };
  }
  const h = o.hyper;
  return {
    count,
    lr: h.lr,
    beta1: h.beta1,
    beta2: h.beta2,
    eps: h.eps,
    weightDecay: h.weightDecay,
    decoupled: h.decoupled ? 1 : 0,
    correction1: 1 - h.beta1 ** call.step,
    correction2: 1 - h.beta2 ** call.step,
    clipValue: call.clipValue,
  };
}
