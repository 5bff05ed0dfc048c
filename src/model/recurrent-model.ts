/**
 * A stacked, optionally bidirectional Elman RNN, LSTM or GRU on the GPU. Parameters live in
 * GPU buffers (layout in parameters.ts); forward passes are planned once per shape by
 * schedule/forward.ts and run one at a time per model.
 */
import { ShapeError, WebRnnError } from '../errors.js';
import { createReadbackBuffer, createStorageBuffer, readFloats, writeFloats } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { createGruCellForward } from '../kernels/gru-cell-forward.js';
import { createLstmCellForward } from '../kernels/lstm-cell-forward.js';
import { MatmulKernel } from '../kernels/matmul.js';
import { createRnnCellForward } from '../kernels/rnn-cell-forward.js';
import { useBatchTile } from '../kernels/recurrent-step.js';
import { checkCount, ForwardPlan, type ForwardKernels, type ForwardStats, type LayerParameterBuffers } from '../schedule/forward.js';
import { checkFinite, defaultParameters, packLayer, unpackLayer, validateStateDict, type PackedLayer, type StateDict } from './parameters.js';
import { swapBatchTime } from './layout.js';
import { gateCount, layerInputSize, packedGateStride, type CellKind, type ModelSpec } from './spec.js';

/** Options of {@link RecurrentModel.forward}. */
export interface ForwardOptions {
  /** Sequences in the batch (B). */
  batch: number;
  /** Time steps (T). */
  seqLen: number;
  /** Initial hidden state [L·D, B, H]; zeros when absent. */
  h0?: Float32Array;
  /** Initial cell state [L·D, B, H], LSTM only; zeros when absent. */
  c0?: Float32Array;
  /** Check x, h0 and c0 for NaN and ±Infinity (default: the model's `checkFinite` option). */
  checkFinite?: boolean;
}

/** Result of {@link RecurrentModel.forward}. */
export interface ForwardOutput {
  /** [T, B, D·H], or [B, T, D·H] when batchFirst; directions concatenated, forward first. */
  output: Float32Array;
  /** Final hidden states [L·D, B, H], index layer·D + direction. */
  hN: Float32Array;
  /** Final cell states [L·D, B, H]; LSTM only. */
  cN?: Float32Array;
}

/** Forward plans kept per model (least recently used shapes are released first). */
const MAX_PLANS = 4;

export class RecurrentModel {
  /** The resolved options. */
  readonly spec: ModelSpec;
  private readonly layers: LayerParameterBuffers[] = [];
  /** Kernels per variant (batch-tiled or not), compiled on first use. */
  private readonly kernels = new Map<boolean, Promise<ForwardKernels>>();
  private readonly plans = new Map<string, ForwardPlan>();
  private queue: Promise<unknown> = Promise.resolve();
  private destroyed = false;
  private stats: ForwardStats | null = null;

  /** @internal Use `engine.rnn`, `engine.lstm` or `engine.gru`. */
  constructor(
    private readonly ctx: GpuContext,
    spec: ModelSpec,
    private readonly onDestroy: (m: RecurrentModel) => void,
  ) {
    this.spec = spec;
    const G = gateCount(spec.kind);
    const { hiddenSize: H, numDirections: D } = spec;
    try {
      for (let l = 0; l < spec.numLayers; l++) {
        const tag = `layer ${l}`;
        this.layers.push({
          wih: createStorageBuffer(ctx, `webrnn ${tag} W_ih [D*G*H, I]`, D * G * H * layerInputSize(spec, l)),
          bih: createStorageBuffer(ctx, `webrnn ${tag} b_ih [D*G*H]`, D * G * H),
          whhT: createStorageBuffer(ctx, `webrnn ${tag} W_hh^T [D,H,H,P]`, D * H * H * packedGateStride(G)),
          bhh: createStorageBuffer(ctx, `webrnn ${tag} b_hh [D,G*H]`, D * G * H),
        });
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
      const staging = createReadbackBuffer(this.ctx, 'webrnn stateDict readback', total);
      try {
        const encoder = device.createCommandEncoder({ label: 'webrnn stateDict' });
        parts.forEach(([offset, floats], i) => {
          const [l, key] = order[i];
          encoder.copyBufferToBuffer(this.layers[l][key], 0, staging, offset * 4, floats * 4);
        });
        device.queue.submit([encoder.finish()]);
        const arrays = await readFloats(staging, parts);
        const dict: StateDict = {};
        for (let l = 0; l < this.layers.length; l++) {
          const p = arrays.slice(l * 4, l * 4 + 4);
          const packed: PackedLayer = { wih: p[0], bih: p[1], whhT: p[2], bhh: p[3] };
          unpackLayer(this.spec, packed, l, dict);
        }
        return dict;
      } finally {
        staging.destroy();
      }
    });
  }

  private getKernels(batchTile: boolean): Promise<ForwardKernels> {
    let kernels = this.kernels.get(batchTile);
    if (!kernels) {
      const { spec, ctx } = this;
      const variant = { batchTile };
      const cell =
        spec.kind === 'lstm'
          ? createLstmCellForward(ctx, variant)
          : spec.kind === 'gru'
            ? createGruCellForward(ctx, spec.linearBeforeReset, variant)
            : createRnnCellForward(ctx, spec.nonlinearity, variant);
      kernels = Promise.all([MatmulKernel.create(ctx), cell]).then(([matmul, c]) => ({ matmul, cell: c }));
      // A failed compilation is not cached: the next call tries again.
      kernels.catch(() => this.kernels.delete(batchTile));
      this.kernels.set(batchTile, kernels);
    }
    return kernels;
  }

