/**
 * A stacked, optionally bidirectional Elman RNN, LSTM or GRU on the GPU. Parameters live in
 * GPU buffers (layout in parameters.ts); forward passes are planned once per shape by
 * schedule/forward.ts and run one at a time per model.
 */
import { WebRnnError } from '../errors.js';
import { createReadbackBuffer, createStorageBuffer, readFloats, writeFloats } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { createAdamUpdate } from '../kernels/adam-update.js';
import { createCrossEntropyLoss } from '../kernels/cross-entropy-loss.js';
import { createGradNorm } from '../kernels/grad-norm.js';
import type { Kernel } from '../kernels/kernel.js';
import { createMseLoss } from '../kernels/mse-loss.js';
import { createSgdUpdate } from '../kernels/sgd-update.js';
import { TrainStepPlan, trainableSizes } from '../schedule/train-step.js';
import { initialParameters, type InitOptions } from '../train/init.js';
import { lossRows } from '../train/loss-rows.js';
import { trainSequence } from '../train/sequence.js';
import { resolveClipping, resolveOptimizer, type OptimizerConfig, type TrainSequenceOptions, type TrainSequenceResult, type TrainStepOptions, type TrainStepResult } from '../train/options.js';
import { createGruCellBackward } from '../kernels/gru-cell-backward.js';
import { createGruCellForward } from '../kernels/gru-cell-forward.js';
import { createLstmCellBackward } from '../kernels/lstm-cell-backward.js';
import { createRnnCellBackward } from '../kernels/rnn-cell-backward.js';
import { createLstmCellForward } from '../kernels/lstm-cell-forward.js';
import { MatmulKernel } from '../kernels/matmul.js';
import { createRnnCellForward } from '../kernels/rnn-cell-forward.js';
import { BATCH_TILE_ROWS, persistentWorkgroup } from '../kernels/recurrent-step.js';
import { residentFits } from '../kernels/resident.js';
import { autoPersistent, autoPersistentSweep, directProduct, forwardBatchTile, residentCompilesInBackground, useBatchTile, useWideTile, type AdapterProfile } from '../placement/rules.js';
import type { PlacementTable } from '../placement/table.js';
import { GradientPlan, type BackwardKernels } from '../schedule/backward.js';
import { checkCount, ForwardPlan, type ForwardKernels, type ForwardStats, type LayerParameterBuffers, type ReadoutBuffers, type ReadoutRows } from '../schedule/forward.js';
import { checkFinite, defaultParameters, packLayer, unpackLayer, validateStateDict, type PackedLayer, type StateDict } from './parameters.js';
import { finalStates, swapBatchTime } from './layout.js';
import { checkLengths, checkOptions, checkTensor, prepareInputs, type ForwardOptions, type ForwardOutput, type GradientOptions, type GradientOutput, type WarmupOptions } from './calls.js';

export type { ForwardOptions, ForwardOutput, GradientOptions, GradientOutput, WarmupOptions } from './calls.js';
import { RecurrentStream, type StreamOptions } from './stream.js';
import { parameterInfo, READOUT_BIAS, READOUT_WEIGHT } from './spec.js';
import { writeSafetensors } from '../io/safetensors.js';
import { exportOnnx } from '../io/onnx-export.js';
import { bhhBufferSize, gateCount, layerInputSize, packedGateStride, type CellKind, type ModelSpec } from './spec.js';

/** Forward plans kept per model (least recently used shapes are released first). */
const MAX_PLANS = 4;

export class RecurrentModel {
  /** The resolved options. */
  readonly spec: ModelSpec;
  private readonly layers: LayerParameterBuffers[] = [];
  /** The linear read-out's weight [O, D·H] and bias [O], for models with one. */
  private readout: ReadoutBuffers | null = null;
  /** Forward kernels per variant (variantKey: batch tile, training, persistent), compiled on first use. */
  private readonly kernels = new Map<string, Promise<ForwardKernels>>();
  private readonly backwardKernels = new Map<string, Promise<BackwardKernels>>();
  private readonly gradientPlans = new Map<string, GradientPlan>();
  private readonly trainPlans = new Map<string, TrainStepPlan>();
  private readonly trainKernels = new Map<string, Promise<Kernel>>();
  /** Optimizer state on the GPU (per trained tensor, in trainableSizes order) and its step count. */
  private optimizerState: { type: OptimizerConfig['type']; step: number; buffers: GPUBuffer[][] } | null = null;
  private readonly plans = new Map<string, ForwardPlan>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly streams = new Set<RecurrentStream>();
  private destroyed = false;
  private stats: ForwardStats | null = null;
  private trainStats: { submits: number; dispatches: number } | null = null;

  /** @internal Use `engine.rnn`, `engine.lstm` or `engine.gru`. */
  /** The adapter and thresholds the choice of kernel forms reads (placement/rules.ts). */
  private readonly profile: AdapterProfile;

