/**
 * A stacked, optionally bidirectional Elman RNN, LSTM or GRU. The class checks arguments,
 * orders calls, converts layouts and names results; where the parameters live and how the
 * passes run is its backend's (a ModelExecution, model/backend.ts; WebGPU: src/backends/webgpu/).
 */
import { WebRnnError } from '../errors.js';
import { initialParameters, type InitOptions } from './init.js';
import { lossRows } from '../train/loss-rows.js';
import { trainSequence } from '../train/sequence.js';
import { evaluate, type EvaluateOptions, type EvaluateResult } from '../train/evaluate.js';
import type { FitHistory, FitOptions } from '../train/fit.js';
import type { OptimizerSnapshot } from '../train/checkpoint.js';
import { OPTIMIZER_METADATA, optimizerConfigOf, resolveClipping, resolveLoss, resolveOptimizer, type OptimizerConfig, type TrainSequenceOptions, type TrainSequenceResult, type TrainStepOptions, type TrainStepResult, type TrainStepResultFor } from '../train/options.js';
import type { ForwardStats, ModelExecution, PassResult, ReadoutRows } from './backend.js';
import { defaultParameters, validateStateDict, type StateDict } from '../spec/parameters.js';
import { storedParameters } from '../spec/half.js';
import { checkOptions, checkTrainable, prepareInputs, prepareOutputGradients, type ForwardOptions, type ForwardOutput, type GradientOptions, type GradientOutput, type WarmupOptions } from './calls.js';
export type { CellStates, ForwardOptions, ForwardOutput, ForwardOutputBase, GradientOptions, GradientOutput, GradientOutputBase, WarmupOptions } from './calls.js';
import { RecurrentStream, type StreamOptions } from './stream.js';
import { CarriedStates } from './carried-states.js';
import { MODEL_METADATA, parameterInfo, stateOffset, stateWidth, type CellKind, type ModelSpec } from '../spec/spec.js';
import { checkCount, checkFinite, finalStates, reverseSteps, swapBatchTime } from '../arrays.js';

/**
 * @internal How a model writes its files, given by the engine (the writers live in io/, which
 * builds on model/): safetensors bytes of named tensors, and an ONNX ModelProto of a model.
 */
export interface ModelWriters {
  safetensors(tensors: Readonly<Record<string, { shape: readonly number[]; data: Float32Array }>>, metadata?: Readonly<Record<string, string>>, dtype?: SaveOptions['dtype']): Uint8Array;
  onnx(spec: ModelSpec, dict: Readonly<StateDict>): Promise<Uint8Array>;
}

/** Options of `model.save`. */
export interface SaveOptions {
  /** String pairs for the file's `__metadata__` (PyTorch writes { format: 'pt' }). */
  metadata?: Record<string, string>;
  /** Add the optimizer's state, so that training resumes from the file exactly (default false). */
  optimizer?: boolean;
  /** The parameters' element type: 'F32' (default), or 'F16' / 'BF16' rounded to nearest even (half the bytes; not with `optimizer`). */
  dtype?: 'F32' | 'F16' | 'BF16';
}

/** Batches whose kernels `warmup` compiles when it is given none: one row, the batch tile's 4, and a large batch. */
const WARMUP_BATCHES = [1, 4, 64];

/**
 * A model; `K`, its cell kind ('rnn', 'lstm' or 'gru'), types its results (an LSTM's carry
 * cell states) where it is known (`engine.lstm` gives a RecurrentModel<'lstm'>).
 */
export class RecurrentModel<K extends CellKind = CellKind> {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly streams = new Set<RecurrentStream>();
  private destroyed = false;

  /** @internal Models are made by an Engine (`engine.lstm`, `engine.load`, …). */
  constructor(
    /** The resolved options. */
    readonly spec: ModelSpec,
    /** Where the parameters live and the passes run. */
    private readonly exec: ModelExecution,
    /** Called once, when the model is destroyed. */
    private readonly onDestroy: () => void,
    private readonly writers: ModelWriters,
  ) {
    this.carried = new CarriedStates(spec);
    exec.writeParameters(storedParameters(spec, defaultParameters(spec, spec.seed)));
  }

  /** 'rnn', 'lstm' or 'gru'. */
  get kind(): K {
    return this.spec.kind as K;
  }

