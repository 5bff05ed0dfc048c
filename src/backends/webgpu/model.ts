/**
 * A model on the WebGPU backend: its parameters in GPU buffers (layout in spec/parameters.ts),
 * its kernels (kernel-set.ts), and the passes planned once per shape by schedule/ (forward,
 * gradient and training-step plans, the least recently used released first), run one at a time.
 */
import { WebRnnError } from '../../errors.js';
import { createReadbackBuffer, createStorageBuffer, readFloats, writeFloats } from '../../gpu/buffers.js';
import type { GpuContext } from '../../gpu/device.js';
import { dropsOut, type ForwardStats, type GradientResult, type ModelExecution, type PassGradients, type PassInputs, type PassResult, type ReadoutRows, type StreamExecution, type TrainStepReadback, type TrainStepRequest } from '../../model/backend.js';
import { packLayer, unpackLayer, type StateDict } from '../../spec/parameters.js';
import { packWhhTHalf } from '../../spec/half.js';
import { bhhBufferSize, EMBEDDING_WEIGHT, gateCount, layerInputSize, outputWidth, packedGateStride, READOUT_BIAS, READOUT_WEIGHT, type ModelSpec } from '../../spec/spec.js';
import type { AdapterProfile } from '../../placement/rules.js';
import { GradientPlan } from '../../schedule/backward.js';
import { ForwardPlan, type LayerParameterBuffers, type ReadoutBuffers } from '../../schedule/forward.js';
import { TrainStepPlan, trainableSizes } from '../../schedule/train-step.js';
import type { OptimizerConfig } from '../../train/options.js';
import type { Kernel } from '../../kernels/kernel.js';
import { ModelKernels } from './model-kernels.js';
import { PlanCache } from '../../model/plan-cache.js';
import type { OptimizerSnapshot } from '../../train/checkpoint.js';
import { openStream } from './stream.js';

/** Plans kept per kind of pass (least recently used shapes are released first). */
const MAX_PLANS = 4;

export class WebGpuModel implements ModelExecution {
  private readonly layers: LayerParameterBuffers[] = [];
  /** The linear read-out's weight [O, D·H] and bias [O], for models with one. */
  private readout: ReadoutBuffers | null = null;
  /** The embedding's weights [V, I], for a model that reads token ids. */
  private embedding: GPUBuffer | null = null;
  private readonly kernels: ModelKernels;
  // Plans are replaced where built on kernels no longer the ones to run (the per-step kernels once a resident form has compiled).
  private readonly plans = new PlanCache<ForwardPlan>(MAX_PLANS);
  private readonly gradientPlans = new PlanCache<GradientPlan>(MAX_PLANS);
  private readonly trainPlans = new PlanCache<TrainStepPlan>(MAX_PLANS);
  /** Optimizer state on the GPU (per trained tensor, in trainableSizes order) and its step count. */
  private optimizerState: { type: OptimizerConfig['type']; step: number; buffers: GPUBuffer[][] } | null = null;
  lastForwardStats: ForwardStats | null = null;
  lastTrainStats: { submits: number; dispatches: number } | null = null;