  /** @internal Models are made by an Engine (`engine.lstm`, `engine.load`, …). */
  constructor(
    private readonly ctx: GpuContext,
    spec: ModelSpec,
    private readonly onDestroy: (m: RecurrentModel) => void,
    placement?: Readonly<PlacementTable>,
  ) {
    this.spec = spec;
    this.profile = { info: ctx.info, placement };
    const G = gateCount(spec.kind);
    const { hiddenSize: H, numDirections: D } = spec;
    try {
      for (let l = 0; l < spec.numLayers; l++) {
        const tag = `layer ${l}`;
        this.layers.push({
          wih: createStorageBuffer(ctx, `webrnn ${tag} W_ih [D*G*H, I]`, D * G * H * layerInputSize(spec, l)),
          bih: createStorageBuffer(ctx, `webrnn ${tag} b_ih [D*G*H]`, D * G * H),
          whhT: createStorageBuffer(ctx, `webrnn ${tag} W_hh^T [D,H,H,P]`, D * H * H * packedGateStride(G)),
          bhh: createStorageBuffer(ctx, `webrnn ${tag} b_hh [D,G*H] (+ P [D,3H])`, bhhBufferSize(spec)),
        });
      }
      if (spec.outputSize > 0) {
        this.readout = {
          weight: createStorageBuffer(ctx, 'webrnn readout W [O, D*H]', spec.outputSize * D * H),
          bias: createStorageBuffer(ctx, 'webrnn readout b [O]', spec.outputSize),
        };
      }
    } catch (e) {
      this.releaseBuffers();
      throw e;
    }
    this.writeParameters(defaultParameters(spec, spec.seed));
  }

  /** 'rnn', 'lstm' or 'gru'. */
  get kind(): CellKind {
    return this.spec.kind;
  }

  /** @internal The names of a loaded file's tensors by our names, used by save(). */
  fileNames: Record<string, string> | null = null;

  /**
   * The parameters as F32 safetensors bytes, under the names PyTorch's load_state_dict expects:
   * those of the file the model was loaded from, or the module's own (weight_ih_l0, …, and
   * readout.weight / readout.bias for the read-out).
   */
  async save(metadata?: Record<string, string>): Promise<Uint8Array> {
    const dict = await this.stateDict();
    const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
    for (const p of parameterInfo(this.spec)) tensors[this.fileNames?.[p.name] ?? p.name] = { shape: p.shape, data: dict[p.name] };
    return writeSafetensors(tensors, metadata);
  }

  /**
   * The model as ONNX bytes (a ModelProto: ir_version 8, opset 14) with its current weights, for
   * ONNX Runtime or any other ONNX runtime, or `engine.loadOnnx`. One RNN, LSTM or GRU node per
   * layer (layout 0, gate blocks in ONNX's orders, the cell functions, clip, input_forget and
   * linear_before_reset as attributes, peepholes as P), zero initial states.
   *
   * Graph input `X`: [seq, batch, I] ([batch, seq, I] when batchFirst), the x of `forward`.
   * Graph outputs, as `forward` returns them: `output` [seq, batch, D·H] ([batch, seq, D·H]),
   * `hN` [L·D, batch, H], `cN` (LSTM) and, with a read-out, `y` [seq, batch, O] ([batch, seq, O]).
   *
   * @throws WebRnnError ('non-finite') when a parameter holds NaN or ±Infinity.
   */
  async exportOnnx(): Promise<Uint8Array> {
    return exportOnnx(this.spec, await this.stateDict());
  }

  /** What the last training step recorded (submits, dispatches), or null before the first. */
  get lastTrainStats(): { submits: number; dispatches: number } | null {
    return this.trainStats;
  }

  /** What the last forward pass recorded (submits, dispatches), or null before the first. */
  get lastForwardStats(): ForwardStats | null {
    return this.stats;
  }

  /**
   * Throw if the model or its engine is gone. `accepted` marks an operation that was accepted
   * before a destroy(): it still runs, as long as the device does.
   */
  private assertAlive(what: string, accepted = false): void {
    if (this.destroyed && !accepted) throw new WebRnnError('destroyed', `${what}: this ${this.spec.kind} model has been destroyed`);
    if (this.ctx.isLost) {
      this.ctx.check();
      throw new WebRnnError('destroyed', `${what}: the engine of this model has been destroyed`);
    }
    this.ctx.check();
  }