  /** @internal The names of a loaded file's tensors by our names, used by save(). */
  fileNames: Record<string, string> | null = null;

  /** The optimizer of the last training step (or that the loaded file saved), every default filled in. */
  private optimizerConfig: OptimizerConfig | null = null;
  private dropoutCount = 0;
  private readonly carried: CarriedStates;

  /**
   * Training calls that drew dropout masks so far; the next (trainStep, a step of fit or chunk of
   * trainSequence, gradients with training: true) draws those of call `dropoutCalls`
   * (spec/dropout.ts). Saved with the optimizer's state.
   */
  get dropoutCalls(): number {
    return this.dropoutCount;
  }

  /** The call number of a training pass that drops (one more counted); undefined where none drops. */
  private nextDropoutCall(): number | undefined {
    return this.spec.dropout > 0 && this.spec.numLayers > 1 ? this.dropoutCount++ : undefined;
  }

  /**
   * The optimizer configuration of the last training step, or the one saved in the file the
   * model was loaded from; trainStep (and fit) use it when given none. null before either.
   */
  get optimizer(): OptimizerConfig | null {
    return this.optimizerConfig && structuredClone(this.optimizerConfig);
  }

  /**
   * The parameters as safetensors bytes (F32 unless `dtype` says), under the names PyTorch's load_state_dict expects:
   * those of the file the model was loaded from, or the module's own (weight_ih_l0, …, and
   * readout.weight / readout.bias for the read-out).
   *
   * With `optimizer: true` the file also holds the optimizer's state, so that a model loaded
   * from it trains on exactly as this one would: the configuration and step count (metadata
   * `webrnn.optimizer`) and each parameter's moments or momentum buffer as
   * `optimizer.<exp_avg | exp_avg_sq | momentum_buffer>.<name>` (PyTorch's names for them;
   * load such a file into PyTorch with strict=False, or leave those tensors out).
   *
   * @throws WebRnnError ('invalid-option') with `optimizer: true` when the model holds no
   *   optimizer state (it has not trained since it was made, loaded, initialised or reset), or
   *   with a dtype other than F32; or when a value is beyond the range of `dtype`.
   */
  async save(options: SaveOptions = {}): Promise<Uint8Array> {
    this.assertAlive('save');
    checkOptions('save', options, ['metadata', 'optimizer', 'dtype']);
    const { dtype = 'F32' } = options;
    if (options.optimizer && dtype !== 'F32') throw new WebRnnError('invalid-option', `save: optimizer: true needs F32 (training resumes exactly from full precision only), not ${dtype}`);
    const metadata = { ...options.metadata };
    for (const key of [OPTIMIZER_METADATA, MODEL_METADATA]) if (key in metadata) throw new WebRnnError('invalid-option', `save: the metadata key '${key}' is webrnn's`);
    return this.serialize(async () => {
      this.assertAlive('save', true);
      // The saved-options and checkpoint code load on first use, as the file readers do.
      const own = (await import('../spec/saved-options.js')).savedOptions(this.spec);
      if (own) metadata[MODEL_METADATA] = own;
      const dict = await this.exec.readParameters();
      const name = (ours: string): string => this.fileNames?.[ours] ?? ours;
      const tensors = Object.fromEntries(parameterInfo(this.spec).map((p) => [name(p.name), { shape: p.shape, data: dict[p.name] }]));
      if (options.optimizer) {
        const checkpoint = await import('../train/checkpoint.js');
        const snapshot = await this.exec.readOptimizerState();
        if (!snapshot || !this.optimizerConfig) throw new WebRnnError('invalid-option', 'save: optimizer: true, but the model holds no optimizer state (it has not trained since it was made, loaded, initialised or reset)');
        const entries = checkpoint.optimizerEntries(this.spec, snapshot, this.optimizerConfig, name, this.dropoutCount);
        Object.assign(tensors, entries.tensors);
        Object.assign(metadata, entries.metadata);
      }
      return this.writers.safetensors(tensors, metadata, dtype);
    });
  }

  /** @internal Set the optimizer's configuration and state (a loaded file's; checked by train/checkpoint.ts). */
  restoreOptimizer(config: OptimizerConfig, snapshot: OptimizerSnapshot, dropoutCalls: number): void {
    this.assertAlive('load');
    this.exec.writeOptimizerState(snapshot);
    this.optimizerConfig = config;
    this.dropoutCount = dropoutCalls;
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
    return this.writers.onnx(this.spec, await this.stateDict());
  }