  constructor(
    private readonly ctx: GpuContext,
    private readonly spec: ModelSpec,
    profile: AdapterProfile,
  ) {
    this.kernels = new ModelKernels(ctx, spec, profile);
    try {
      for (let l = 0; l < spec.numLayers; l++) {
        const tag = `layer ${l}`;
        const { hiddenSize: H, numDirections: D, kind, projSize: P } = spec.layers[l];
        const G = gateCount(kind);
        this.layers.push({
          wih: createStorageBuffer(ctx, `webrnn ${tag} W_ih [D*G*H, I]`, D * G * H * layerInputSize(spec, l)),
          bih: createStorageBuffer(ctx, `webrnn ${tag} b_ih [D*G*H]`, D * G * H),
          whhT: createStorageBuffer(ctx, `webrnn ${tag} W_hh^T [D,H,H,P]`, D * H * H * packedGateStride(G)),
          bhh: createStorageBuffer(ctx, `webrnn ${tag} b_hh [D,G*H] (+ P [D,3H])`, bhhBufferSize(spec, l)),
          ...(spec.weightPrecision === 'f16' ? { whhHalf: createStorageBuffer(ctx, `webrnn ${tag} W_hh^T [D,H,H,P] (half pairs)`, G === 1 ? D * H * Math.ceil(H / 2) : D * H * H * 2) } : {}),
          // A projection: W_hh and W_hr as they are (whhT holds their product).
          ...(P ? { proj: { whh: createStorageBuffer(ctx, `webrnn ${tag} W_hh [D,G*H,P]`, D * G * H * P), whr: createStorageBuffer(ctx, `webrnn ${tag} W_hr [D,P,H]`, D * P * H) } } : {}),
        });
      }
      if (spec.outputSize > 0) {
        this.readout = {
          weight: createStorageBuffer(ctx, 'webrnn readout W [O, D*H]', spec.outputSize * outputWidth(spec)),
          bias: createStorageBuffer(ctx, 'webrnn readout b [O]', spec.outputSize),
        };
      }
      if (spec.embedding) this.embedding = createStorageBuffer(ctx, 'webrnn embedding [V, I]', spec.embedding.numEmbeddings * spec.inputSize);
    } catch (e) {
      this.release();
      throw e;
    }
  }

  check(what: string): void {
    if (this.ctx.isLost) {
      this.ctx.check();
      throw new WebRnnError('destroyed', `${what}: the engine of this model has been destroyed`);
    }
    this.ctx.check();
  }

  writeParameters(dict: Readonly<StateDict>): void {
    for (let l = 0; l < this.spec.numLayers; l++) {
      const packed = packLayer(this.spec, dict, l);
      const buffers = this.layers[l];
      writeFloats(this.ctx, buffers.wih, packed.wih);
      writeFloats(this.ctx, buffers.bih, packed.bih);
      writeFloats(this.ctx, buffers.whhT, packed.whhT);
      if (buffers.whhHalf) {
        const { numDirections: D, hiddenSize: H, kind } = this.spec.layers[l];
        const words = packWhhTHalf(packed.whhT, D, H, packedGateStride(gateCount(kind)));
        writeFloats(this.ctx, buffers.whhHalf, new Float32Array(words.buffer, words.byteOffset, words.length));
      }
      writeFloats(this.ctx, buffers.bhh, packed.bhh);
      if (buffers.proj) {
        writeFloats(this.ctx, buffers.proj.whh, packed.whh!);
        writeFloats(this.ctx, buffers.proj.whr, packed.whr!);
      }
    }
    if (this.readout) {
      writeFloats(this.ctx, this.readout.weight, dict[READOUT_WEIGHT]);
      writeFloats(this.ctx, this.readout.bias, dict[READOUT_BIAS]);
    }
    if (this.embedding) writeFloats(this.ctx, this.embedding, dict[EMBEDDING_WEIGHT]);
  }

  /** Every parameter, read back in one submit. */
  async readParameters(): Promise<StateDict> {
    const keys = ['wih', 'bih', 'whhT', 'bhh'] as const;
    const extra: Array<[string, GPUBuffer]> = this.readout ? [[READOUT_WEIGHT, this.readout.weight], [READOUT_BIAS, this.readout.bias]] : [];
    if (this.embedding) extra.push([EMBEDDING_WEIGHT, this.embedding]);
    const own = (layer: LayerParameterBuffers): GPUBuffer[] => (layer.proj ? [layer.proj.whh, layer.proj.whr] : []);
    const arrays = await this.readBuffers([...this.layers.flatMap((layer) => [...keys.map((k) => layer[k]), ...own(layer)]), ...extra.map(([, b]) => b)], 'stateDict');
    const dict: StateDict = {};
    let k = 0;
    this.layers.forEach((layer, l) => {
      const [wih, bih, whhT, bhh] = arrays.slice(k, (k += 4));
      const [whh, whr] = layer.proj ? arrays.slice(k, (k += 2)) : [];
      unpackLayer(this.spec, { wih, bih, whhT, bhh, whh, whr }, l, dict);
    });
    extra.forEach(([name], i) => (dict[name] = arrays[k + i]));
    return dict;
  }

