/**
 * The kernels of one cell (a model's layers of one kind and width: model-kernels.ts combines
 * them per layer) on one device, chosen, compiled and cached here: the forward and
 * backward step kernels of each variant (batch tile, training, persistent or resident form;
 * the rules in src/placement/rules.ts), the GEMM, and the loss, norm and optimizer kernels.
 * Where 'auto' picks a resident form that compiles slowly (residentCompilesInBackground), it
 * compiles in the background while the per-step kernels serve; where a compile fails, the next
 * call tries again and the per-step kernels go on serving the 'auto' choice.
 */
import type { GpuContext } from '../../gpu/device.js';
import { createAdamUpdate } from '../../kernels/adam-update.js';
import { createCrossEntropyLoss } from '../../kernels/cross-entropy-loss.js';
import { createGradNorm } from '../../kernels/grad-norm.js';
import { createGruCellBackward } from '../../kernels/gru-cell-backward.js';
import { createGruCellForward } from '../../kernels/gru-cell-forward.js';
import type { Kernel } from '../../kernels/kernel.js';
import { createLstmCellBackward } from '../../kernels/lstm-cell-backward.js';
import { createLstmCellForward } from '../../kernels/lstm-cell-forward.js';
import { MatmulKernel } from '../../kernels/matmul.js';
import { createMseLoss } from '../../kernels/mse-loss.js';
import { persistentWorkgroup } from '../../kernels/recurrent-step.js';
import { residentFits } from '../../kernels/resident.js';
import { createRnnCellBackward } from '../../kernels/rnn-cell-backward.js';
import { createRnnCellForward } from '../../kernels/rnn-cell-forward.js';
import { createSgdUpdate } from '../../kernels/sgd-update.js';
import { gateCount, type ModelSpec } from '../../spec/spec.js';
import { autoPersistent, autoPersistentSweep, cooperativeForward, directProduct, forwardBatchTile, residentCompilesInBackground, tiledForward, tiledSweep, useBatchTile, useWideTile, type AdapterProfile } from '../../placement/rules.js';
import type { CellBackwardKernel } from '../../kernels/recurrent-step-backward.js';
import type { CellStepKernel } from '../../kernels/recurrent-step.js';

/** The forward kernels of a layer: the GEMM and its cell's step. */
export interface LayerForwardKernels {
  matmul: MatmulKernel;
  cell: CellStepKernel;
}

/** The backward kernels of a layer: the GEMM and its cell's sweep. */
export interface LayerBackwardKernels {
  matmul: MatmulKernel;
  cell: CellBackwardKernel;
}

/** The kernels of a training step besides the forward and backward ones. */
export interface TrainKernels {
  loss: Kernel;
  gradNorm: Kernel;
  update: Kernel;
}

export class CellKernelSet {
  private readonly forwardKernels = new Map<string, Promise<LayerForwardKernels>>();
  private readonly backwardKernels = new Map<string, Promise<LayerBackwardKernels>>();
  private readonly trainKernels = new Map<string, Promise<Kernel>>();

  constructor(
    private readonly ctx: GpuContext,
    private readonly spec: ModelSpec,
    /** The adapter and thresholds the choice of kernel forms reads (placement/rules.ts). */
    private readonly profile: AdapterProfile,
  ) {}