  /** What the last training step recorded (submits, dispatches), or null before the first. */
  get lastTrainStats(): { submits: number; dispatches: number } | null {
    return this.exec.lastTrainStats;
  }

  /** What the last forward pass recorded (submits, dispatches), or null before the first. */
  get lastForwardStats(): ForwardStats | null {
    return this.exec.lastForwardStats;
  }

  /**
   * Throw if the model or its engine is gone. `accepted` marks an operation that was accepted
   * before a destroy(): it still runs, as long as the backend does.
   */
  private assertAlive(what: string, accepted = false): void {
    if (this.destroyed && !accepted) throw new WebRnnError('destroyed', `${what}: this ${this.spec.kind} model has been destroyed`);
    this.exec.check(what);
  }

  /** Run `fn` after every earlier queued operation of this model. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Replace every parameter. `dict` maps PyTorch names (`weight_ih_l0`, `bias_hh_l1_reverse`, …)
   * to row-major Float32Arrays and must hold exactly the model's parameters. The whole dict
   * is checked before anything is written: on error the model is unchanged.
   */
  loadStateDict(dict: Readonly<Record<string, Float32Array>>): void {
    this.assertAlive('loadStateDict');
    validateStateDict(this.spec, dict, this.spec.checkFinite);
    this.exec.writeParameters(storedParameters(this.spec, dict));
  }

  /**
   * Re-initialise every parameter (PyTorch's default, Xavier, orthogonal W_hh, an LSTM
   * forget-gate bias; see InitOptions) and reset the optimizer state.
   */
  initialize(options: InitOptions = {}): void {
    this.assertAlive('initialize');
    const dict = initialParameters(this.spec, options);
    if (this.exec.hasOptimizerState) this.resetOptimizer();
    this.exec.writeParameters(storedParameters(this.spec, dict));
  }

  /** Every parameter, read back from the backend, under PyTorch's names and layouts. */
  async stateDict(): Promise<StateDict> {
    this.assertAlive('stateDict');
    return this.serialize(async () => {
      this.assertAlive('stateDict', true);
      return this.exec.readParameters();
    });
  }

  /**
   * Compile this model's pipelines now rather than on the first call: those for batches of
   * `batch` rows, or (default) every variant; with `training`, also those of
   * {@link gradients} and {@link trainStep} (their forward and backward kernels). Afterwards
   * every such call runs the kernels `persistent` chose, where 'auto' would otherwise run the
   * per-step kernels while a resident form compiles in the background, and the GEMM's slab
   * form where it takes a product.
   */
  async warmup(batch?: number, options: WarmupOptions = {}): Promise<void> {
    this.assertAlive('warmup');
    checkOptions('warmup', options, ['training']);
    if (options.training !== undefined && typeof options.training !== 'boolean') throw new WebRnnError('invalid-option', `warmup: training must be a boolean, got ${String(options.training)}`);
    await this.exec.warmup(batch === undefined ? WARMUP_BATCHES : [checkCount('batch', batch)], options.training ?? false);
  }

  /** The rows of y that forward and gradients read out (returnSequences). */
  private get yRows(): ReadoutRows {
    return this.spec.returnSequences ? 'steps' : 'final';
  }

  /** [T, B, F] results in the caller's layout ([B, T, F] when batchFirst). */
  private toCaller(a: Float32Array, B: number, T: number, F: number): Float32Array {
    return this.spec.batchFirst ? swapBatchTime(a, B, T, F, true, new Float32Array(a.length)) : a;
  }

  /** output, hN, cN and y as ForwardOutput defines them, from a pass's sequence-major results. */
  private forwardOutput(r: PassResult, B: number, T: number): ForwardOutput<K> {
    const { numLayers: L, numDirections: D, outputSize: O } = this.spec;
    const H = stateWidth(this.spec);
    const output = this.toCaller(r.output, B, T, D * H);
    const y = this.spec.returnSequences ? (r.y ? this.toCaller(r.y, B, T, O) : output) : (r.y ?? finalStates(r.hN.subarray(stateOffset(this.spec, L - 1, B)), 1, D, B, H, new Float32Array(B * D * H)));
    // cN is there exactly when the model is an LSTM, which is what ForwardOutput<K> says.
    return (r.cN ? { output, hN: r.hN, y, cN: r.cN } : { output, hN: r.hN, y }) as ForwardOutput<K>;
  }