  /** The whole of each buffer, copied into one staging buffer in one submit and read back once. */
  private async readBuffers(buffers: readonly GPUBuffer[], what: string): Promise<Float32Array[]> {
    const parts: Array<[number, number]> = [];
    let total = 0;
    for (const b of buffers) {
      parts.push([total, b.size / 4]);
      total += b.size / 4;
    }
    const staging = createReadbackBuffer(this.ctx, `webrnn ${what} readback`, total);
    try {
      const encoder = this.ctx.device.createCommandEncoder({ label: `webrnn ${what}` });
      buffers.forEach((b, i) => encoder.copyBufferToBuffer(b, 0, staging, parts[i][0] * 4, parts[i][1] * 4));
      this.ctx.device.queue.submit([encoder.finish()]);
      return await readFloats(staging, parts);
    } finally {
      staging.destroy();
    }
  }

  warmup(batches: readonly number[], training: boolean): Promise<void> {
    return this.kernels.warmup(batches, training);
  }

  async forward(inputs: PassInputs, rows: ReadoutRows): Promise<PassResult> {
    const { batch: B, seqLen: T } = inputs;
    const [kernels, embedding] = await Promise.all([this.kernels.forward(B, T), this.embeddingKernels()]);
    this.check('forward');
    const plan = this.plans.get(`${B}x${T}`, () => new ForwardPlan(this.ctx, this.spec, kernels, this.layers, B, T, this.readout, rows, { embedding: embedding.forward }), (p) => p.kernels === kernels && p.yRows === rows);
    this.writeInput(plan, inputs);
    if (inputs.h0) writeFloats(this.ctx, plan.h0, inputs.h0);
    if (inputs.c0 && plan.c) writeFloats(this.ctx, plan.c, inputs.c0);
    plan.setLengths(inputs.seqLens);
    const r = await plan.run(inputs.h0 !== undefined, inputs.c0 !== undefined);
    this.lastForwardStats = plan.stats;
    return r;
  }

  async gradients(inputs: PassInputs, grads: PassGradients, rows: ReadoutRows): Promise<GradientResult> {
    const { batch: B, seqLen: T } = inputs;
    const { spec } = this;
    const drops = dropsOut(spec, inputs);
    const [forwardKernels, backwardKernels, dropout, embedding] = await Promise.all([this.kernels.forward(B, T, true), this.kernels.backward(B, T), drops ? this.kernels.dropout() : null, this.embeddingKernels()]);
    this.check('gradients');
    const plan = this.gradientPlans.get(
      `${B}x${T}${drops ? '|dropout' : ''}`,
      () => new GradientPlan(this.ctx, spec, forwardKernels, backwardKernels, this.layers, B, T, this.readout, true, rows, { dropout, ...embedding }),
      (p) => p.uses(forwardKernels, backwardKernels) && p.forward.yRows === rows,
    );
    if (drops) plan.forward.setDropout(inputs.dropoutCall!);
    this.writeInput(plan, inputs);
    if (inputs.h0) writeFloats(this.ctx, plan.forward.h0, inputs.h0);
    if (inputs.c0 && plan.forward.c) writeFloats(this.ctx, plan.forward.c, inputs.c0);
    writeFloats(this.ctx, plan.gradOutput, grads.gradOutput);
    plan.setLengths(inputs.seqLens);
    if (grads.gradHN) writeFloats(this.ctx, plan.gradHN, grads.gradHN);
    if (grads.gradCN && plan.carry) writeFloats(this.ctx, plan.carry, grads.gradCN);
    const r = await plan.run(inputs.h0 !== undefined, inputs.c0 !== undefined, grads.gradHN !== undefined, grads.gradCN !== undefined);
    const params: StateDict = {};
    // Gradients share the parameters' GPU layout.
    r.layers.forEach((g, l) => unpackLayer(spec, { wih: g.wih, bih: g.bih, whhT: g.whh, bhh: g.bhh, whh: g.whh, whr: g.whr }, l, params));
    if (r.embedding) params[EMBEDDING_WEIGHT] = r.embedding;
    const out: GradientResult = { params, input: r.input, h0: r.h0, output: r.output, hN: r.hN };
    if (r.y) out.y = r.y;
    if (r.c0) out.c0 = r.c0;
    if (r.cN) out.cN = r.cN;
    return out;
  }