  /** Run `fn` after every earlier queued operation of this model. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private writeParameters(dict: StateDict): void {
    for (let l = 0; l < this.spec.numLayers; l++) {
      const packed = packLayer(this.spec, dict, l);
      const buffers = this.layers[l];
      writeFloats(this.ctx, buffers.wih, packed.wih);
      writeFloats(this.ctx, buffers.bih, packed.bih);
      writeFloats(this.ctx, buffers.whhT, packed.whhT);
      writeFloats(this.ctx, buffers.bhh, packed.bhh);
    }
    if (this.readout) {
      writeFloats(this.ctx, this.readout.weight, dict[READOUT_WEIGHT]);
      writeFloats(this.ctx, this.readout.bias, dict[READOUT_BIAS]);
    }
  }

  /**
   * Replace every parameter. `dict` maps PyTorch names (`weight_ih_l0`, `bias_hh_l1_reverse`, …)
   * to row-major Float32Arrays and must hold exactly the model's parameters. The whole dict
   * is checked before anything is written: on error the model is unchanged.
   */
  loadStateDict(dict: Readonly<Record<string, Float32Array>>): void {
    this.assertAlive('loadStateDict');
    validateStateDict(this.spec, dict, this.spec.checkFinite);
    this.writeParameters(dict);
  }

  /**
   * Re-initialise every parameter (PyTorch's default, Xavier, orthogonal W_hh, an LSTM
   * forget-gate bias; see InitOptions) and reset the optimizer state.
   */
  initialize(options: InitOptions = {}): void {
    this.assertAlive('initialize');
    const dict = initialParameters(this.spec, options);
    if (this.optimizerState) this.resetOptimizer();
    this.writeParameters(dict);
  }

  /** Every parameter, read back from the GPU, under PyTorch's names and layouts. */
  async stateDict(): Promise<StateDict> {
    this.assertAlive('stateDict');
    return this.serialize(async () => {
      this.assertAlive('stateDict', true);
      const { device } = this.ctx;
      const parts: Array<[number, number]> = [];
      const order: Array<[number, keyof LayerParameterBuffers]> = [];
      let total = 0;
      for (let l = 0; l < this.layers.length; l++) {
        for (const key of ['wih', 'bih', 'whhT', 'bhh'] as const) {
          const floats = this.layers[l][key].size / 4;
          parts.push([total, floats]);
          order.push([l, key]);
          total += floats;
        }
      }
      const extra: Array<[string, GPUBuffer]> = this.readout ? [[READOUT_WEIGHT, this.readout.weight], [READOUT_BIAS, this.readout.bias]] : [];
      for (const [, buffer] of extra) {
        parts.push([total, buffer.size / 4]);
        total += buffer.size / 4;
      }
      const staging = createReadbackBuffer(this.ctx, 'webrnn stateDict readback', total);
      try {
        const encoder = device.createCommandEncoder({ label: 'webrnn stateDict' });
        parts.forEach(([offset, floats], i) => {
          const source = i < order.length ? this.layers[order[i][0]][order[i][1]] : extra[i - order.length][1];
          encoder.copyBufferToBuffer(source, 0, staging, offset * 4, floats * 4);
        });
        device.queue.submit([encoder.finish()]);
        const arrays = await readFloats(staging, parts);
        const dict: StateDict = {};
        for (let l = 0; l < this.layers.length; l++) {
          const p = arrays.slice(l * 4, l * 4 + 4);
          const packed: PackedLayer = { wih: p[0], bih: p[1], whhT: p[2], bhh: p[3] };
          unpackLayer(this.spec, packed, l, dict);
        }
        extra.forEach(([name], i) => (dict[name] = arrays[order.length + i]));
        return dict;
      } finally {
        staging.destroy();
      }
    });
  }

  /**
   * The forward kernels for batches of `batch` rows over `seqLen` steps (the batch tile by
   * size and kernel: see forwardBatchTile; the direct product by the adapter: see directProduct; persistent by the model's
   * option, which 'auto' resolves with autoPersistent). Where 'auto' picks a resident form that
   * compiles in the background (residentCompilesInBackground), the per-step kernels serve until
   * it has compiled on this device, unless `wait` (warmup) asks for the resident form itself;
   * where its compilation failed, they go on serving (warmup tries it again and reports why).
   */
  private getKernels(batch: number, seqLen: number, training = false, wait = false): Promise<ForwardKernels> {
    const persistent = this.persistentFor(batch, seqLen);
    const facts = this.cellFacts(batch, seqLen);
    const batchTile = forwardBatchTile(this.profile, facts, persistent);
    if (!wait && persistent && this.compilesInBackground()) {
      const { pipelines } = this.ctx;
      const { key } = this.forwardVariant(batchTile, true, training);
      if (!pipelines.compiled(key)) {
        // Started unless it failed before on this device (warmup tries again and reports why).
        if (!pipelines.failed(key)) this.getKernelVariant(batchTile, true, training);
        return this.getKernelVariant(forwardBatchTile(this.profile, facts, false), false, training);
      }
    }
    return this.getKernelVariant(batchTile, persistent, training);
  }

  /** Whether a resident form that 'auto' picks compiles in the background (see getKernels). */
  private compilesInBackground(): boolean {
    return this.spec.persistent === 'auto' && residentCompilesInBackground(this.profile, this.spec.hiddenSize);
  }