  /**
   * Compile this model's pipelines now rather than on the first forward: those for batches of
   * `batch` rows, or (default) every variant.
   */
  async warmup(batch?: number): Promise<void> {
    this.assertAlive('warmup');
    const variants = batch === undefined ? [false, true] : [useBatchTile(checkCount('batch', batch))];
    await Promise.all(variants.map((v) => this.getKernels(v)));
  }

  private plan(kernels: ForwardKernels, batch: number, seqLen: number): ForwardPlan {
    const key = `${batch}x${seqLen}`;
    let plan = this.plans.get(key);
    if (plan) {
      this.plans.delete(key);
    } else {
      plan = new ForwardPlan(this.ctx, this.spec, kernels, this.layers, batch, seqLen);
      while (this.plans.size >= MAX_PLANS) {
        const [oldKey, old] = this.plans.entries().next().value as [string, ForwardPlan];
        old.destroy();
        this.plans.delete(oldKey);
      }
    }
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * Run the model over a batch of sequences.
   *
   * @param x input [T, B, I] ([B, T, I] when batchFirst), row-major
   * @returns output [T, B, D·H] ([B, T, D·H] when batchFirst), hN and (LSTM) cN [L·D, B, H]
   */
  async forward(x: Float32Array, options: ForwardOptions): Promise<ForwardOutput> {
    // Everything about the arguments is checked (and copied) in this synchronous part of the
    // call, before anything is queued or written; errors come back as a rejection.
    this.assertAlive('forward');
    const { spec } = this;
    if (options === null || typeof options !== 'object') throw new WebRnnError('invalid-option', 'forward: options { batch, seqLen } expected');
    for (const key of Object.keys(options)) {
      if (!['batch', 'seqLen', 'h0', 'c0', 'checkFinite'].includes(key)) throw new WebRnnError('invalid-option', `forward: unknown option '${key}'`);
    }
    const B = checkCount('batch', options.batch);
    const T = checkCount('seqLen', options.seqLen);
    const { inputSize: I, hiddenSize: H, numLayers: L, numDirections: D } = spec;
    const xShape = spec.batchFirst ? [B, T, I] : [T, B, I];
    const stateShape = [L * D, B, H];
    const asFloats = (name: string, v: unknown, shape: number[]): Float32Array => {
      if (!(v instanceof Float32Array)) {
        throw new WebRnnError('invalid-option', `${name}: Float32Array of shape [${shape.join(', ')}] expected, got ${Object.prototype.toString.call(v)}`);
      }
      const n = shape.reduce((a, b) => a * b, 1);
      if (v.length !== n) throw new ShapeError(name, shape, [v.length]);
      return v;
    };
    asFloats('x', x, xShape);
    if (options.h0 !== undefined) asFloats('h0', options.h0, stateShape);
    if (options.c0 !== undefined) {
      if (spec.kind !== 'lstm') throw new WebRnnError('invalid-option', `forward: c0 is only for LSTM models, this is ${spec.kind}`);
      asFloats('c0', options.c0, stateShape);
    }
    if (options.checkFinite ?? spec.checkFinite) {
      checkFinite('x', x);
      if (options.h0) checkFinite('h0', options.h0);
      if (options.c0) checkFinite('c0', options.c0);
    }
    // Copy the caller's arrays now: they may change them once this call returns.
    const xSeq = spec.batchFirst ? swapBatchTime(x, B, T, I, false, new Float32Array(x.length)) : x.slice();
    const h0 = options.h0?.slice();
    const c0 = options.c0?.slice();

    return this.serialize(async () => {
      this.assertAlive('forward', true);
      const kernels = await this.getKernels(useBatchTile(B));
      this.assertAlive('forward', true);
      const plan = this.plan(kernels, B, T);
      writeFloats(this.ctx, plan.x, xSeq);
      if (h0) writeFloats(this.ctx, plan.h0, h0);
      if (c0 && plan.c) writeFloats(this.ctx, plan.c, c0);
      const r = await plan.run(h0 !== undefined, c0 !== undefined);
      this.stats = plan.stats;
      const output = spec.batchFirst ? swapBatchTime(r.output, B, T, D * H, true, new Float32Array(r.output.length)) : r.output;
      return r.cN ? { output, hN: r.hN, cN: r.cN } : { output, hN: r.hN };
    });
  }

  private releaseBuffers(): void {
    for (const plan of this.plans.values()) plan.destroy();
    this.plans.clear();
    for (const layer of this.layers) {
      for (const b of Object.values(layer)) (b as GPUBuffer).destroy();
    }
    this.layers.length = 0;
  }

  /** Release the model's GPU buffers. Later calls throw a `destroyed` error. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.onDestroy(this);
    // Operations already queued finish (or fail with `destroyed`) before the buffers go.
    void this.queue.then(() => this.releaseBuffers());
  }
}