  /**
   * The forward kernels for batches of `batch` rows over `seqLen` steps (the batch tile by
   * size and kernel: forwardBatchTile; the direct product by the adapter: directProduct;
   * persistent by the model's option, which 'auto' resolves with autoPersistent; on GPUs the
   * persistent kernel's cooperative form and the per-step kernel's tiled form by
   * cooperativeForward and tiledForward). Where 'auto'
   * picks a resident form that compiles in the background, the per-step kernels serve until it
   * has compiled on this device, unless `wait` (warmup) asks for the resident form itself;
   * where its compilation failed, they go on serving (warmup tries it again and reports why).
   */
  forward(batch: number, seqLen: number, training = false, wait = false): Promise<LayerForwardKernels> {
    const persistent = this.persistentFor(batch, seqLen);
    const facts = this.cellFacts(batch, seqLen);
    const cooperative = cooperativeForward(this.profile, facts, persistent);
    const batchTile = !cooperative && forwardBatchTile(this.profile, facts, persistent);
    if (!wait && persistent && this.compilesInBackground()) {
      const { pipelines } = this.ctx;
      const { key } = this.forwardVariant(batchTile, true, training);
      if (!pipelines.compiled(key)) {
        // Started unless it failed before on this device (warmup tries again and reports why).
        if (!pipelines.failed(key)) void this.forwardVariantKernels(batchTile, true, training).catch(() => undefined);
        return this.forwardVariantKernels(forwardBatchTile(this.profile, facts, false), false, training);
      }
    }
    return this.forwardVariantKernels(batchTile, persistent, training, cooperative, tiledForward(this.profile, facts, persistent));
  }

  /**
   * The backward kernels for batches of `batch` rows over `seqLen` steps (the direct product's
   * row tile by size: 4 rows, or 8 rows and units from batches of 8; on GPUs the staged
   * product's tiled form by tiledSweep; the resident sweep by the
   * model's option, which 'auto' resolves with autoPersistentSweep, where the sweep has that
   * form: a software adapter, a hidden size whose weights fit). The resident sweep that 'auto'
   * picks compiles in the background as the resident forward does.
   */
  backward(batch: number, seqLen: number, wait = false): Promise<LayerBackwardKernels> {
    const { spec, ctx } = this;
    const possible = directProduct(this.profile) && residentFits(spec.hiddenSize, gateCount(spec.kind), false);
    const persistent = possible && (spec.persistent === 'auto' ? autoPersistentSweep(this.profile, this.cellFacts(batch, seqLen)) : spec.persistent);
    if (!wait && persistent && this.compilesInBackground()) {
      const { key } = this.backwardVariant(batch, true);
      if (!ctx.pipelines.compiled(key)) {
        if (!ctx.pipelines.failed(key)) void this.backwardVariantKernels(batch, true).catch(() => undefined);
        return this.backwardVariantKernels(batch, false);
      }
    }
    return this.backwardVariantKernels(batch, persistent);
  }

  /** The loss, gradient-norm and optimizer kernels of a training step. */
  async train(loss: 'mse' | 'cross-entropy', optimizer: 'sgd' | 'adam' | 'adamw'): Promise<TrainKernels> {
    const { ctx } = this;
    const [l, gradNorm, update] = await Promise.all([
      this.trainKernel(loss, () => (loss === 'cross-entropy' ? createCrossEntropyLoss(ctx) : createMseLoss(ctx))),
      this.trainKernel('grad-norm', () => createGradNorm(ctx)),
      this.trainKernel(optimizer === 'sgd' ? 'sgd' : 'adam', () => (optimizer === 'sgd' ? createSgdUpdate(ctx) : createAdamUpdate(ctx))),
    ]);
    return { loss: l, gradNorm, update };
  }

  /** The embedding-forward and embedding-backward kernels of a model that reads token ids. */
  embedding(): Promise<[Kernel, Kernel]> {
    // These kernels (and dropout's) are loaded with the first model that needs them.
    return Promise.all([
      this.trainKernel('embedding-forward', async () => (await import('../../kernels/embedding-forward.js')).createEmbeddingForward(this.ctx)),
      this.trainKernel('embedding-backward', async () => (await import('../../kernels/embedding-backward.js')).createEmbeddingBackward(this.ctx)),
    ]);
  }

  /** The dropout kernel of training passes that drop between layers. */
  dropout(): Promise<Kernel> {
    return this.trainKernel('dropout', async () => (await import('../../kernels/dropout.js')).createDropout(this.ctx));
  }