  /** Whether a pass of `batch` rows and `seqLen` steps runs the persistent kernel. */
  private persistentFor(batch: number, seqLen: number): boolean {
    if (this.spec.persistent !== 'auto') return this.spec.persistent;
    return autoPersistent(this.profile, this.cellFacts(batch, seqLen));
  }

  /** What the 'auto' rules look at: the cell, the hidden size, the batch and the length. */
  private cellFacts(batch: number, seqLen: number): { gates: number; onePhase: boolean; hidden: number; batch: number; seqLen: number } {
    const { spec } = this;
    return { gates: gateCount(spec.kind), onePhase: spec.kind !== 'gru' || spec.linearBeforeReset, hidden: spec.hiddenSize, batch, seqLen };
  }

  /**
   * The key of a kernel variant of this model's cell on the device: everything its code
   * depends on, so that models of the same cell share it (PipelineCache.compiled).
   */
  private variantKey(direction: 'forward' | 'backward', variant: object): string {
    const { spec } = this;
    return JSON.stringify([direction, spec.kind, spec.nonlinearity, spec.peepholes, spec.linearBeforeReset, variant]);
  }

  /** The forward kernel variant of these choices and its key (variantKey). */
  private forwardVariant(batchTile: boolean, persistent: boolean, training: boolean) {
    const { spec, ctx } = this;
    const variant = { batchTile, training, cell: spec.cell, persistent, direct: directProduct(this.profile), workgroup: persistentWorkgroup(spec.hiddenSize), hidden: spec.hiddenSize };
    return { variant, key: this.variantKey('forward', variant) };
  }

  private getKernelVariant(batchTile: boolean, persistent: boolean, training: boolean): Promise<ForwardKernels> {
    const { spec, ctx } = this;
    const { variant, key } = this.forwardVariant(batchTile, persistent, training);
    let kernels = this.kernels.get(key);
    if (!kernels) {
      const cell =
        spec.kind === 'lstm'
          ? createLstmCellForward(ctx, { ...variant, peepholes: spec.peepholes })
          : spec.kind === 'gru'
            ? createGruCellForward(ctx, spec.linearBeforeReset, variant)
            : createRnnCellForward(ctx, spec.nonlinearity, variant);
      kernels = Promise.all([MatmulKernel.create(ctx), cell]).then(([matmul, c]) => ({ matmul, cell: c }));
      // A failed compilation is not cached: the next call tries again.
      kernels.catch(() => this.kernels.delete(key));
      this.kernels.set(key, kernels);
      ctx.pipelines.whenCompiled(key, kernels);
    }
    return kernels;
  }

  /**
   * The backward kernels for batches of `batch` rows over `seqLen` steps (the direct product's
   * row tile by size: 4 rows, or 8 rows and units from batches of 8; the resident sweep by the
   * model's option, which 'auto' resolves with autoPersistentSweep, where the sweep has that
   * form: a software adapter, a hidden size whose weights fit, residentFits). The resident sweep that 'auto'
   * picks compiles in the background as the resident forward does (see getKernels).
   */
  private getBackwardKernels(batch: number, seqLen: number, wait = false): Promise<BackwardKernels> {
    const { spec, ctx } = this;
    const possible = directProduct(this.profile) && residentFits(spec.hiddenSize, gateCount(spec.kind), false);
    const persistent = possible && (spec.persistent === 'auto' ? autoPersistentSweep(this.profile, this.cellFacts(batch, seqLen)) : spec.persistent);
    if (!wait && persistent && this.compilesInBackground()) {
      const { key } = this.backwardVariant(batch, true);
      if (!ctx.pipelines.compiled(key)) {
        if (!ctx.pipelines.failed(key)) this.getBackwardVariant(batch, true);
        return this.getBackwardVariant(batch, false);
      }
    }
    return this.getBackwardVariant(batch, persistent);
  }

  /** The backward kernel variant of these choices and its key (variantKey). */
  private backwardVariant(batch: number, persistent: boolean) {
    const direct = directProduct(this.profile);
    // The resident sweep takes one row a workgroup, walking the rows as the forward does.
    const variant = { direct, batchTile: !persistent && useBatchTile(batch), wideTile: !persistent && direct && useWideTile(batch), persistent, hidden: this.spec.hiddenSize };
    return { variant, key: this.variantKey('backward', variant) };
  }

  private getBackwardVariant(batch: number, persistent: boolean): Promise<BackwardKernels> {
    const { spec, ctx } = this;
    const { variant, key } = this.backwardVariant(batch, persistent);
    let kernels = this.backwardKernels.get(key);
    if (!kernels) {
      const cell = spec.kind === 'lstm' ? createLstmCellBackward(ctx, variant) : spec.kind === 'gru' ? createGruCellBackward(ctx, variant) : createRnnCellBackward(ctx, spec.nonlinearity, variant);
      kernels = Promise.all([MatmulKernel.create(ctx), cell]).then(([matmul, c]) => ({ matmul, cell: c }));
      // A failed compilation is not cached: the next call tries again.
      kernels.catch(() => this.backwardKernels.delete(key));
      this.backwardKernels.set(key, kernels);
      ctx.pipelines.whenCompiled(key, kernels);
    }
    return kernels;
  }