  get hasOptimizerState(): boolean {
    return this.optimizerState !== null;
  }

  resetOptimizer(): void {
    this.trainPlans.clear();
    for (const buffers of this.optimizerState?.buffers ?? []) for (const b of buffers) b.destroy();
    this.optimizerState = null;
  }

  /**
   * The optimizer's buffers under PyTorch's names: they follow trainableSizes, each layer's in
   * its parameters' GPU layout (W_ih, W_hhᵀ packed, then the biases), then the read-out's.
   */
  async readOptimizerState(): Promise<OptimizerSnapshot | null> {
    const state = this.optimizerState;
    if (!state) return null;
    const { spec } = this;
    const sizes = trainableSizes(spec);
    const perTensor = state.buffers[0].length;
    const arrays = await this.readBuffers(state.buffers.flat(), 'optimizer state');
    const buffers: StateDict[] = [];
    for (let k = 0; k < perTensor; k++) {
      // The k-th buffer of each trained tensor, in trainableSizes order.
      const tensors = sizes.map((n, i) => arrays[i * perTensor + k].subarray(0, n));
      const dict: StateDict = {};
      let at = 0;
      for (let l = 0; l < spec.numLayers; l++) {
        // In trainableSizes order: W_ih, W_hh (packed, or a projecting layer's own), the biases, W_hr.
        const projects = spec.layers[l].projSize > 0;
        const [wih, whh] = [tensors[at++], tensors[at++]];
        const [bih, bhh] = spec.bias ? [tensors[at++], tensors[at++]] : [new Float32Array(0), new Float32Array(0)];
        const whr = projects ? tensors[at++] : undefined;
        unpackLayer(spec, projects ? { wih, bih, whhT: new Float32Array(0), bhh, whh, whr } : { wih, bih, whhT: whh, bhh }, l, dict);
      }
      dict[READOUT_WEIGHT] = tensors[at++].slice();
      dict[READOUT_BIAS] = tensors[at++].slice();
      if (spec.embedding) dict[EMBEDDING_WEIGHT] = tensors[at++].slice();
      buffers.push(dict);
    }
    return { type: state.type, step: state.step, buffers };
  }

  writeOptimizerState(snapshot: OptimizerSnapshot): void {
    this.resetOptimizer();
    const { ctx, spec } = this;
    // Each snapshot buffer's trained tensors, in trainableSizes order, packed as the parameters are.
    const perBuffer = snapshot.buffers.map((dict) => {
      const tensors: Float32Array[] = [];
      for (let l = 0; l < spec.numLayers; l++) {
        const packed = packLayer(spec, dict, l);
        tensors.push(packed.wih, packed.whh ?? packed.whhT);
        if (spec.bias) tensors.push(packed.bih, packed.bhh);
        if (packed.whr) tensors.push(packed.whr);
      }
      tensors.push(dict[READOUT_WEIGHT], dict[READOUT_BIAS]);
      if (spec.embedding) tensors.push(dict[EMBEDDING_WEIGHT]);
      return tensors;
    });
    const buffers = trainableSizes(spec).map((n, i) =>
      perBuffer.map((tensors, k) => {
        const b = createStorageBuffer(ctx, `webrnn optimizer state ${i}.${k}`, n);
        writeFloats(ctx, b, tensors[i].subarray(0, n));
        return b;
      }),
    );
    this.optimizerState = { type: snapshot.type, step: snapshot.step, buffers };
  }