  /**
   * Compile every variant passes of `batches` rows take (sequences and one-step streams, which
   * may differ), waiting for the resident forms and the GEMM's slab form rather than leaving
   * them to the background; with `training`, those of gradients and training steps too.
   */
  async warmup(batches: readonly number[], training: boolean): Promise<void> {
    const kernels = await Promise.all(
      batches.flatMap((b) => [1, 2].flatMap((seqLen) => [this.forward(b, seqLen, false, true), ...(training ? [this.forward(b, seqLen, true, true), this.backward(b, seqLen, true)] : [])])),
    );
    await Promise.all(kernels.map((k) => k.matmul.whenSlabReady()));
  }

  /** Whether a resident form that 'auto' picks compiles in the background. */
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

  private forwardVariant(batchTile: boolean, persistent: boolean, training: boolean, cooperative = false, tiled = false) {
    const { spec } = this;
    // W_hh from half-precision pairs where the forms read them so (GPUs, one phase a step).
    const half = spec.weightPrecision === 'f16' && !directProduct(this.profile) && (spec.kind !== 'gru' || spec.linearBeforeReset);
    const variant = { batchTile, training, cell: spec.cell, persistent, direct: directProduct(this.profile), workgroup: persistentWorkgroup(spec.hiddenSize), hidden: spec.hiddenSize, cooperative, tiled, half };
    return { variant, key: this.variantKey('forward', variant) };
  }

  private forwardVariantKernels(batchTile: boolean, persistent: boolean, training: boolean, cooperative = false, tiled = false): Promise<LayerForwardKernels> {
    const { spec, ctx } = this;
    const { variant, key } = this.forwardVariant(batchTile, persistent, training, cooperative, tiled);
    return this.cached(this.forwardKernels, key, () => {
      const cell =
        spec.kind === 'lstm'
          ? createLstmCellForward(ctx, { ...variant, peepholes: spec.peepholes })
          : spec.kind === 'gru'
            ? createGruCellForward(ctx, spec.linearBeforeReset, variant)
            : createRnnCellForward(ctx, spec.nonlinearity, variant);
      return Promise.all([MatmulKernel.create(ctx), cell]).then(([matmul, c]) => ({ matmul, cell: c }));
    });
  }

  private backwardVariant(batch: number, persistent: boolean) {
    const direct = directProduct(this.profile);
    // The resident sweep takes one row a workgroup, walking the rows as the forward does.
    const tiled = !persistent && tiledSweep(this.profile, this.cellFacts(batch, 1));
    const variant = { direct, batchTile: !persistent && useBatchTile(batch), wideTile: !persistent && direct && useWideTile(batch), persistent, hidden: this.spec.hiddenSize, tiled };
    return { variant, key: this.variantKey('backward', variant) };
  }

  private backwardVariantKernels(batch: number, persistent: boolean): Promise<LayerBackwardKernels> {
    const { spec, ctx } = this;
    const { variant, key } = this.backwardVariant(batch, persistent);
    return this.cached(this.backwardKernels, key, () => {
      const cell = spec.kind === 'lstm' ? createLstmCellBackward(ctx, variant) : spec.kind === 'gru' ? createGruCellBackward(ctx, variant) : createRnnCellBackward(ctx, spec.nonlinearity, variant);
      return Promise.all([MatmulKernel.create(ctx), cell]).then(([matmul, c]) => ({ matmul, cell: c }));
    });
  }

  /** The variant `key` from `cache`, compiled by `create` on a miss; a failed compile is not kept (the next call tries again). */
  private cached<K>(cache: Map<string, Promise<K>>, key: string, create: () => Promise<K>): Promise<K> {
    let kernels = cache.get(key);
    if (!kernels) {
      kernels = create();
      kernels.catch(() => cache.delete(key));
      cache.set(key, kernels);
      this.ctx.pipelines.whenCompiled(key, kernels);
    }
    return kernels;
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
}