  /**
   * Compile this model's pipelines now rather than on the first call: those for batches of
   * `batch` rows, or (default) every variant; with `training`, also those of
   * {@link gradients} and {@link trainStep} (their forward and backward kernels). Afterwards
   * every such call runs the kernels `persistent` chose, where 'auto' would otherwise run the
   * per-step kernels while a resident form compiles in the background, and the GEMM's slab
   * form where it takes a product (MatmulKernel.whenSlabReady).
   */
  async warmup(batch?: number, options: WarmupOptions = {}): Promise<void> {
    this.assertAlive('warmup');
    checkOptions('warmup', options, ['training']);
    if (options.training !== undefined && typeof options.training !== 'boolean') throw new WebRnnError('invalid-option', `warmup: training must be a boolean, got ${String(options.training)}`);
    // A sequence (several steps) and a stream (one step a call) may take different kernels.
    const batches = batch === undefined ? [1, BATCH_TILE_ROWS, 64] : [checkCount('batch', batch)];
    const kernels = await Promise.all(
      batches.flatMap((b) =>
        [1, 2].flatMap((seqLen) => [this.getKernels(b, seqLen, false, true), ...(options.training ? [this.getKernels(b, seqLen, true, true), this.getBackwardKernels(b, seqLen, true)] : [])]),
      ),
    );
    // The GEMM's slab variant, which also compiles in the background (MatmulKernel.slabReady).
    await Promise.all(kernels.map((k) => ('matmul' in k ? k.matmul.whenSlabReady() : undefined)));
  }

  /**
   * The cached plan of `key` in `plans`, made by `create` on a miss (least recently used
   * evicted) or where the cached plan is not `current` (built on kernels that are no longer
   * the ones to run: the per-step kernels once a resident form has compiled).
   */
  private cachedPlan<P extends { destroy(): void }>(plans: Map<string, P>, key: string, create: () => P, current: (plan: P) => boolean): P {
    let plan = plans.get(key);
    if (plan && !current(plan)) {
      plans.delete(key);
      plan.destroy();
      plan = undefined;
    }
    if (plan) {
      plans.delete(key);
    } else {
      plan = create();
      while (plans.size >= MAX_PLANS) {
        const [oldKey, old] = plans.entries().next().value as [string, P];
        old.destroy();
        plans.delete(oldKey);
      }
    }
    plans.set(key, plan);
    return plan;
  }

  /** The rows of y that forward and gradients read out (returnSequences). */
  private get yRows(): ReadoutRows {
    return this.spec.returnSequences ? 'steps' : 'final';
  }

  /** [T, B, F] results in the caller's layout ([B, T, F] when batchFirst). */
  private toCaller(a: Float32Array, B: number, T: number, F: number): Float32Array {
    return this.spec.batchFirst ? swapBatchTime(a, B, T, F, true, new Float32Array(a.length)) : a;
  }

  /** y as ForwardOutput defines it, from a plan's results and the output already in the caller's layout. */
  private modelOutput(output: Float32Array, r: { hN: Float32Array; y?: Float32Array }, B: number, T: number): Float32Array {
    const { numLayers: L, numDirections: D, hiddenSize: H, outputSize: O } = this.spec;
    if (this.spec.returnSequences) return r.y ? this.toCaller(r.y, B, T, O) : output;
    return r.y ?? finalStates(r.hN, L, D, B, H, new Float32Array(B * D * H));
  }

  /**
   * Run the model over a batch of sequences.
   *
   * @param x input [T, B, I] ([B, T, I] when batchFirst), row-major
   * @returns output [T, B, D·H] ([B, T, D·H] when batchFirst), hN and (LSTM) cN [L·D, B, H],
   *   and y, the model's output (see {@link ForwardOutput.y})
   */
  async forward(x: Float32Array, options: ForwardOptions): Promise<ForwardOutput> {
    // Everything about the arguments is checked (and copied) in this synchronous part of the
    // call, before anything is queued or written; errors come back as a rejection.
    this.assertAlive('forward');
    const { spec } = this;
    checkOptions('forward', options, ['batch', 'seqLen', 'h0', 'c0', 'checkFinite', 'seqLens']);
    const { B, T, xSeq, h0, c0 } = prepareInputs(this.spec, 'forward', x, options);
    const seqLens = options.seqLens === undefined ? null : checkLengths(options.seqLens, B, T);
    const { hiddenSize: H, numDirections: D } = spec;

    return this.serialize(async () => {
      this.assertAlive('forward', true);
      const kernels = await this.getKernels(B, T);
      this.assertAlive('forward', true);
      const plan = this.cachedPlan(this.plans, `${B}x${T}`, () => new ForwardPlan(this.ctx, spec, kernels, this.layers, B, T, this.readout, this.yRows), (p) => p.kernels === kernels);
      writeFloats(this.ctx, plan.x, xSeq);
      if (h0) writeFloats(this.ctx, plan.h0, h0);
      if (c0 && plan.c) writeFloats(this.ctx, plan.c, c0);
      plan.setLengths(seqLens);
      const r = await plan.run(h0 !== undefined, c0 !== undefined);
      this.stats = plan.stats;
      const output = this.toCaller(r.output, B, T, D * H);
      const result: ForwardOutput = { output, hN: r.hN, y: this.modelOutput(output, r, B, T) };
      if (r.cN) result.cN = r.cN;
      return result;
    });
  }