  /** Forward, loss, backpropagation through time, clipping and the update, in one submit. */
  async trainStep(inputs: PassInputs, request: TrainStepRequest): Promise<TrainStepReadback> {
    const { batch: B, seqLen: T } = inputs;
    const { ctx, spec } = this;
    const { optimizer, rowsOn } = request;
    const drops = dropsOut(spec, inputs);
    const [forwardKernels, backwardKernels, train, dropout, embedding] = await Promise.all([
      this.kernels.forward(B, T, true),
      this.kernels.backward(B, T),
      this.kernels.train(request.loss, optimizer.type),
      drops ? this.kernels.dropout() : null,
      this.embeddingKernels(),
    ]);
    this.check('trainStep');
    if (this.optimizerState && this.optimizerState.type !== optimizer.type) this.resetOptimizer();
    if (!this.optimizerState) {
      const perTensor = optimizer.type === 'sgd' ? 1 : 2;
      const buffers = trainableSizes(spec).map((n, i) => Array.from({ length: perTensor }, (_, k) => createStorageBuffer(ctx, `webrnn optimizer state ${i}.${k}`, n)));
      this.optimizerState = { type: optimizer.type, step: 0, buffers };
    }
    const state = this.optimizerState;
    const readout = this.readout!;
    const plan = this.trainPlans.get(
      `${B}x${T}|${request.loss}|${rowsOn}${drops ? '|dropout' : ''}`,
      () => {
        // No gradient of x: no update reads it.
        const gradients = new GradientPlan(ctx, spec, forwardKernels, backwardKernels, this.layers, B, T, readout, false, rowsOn === 'final' ? 'final' : 'steps', { dropout, ...embedding });
        try {
          return new TrainStepPlan(ctx, spec, gradients, { matmul: forwardKernels.matmul, ...train }, this.layers, readout, this.embedding, state.buffers, rowsOn);
        } catch (e) {
          gradients.destroy();
          throw e;
        }
      },
      (p) => p.gradients.uses(forwardKernels, backwardKernels),
    );
    this.writeInput(plan.gradients, inputs);
    if (inputs.h0) writeFloats(ctx, plan.gradients.forward.h0, inputs.h0);
    if (inputs.c0 && plan.gradients.forward.c) writeFloats(ctx, plan.gradients.forward.c, inputs.c0);
    writeFloats(ctx, plan.targets, request.targets);
    plan.gradients.setLengths(inputs.seqLens);
    writeFloats(ctx, plan.mask, request.mask);
    if (drops) plan.gradients.forward.setDropout(inputs.dropoutCall!);
    state.step++;
    const { scale, maxNorm, clipValue, readLoss, readNorm, readState } = request;
    const r = await plan.run({ hasH0: inputs.h0 !== undefined, hasC0: inputs.c0 !== undefined, scale, maxNorm, clipValue, optimizer, step: state.step, readLoss, readNorm, readState });
    this.lastTrainStats = { submits: 1, dispatches: plan.dispatches };
    return r;
  }

  async openStream(batch: number): Promise<StreamExecution> {
    const [kernels, embedding] = await Promise.all([this.kernels.forward(batch, 1), this.embeddingKernels()]);
    this.check('stream');
    return openStream(this.ctx, new ForwardPlan(this.ctx, this.spec, kernels, this.layers, batch, 1, this.readout, 'steps', { embedding: embedding.forward }));
  }

  /** The embedding's kernels with its weights, for plans of a model that reads token ids (none otherwise). */
  private async embeddingKernels(): Promise<{ forward: { kernel: Kernel; weight: GPUBuffer } | null; embedding: { kernel: Kernel; weight: GPUBuffer } | null; embeddingBackward: Kernel | null }> {
    if (!this.embedding) return { forward: null, embedding: null, embeddingBackward: null };
    const [forward, backward] = await this.kernels.embedding();
    const embedding = { kernel: forward, weight: this.embedding };
    return { forward: embedding, embedding, embeddingBackward: backward };
  }

  /** Write a pass's input: x, or the token ids (with, in a gradient plan, the rows of the embedding's gradient). */
  private writeInput(plan: ForwardPlan | GradientPlan, inputs: PassInputs): void {
    if (inputs.ids) plan.setIds(inputs.ids);
    else writeFloats(this.ctx, plan instanceof GradientPlan ? plan.forward.x : plan.x, inputs.x);
  }

  release(): void {
    this.resetOptimizer();
    this.gradientPlans.clear();
    this.plans.clear();
    for (const layer of this.layers) {
      for (const b of [layer.wih, layer.bih, layer.whhT, layer.bhh, layer.whhHalf, layer.proj?.whh, layer.proj?.whr]) b?.destroy();
    }
    this.layers.length = 0;
    this.readout?.weight.destroy();
    this.readout?.bias.destroy();
    this.readout = null;
    this.embedding?.destroy();
    this.embedding = null;
  }
}