  /**
   * Run the model over a batch of sequences.
   *
   * @param x input [T, B, I] ([B, T, I] when batchFirst), row-major
   * @returns output [T, B, D·H] ([B, T, D·H] when batchFirst), hN and (LSTM) cN [L·D, B, H],
   *   and y, the model's output (see {@link ForwardOutput.y})
   */
  async forward(x: Float32Array | Int32Array, options: ForwardOptions): Promise<ForwardOutput<K>> {
    // Everything about the arguments is checked (and copied) in this synchronous part of the
    // call, before anything is queued or written; errors come back as a rejection.
    this.assertAlive('forward');
    checkOptions('forward', options, ['batch', 'seqLen', 'h0', 'c0', 'checkFinite', 'seqLens']);
    const { B, T, xSeq, ids, seqLens, ...given } = prepareInputs(this.spec, 'forward', x, options);
    const { h0, c0 } = this.carried.initial('forward', B, given.h0, given.c0);
    return this.serialize(async () => {
      this.assertAlive('forward', true);
      const r = await this.exec.forward({ batch: B, seqLen: T, x: xSeq, ids, h0, c0, seqLens }, this.yRows);
      this.carried.keep(B, r.hN, r.cN);
      return this.forwardOutput(r, B, T);
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
    if (this.spec.goBackwards) throw new WebRnnError('invalid-option', 'stream: a model with goBackwards reads each sequence from its end; use forward');
    const s = new RecurrentStream(
      {
        spec: this.spec,
        open: (B) => this.exec.openStream(B),
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
  async gradients(x: Float32Array | Int32Array, options: GradientOptions): Promise<GradientOutput<K>> {
    this.assertAlive('gradients');
    const { spec } = this;
    checkOptions('gradients', options, ['batch', 'seqLen', 'h0', 'c0', 'checkFinite', 'seqLens', 'gradOutput', 'gradHN', 'gradCN', 'training']);
    if (options.training !== undefined && typeof options.training !== 'boolean') throw new WebRnnError('invalid-option', `gradients: training must be a boolean, got ${String(options.training)}`);
    checkTrainable(spec, 'gradients', false);
    const { B, T, xSeq, ids, seqLens, h0, c0 } = prepareInputs(this.spec, 'gradients', x, options);
    const I = spec.inputSize;
    const { gradOutput, gradHN, gradCN } = prepareOutputGradients(spec, options, B, T);
    const dropoutCall = options.training ? this.nextDropoutCall() : undefined;

    return this.serialize(async () => {
      this.assertAlive('gradients', true);
      const r = await this.exec.gradients({ batch: B, seqLen: T, x: xSeq, ids, h0, c0, seqLens, dropoutCall }, { gradOutput, gradHN, gradCN }, this.yRows);
      // x's gradient in x's own order (goBackwards read it reversed).
      const input = spec.goBackwards ? reverseSteps(r.input, B, T, I, seqLens) : r.input;
      const base = { params: r.params, input: this.toCaller(input, B, T, I), h0: r.h0, ...this.forwardOutput(r, B, T) };
      // c0 (like cN) is there exactly when the model is an LSTM.
      return (r.c0 ? { ...base, c0: r.c0 } : base) as GradientOutput<K>;
    });
  }

  /** A stateful model's carried states (Keras's reset_states): the next call starts from zeros. */
  resetStates(): void {
    this.assertAlive('resetStates');
    this.carried.reset();
  }

  /** Forget the optimizer's state (moments, velocities, step count): the next step starts afresh. */
  resetOptimizer(): void {
    this.assertAlive('resetOptimizer');
    this.exec.resetOptimizer();
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
  async trainStep<O extends TrainStepOptions>(x: Float32Array | Int32Array, target: Float32Array, options: O): Promise<TrainStepResultFor<O, K extends 'lstm' ? true : false>> {
    this.assertAlive('trainStep');
    const { spec } = this;
    checkOptions('trainStep', options, [
      'batch', 'seqLen', 'h0', 'c0', 'checkFinite', 'seqLens', 'loss', 'lossOn', 'mask', 'optimizer', 'clipGradNorm', 'clipGradValue', 'readLoss', 'returnGradNorm', 'returnState',
    ]);
    checkTrainable(spec, 'trainStep', true);
    const { lossOn } = resolveLoss('trainStep', spec, options);
    const config = options.optimizer ?? this.optimizerConfig;
    if (!config) throw new WebRnnError('invalid-option', "trainStep: optimizer is required ({ type: 'sgd' | 'adam' | 'adamw', lr }) until the model has trained or was loaded with one");
    const optimizer = resolveOptimizer(config);
    const { maxNorm, clipValue } = resolveClipping(options);
    const { B, T, xSeq, ids, seqLens, ...given } = prepareInputs(this.spec, 'trainStep', x, options);
    const { h0, c0 } = this.carried.initial('trainStep', B, given.h0, given.c0);
    const { targetSeq, maskSeq, rowsOn, scale } = lossRows(spec, target, options, lossOn, B, T, seqLens);
    const readLoss = options.readLoss ?? true;
    const readNorm = options.returnGradNorm ?? false;
    const readState = options.returnState ?? false;
    this.optimizerConfig = optimizerConfigOf(optimizer);
    const dropoutCall = this.nextDropoutCall();

    return this.serialize(async () => {
      this.assertAlive('trainStep', true);
      const r = await this.exec.trainStep(
        { batch: B, seqLen: T, x: xSeq, ids, h0, c0, seqLens, dropoutCall },
        { loss: options.loss, targets: targetSeq, mask: maskSeq, rowsOn, scale, optimizer, maxNorm, clipValue, readLoss, readNorm, readState: readState || this.carried.active },
      );
      this.carried.keep(B, r.hN, r.cN);
      const result: TrainStepResult = {};
      if (r.lossRows) result.loss = r.lossRows.reduce((a, b) => a + b, 0);
      if (r.norm !== undefined) result.gradNorm = r.norm;
      if (readState && r.hN) result.hN = r.hN;
      if (readState && r.cN) result.cN = r.cN;
      // What was asked for is what was read back (TrainStepResultFor says which).
      return result as TrainStepResultFor<O, K extends 'lstm' ? true : false>;
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
  async trainSequence(x: Float32Array | Int32Array, target: Float32Array, options: TrainSequenceOptions): Promise<TrainSequenceResult> {
    this.assertAlive('trainSequence');
    if (this.spec.goBackwards) throw new WebRnnError('invalid-option', 'trainSequence: a model with goBackwards reads each sequence from its end, which chunks cannot; use trainStep or fit on whole sequences');
    return trainSequence(this, x, target, options);
  }

  /**
   * The loss of the model on data, without training: what trainStep would report for the same
   * x, target and options (the forward pass on the backend, the read-out and the loss in float64).
   */
  async evaluate(x: Float32Array | Int32Array, target: Float32Array, options: EvaluateOptions): Promise<EvaluateResult> {
    this.assertAlive('evaluate');
    checkOptions('evaluate', options, ['batch', 'seqLen', 'h0', 'c0', 'checkFinite', 'seqLens', 'loss', 'lossOn', 'mask']);
    return evaluate(this, x, target, options);
  }

  /**
   * Train over a dataset of `batch` sequences for some epochs (train/fit.ts): minibatches drawn
   * in a seeded random order, one trainStep each, a learning-rate schedule, validation after
   * each epoch, early stopping, progress callbacks. It yields to the event loop between steps
   * and stops there when `signal` is aborted, leaving the model after a whole step.
   *
   * @param x [T, batch, I] ([batch, T, I] when batchFirst)
   * @param y as trainStep's target over all `batch` sequences
   * @returns the history: each epoch's loss and validation loss, why it stopped
   */
  async fit(x: Float32Array | Int32Array, y: Float32Array, options: FitOptions): Promise<FitHistory> {
    this.assertAlive('fit');
    // Loaded on first use, so that a page that only runs models does not carry the loop.
    const { fit } = await import('../train/fit.js');
    return fit(this, x, y, options);
  }

  /** Release what the model holds on its backend. Later calls throw a `destroyed` error. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.onDestroy();
    for (const s of [...this.streams]) s.close();
    // Operations already queued finish (or fail with `destroyed`) before the buffers go.
    void this.queue.then(() => this.exec.release());
  }
}