  /**
   * A stream for real-time inference (sensor, audio, typing): `await s.step(x_t)` advances
   * `batch` independent sequences by one step and returns h_t (and y_t), the state staying on
   * the GPU between calls; T steps give what one forward of T steps gives. Unidirectional
   * models only. The stream is closed with the model.
   */
  stream(options: StreamOptions): RecurrentStream {
    this.assertAlive('stream');
    const s = new RecurrentStream(
      {
        ctx: this.ctx,
        spec: this.spec,
        makePlan: async (B) => {
          const kernels = await this.getKernels(B, 1);
          this.assertAlive('stream');
          return new ForwardPlan(this.ctx, this.spec, kernels, this.layers, B, 1, this.readout);
        },
        serialize: (fn) => this.serialize(fn),
        assertAlive: (what) => this.assertAlive(what),
        onClose: (closed) => this.streams.delete(closed),
      },
      options,
    );
    this.streams.add(s);
    return s;
  }

  /**
   * Gradients of L = Σ output ⊙ gradOutput + Σ hN ⊙ gradHN + Σ cN ⊙ gradCN (what autograd
   * gives for that sum) with respect to every parameter, the input and the initial states,
   * from one training forward pass and one reverse-time sweep on the GPU (one submit, one
   * readback). The forward results come along.
   *
   * @param x input as for {@link forward}
   * @returns params (PyTorch names and layouts), input (x's layout), h0 and (LSTM) c0
   *   [L·D, B, H], and output, hN, cN as forward returns them
   */
  async gradients(x: Float32Array, options: GradientOptions): Promise<GradientOutput> {
    this.assertAlive('gradients');
    const { spec } = this;
    checkOptions('gradients', options, ['batch', 'seqLen', 'h0', 'c0', 'checkFinite', 'seqLens', 'gradOutput', 'gradHN', 'gradCN']);
    if (spec.kind === 'gru' && !spec.linearBeforeReset) {
      throw new WebRnnError('invalid-option', 'gradients: not available for a GRU with linearBeforeReset: false (ONNX linear_before_reset = 0)');
    }
    if (spec.peepholes) throw new WebRnnError('invalid-option', 'gradients: not available for an LSTM with peepholes');
    if (!spec.cell.standard) throw new WebRnnError('invalid-option', 'gradients: not available for cells with ONNX activations, clip or input_forget');
    const { B, T, xSeq, h0, c0 } = prepareInputs(this.spec, 'gradients', x, options);
    const seqLens = options.seqLens === undefined ? null : checkLengths(options.seqLens, B, T);
    const { inputSize: I, hiddenSize: H, numLayers: L, numDirections: D } = spec;
    const stateShape = [L * D, B, H];
    checkTensor('gradOutput', options.gradOutput, spec.batchFirst ? [B, T, D * H] : [T, B, D * H]);
    if (options.gradHN !== undefined) checkTensor('gradHN', options.gradHN, stateShape);
    if (options.gradCN !== undefined) {
      if (spec.kind !== 'lstm') throw new WebRnnError('invalid-option', `gradients: gradCN is only for LSTM models, this is ${spec.kind}`);
      checkTensor('gradCN', options.gradCN, stateShape);
    }
    if (options.checkFinite ?? spec.checkFinite) {
      checkFinite('gradOutput', options.gradOutput);
      if (options.gradHN) checkFinite('gradHN', options.gradHN);
      if (options.gradCN) checkFinite('gradCN', options.gradCN);
    }
    const gradOutput = spec.batchFirst ? swapBatchTime(options.gradOutput, B, T, D * H, false, new Float32Array(T * B * D * H)) : options.gradOutput.slice();
    const gradHN = options.gradHN?.slice();
    const gradCN = options.gradCN?.slice();

    return this.serialize(async () => {
      this.assertAlive('gradients', true);
      const [forwardKernels, backwardKernels] = await Promise.all([this.getKernels(B, T, true), this.getBackwardKernels(B, T)]);
      this.assertAlive('gradients', true);
      const plan = this.cachedPlan(
        this.gradientPlans,
        `${B}x${T}`,
        () => new GradientPlan(this.ctx, spec, forwardKernels, backwardKernels, this.layers, B, T, this.readout, true, this.yRows),
        (p) => p.uses(forwardKernels, backwardKernels),
      );
      writeFloats(this.ctx, plan.forward.x, xSeq);
      if (h0) writeFloats(this.ctx, plan.forward.h0, h0);
      if (c0 && plan.forward.c) writeFloats(this.ctx, plan.forward.c, c0);
      writeFloats(this.ctx, plan.gradOutput, gradOutput);
      plan.setLengths(seqLens);
      if (gradHN) writeFloats(this.ctx, plan.gradHN, gradHN);
      if (gradCN && plan.carry) writeFloats(this.ctx, plan.carry, gradCN);
      const r = await plan.run(h0 !== undefined, c0 !== undefined, gradHN !== undefined, gradCN !== undefined);
      const params: StateDict = {};
      // Gradients share the parameters' GPU layout.
      r.layers.forEach((g, l) => unpackLayer(spec, { wih: g.wih, bih: g.bih, whhT: g.whh, bhh: g.bhh }, l, params));
      const output = this.toCaller(r.output, B, T, D * H);
      const out: GradientOutput = { params, input: this.toCaller(r.input, B, T, I), h0: r.h0, output, hN: r.hN, y: this.modelOutput(output, r, B, T) };
      if (r.c0) out.c0 = r.c0;
      if (r.cN) out.cN = r.cN;
      return out;
    });
  }

  private trainKernel(name: string, create: () => Promise<Kernel>): Promise<Kernel> {
    let k = this.trainKernels.get(name);
    if (!k) {
      k = create();
      k.catch(() => this.trainKernels.delete(name));
      this.trainKernels.set(name, k);
    }
    return k;
  }

  /** Forget the optimizer's state (moments, velocities, step count): the next step starts afresh. */
  resetOptimizer(): void {
    this.assertAlive('resetOptimizer');
    for (const plan of this.trainPlans.values()) plan.destroy();
    this.trainPlans.clear();
    for (const buffers of this.optimizerState?.buffers ?? []) for (const b of buffers) b.destroy();
    this.optimizerState = null;
  }

  /**
   * One training step on the GPU: forward, the loss on the read-out, backpropagation through
   * time, gradient clipping and the optimizer update, in one submit. Only what is asked for is
   * read back (by default the loss).
   *
   * @param x input as for {@link forward}
   * @param target MSE: the read-out's targets, [T, B, O] ([B, T, O] when batchFirst) or [B, O]
   *   with lossOn 'last' or 'final'; cross-entropy: a class index per row, [T, B] ([B, T]) or [B]
   */
  async trainStep(x: Float32Array, target: Float32Array, options: TrainStepOptions): Promise<TrainStepResult> {
    this.assertAlive('trainStep');
    const { spec } = this;
    checkOptions('trainStep', options, [
      'batch', 'seqLen', 'h0', 'c0', 'checkFinite', 'seqLens', 'loss', 'lossOn', 'mask', 'optimizer', 'clipGradNorm', 'clipGradValue', 'readLoss', 'returnGradNorm', 'returnState',
    ]);
    if (spec.outputSize === 0) throw new WebRnnError('invalid-option', 'trainStep: the model has no read-out; create it with outputSize');
    if (spec.kind === 'gru' && !spec.linearBeforeReset) {
      throw new WebRnnError('invalid-option', 'trainStep: not available for a GRU with linearBeforeReset: false (ONNX linear_before_reset = 0)');
    }
    if (spec.peepholes) throw new WebRnnError('invalid-option', 'trainStep: not available for an LSTM with peepholes');
    if (!spec.cell.standard) throw new WebRnnError('invalid-option', 'trainStep: not available for cells with ONNX activations, clip or input_forget');
    if (options.loss !== 'mse' && options.loss !== 'cross-entropy') throw new WebRnnError('invalid-option', `trainStep: loss must be 'mse' or 'cross-entropy', got '${String(options.loss)}'`);
    // The default is the model's own output: every step, or the final states without returnSequences.
    const lossOn = options.lossOn ?? (spec.returnSequences ? 'all' : 'final');
    if (lossOn !== 'all' && lossOn !== 'last' && lossOn !== 'final') throw new WebRnnError('invalid-option', `trainStep: lossOn must be 'all', 'last' or 'final', got '${String(lossOn)}'`);
    const optimizer = resolveOptimizer(options.optimizer);
    const { maxNorm, clipValue } = resolveClipping(options);
    const { B, T, xSeq, h0, c0 } = prepareInputs(this.spec, 'trainStep', x, options);
    const seqLens = options.seqLens === undefined ? null : checkLengths(options.seqLens, B, T);
    const { targetSeq, maskSeq, rowsOn, scale } = lossRows(spec, target, options, lossOn, B, T, seqLens);
    const ce = options.loss === 'cross-entropy';
    const readLoss = options.readLoss ?? true;
    const readNorm = options.returnGradNorm ?? false;
    const readState = options.returnState ?? false;

    return this.serialize(async () => {
      this.assertAlive('trainStep', true);
      const ctx = this.ctx;
      const [forwardKernels, backwardKernels, loss, gradNorm, update] = await Promise.all([
        this.getKernels(B, T, true),
        this.getBackwardKernels(B, T),
        this.trainKernel(options.loss, () => (ce ? createCrossEntropyLoss(ctx) : createMseLoss(ctx))),
        this.trainKernel('grad-norm', () => createGradNorm(ctx)),
        this.trainKernel(optimizer.type === 'sgd' ? 'sgd' : 'adam', () => (optimizer.type === 'sgd' ? createSgdUpdate(ctx) : createAdamUpdate(ctx))),
      ]);
      this.assertAlive('trainStep', true);
      if (this.optimizerState && this.optimizerState.type !== optimizer.type) this.resetOptimizer();
      if (!this.optimizerState) {
        const perTensor = optimizer.type === 'sgd' ? 1 : 2;
        const buffers = trainableSizes(spec).map((n, i) => Array.from({ length: perTensor }, (_, k) => createStorageBuffer(ctx, `webrnn optimizer state ${i}.${k}`, n)));
        this.optimizerState = { type: optimizer.type, step: 0, buffers };
      }
      const state = this.optimizerState;
      const key = `${B}x${T}|${options.loss}|${rowsOn}`;
      const readout = this.readout!;
      const plan = this.cachedPlan(this.trainPlans, key, () => {
        // No gradient of x: no update reads it.
        const gradients = new GradientPlan(ctx, spec, forwardKernels, backwardKernels, this.layers, B, T, readout, false, rowsOn === 'final' ? 'final' : 'steps');
        try {
          return new TrainStepPlan(ctx, spec, gradients, { matmul: forwardKernels.matmul, loss, gradNorm, update }, this.layers, readout, state.buffers, rowsOn);
        } catch (e) {
          gradients.destroy();
          throw e;
        }
      }, (p) => p.gradients.uses(forwardKernels, backwardKernels));
      writeFloats(ctx, plan.gradients.forward.x, xSeq);
      if (h0) writeFloats(ctx, plan.gradients.forward.h0, h0);
      if (c0 && plan.gradients.forward.c) writeFloats(ctx, plan.gradients.forward.c, c0);
      writeFloats(ctx, plan.targets, targetSeq);
      plan.gradients.setLengths(seqLens);
      writeFloats(ctx, plan.mask, maskSeq);
      state.step++;
      const r = await plan.run({ hasH0: h0 !== undefined, hasC0: c0 !== undefined, scale, maxNorm, clipValue, optimizer, step: state.step, readLoss, readNorm, readState });
      this.trainStats = { submits: 1, dispatches: plan.dispatches };
      const result: TrainStepResult = {};
      if (r.lossRows) result.loss = r.lossRows.reduce((a, b) => a + b, 0);
      if (r.norm !== undefined) result.gradNorm = r.norm;
      if (r.hN) result.hN = r.hN;
      if (r.cN) result.cN = r.cN;
      return result;
    });
  }

  /**
   * Truncated backpropagation through time over a long sequence: the sequence is cut into
   * chunks of `chunkLength` steps (the last may be shorter); each chunk is one trainStep whose
   * initial state is the previous chunk's final state (carried forward, not differentiated
   * through), with the loss on every step (train/sequence.ts).
   *
   * @param x the whole sequence [T, B, I] ([B, T, I] when batchFirst)
   * @param target as for trainStep with lossOn 'all', over the whole sequence
   */
  async trainSequence(x: Float32Array, target: Float32Array, options: TrainSequenceOptions): Promise<TrainSequenceResult> {
    this.assertAlive('trainSequence');
    return trainSequence(this, x, target, options);
  }

  private releaseBuffers(): void {
    for (const plan of this.trainPlans.values()) plan.destroy();
    this.trainPlans.clear();
    for (const buffers of this.optimizerState?.buffers ?? []) for (const b of buffers) b.destroy();
    this.optimizerState = null;
    for (const plan of this.gradientPlans.values()) plan.destroy();
    this.gradientPlans.clear();
    for (const plan of this.plans.values()) plan.destroy();
    this.plans.clear();
    for (const layer of this.layers) {
      for (const b of Object.values(layer)) (b as GPUBuffer).destroy();
    }
    this.layers.length = 0;
    this.readout?.weight.destroy();
    this.readout?.bias.destroy();
    this.readout = null;
  }

  /** Release the model's GPU buffers. Later calls throw a `destroyed` error. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.onDestroy(this);
    for (const s of [...this.streams]) s.close();
    // Operations already queued finish (or fail with `destroyed`) before the buffers go.
    void this.queue.then(() => this.releaseBuffers());
  }
}
