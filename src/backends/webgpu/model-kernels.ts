/**
 * The kernels of a model layer by layer: one CellKernelSet per distinct cell among its layers
 * (kind, width and cell options; alike layers share one, whatever their directions), their
 * choices combined per pass into the forward and backward kernels the plans take. A combination
 * is made once and kept, so that a plan can tell by identity whether it still runs the kernels
 * the sets would choose now (the per-step kernels give way to a resident form once compiled).
 */
import type { GpuContext } from '../../gpu/device.js';
import type { Kernel } from '../../kernels/kernel.js';
import type { AdapterProfile } from '../../placement/rules.js';
import type { BackwardKernels } from '../../schedule/backward.js';
import type { ForwardKernels } from '../../schedule/forward.js';
import { layerSpec, type ModelSpec } from '../../spec/spec.js';
import { CellKernelSet, type LayerBackwardKernels, type LayerForwardKernels, type TrainKernels } from './kernel-set.js';

export class ModelKernels {
  /** Each layer's set (layers of one cell share it). */
  private readonly sets: CellKernelSet[];
  private readonly combined = new Map<string, ForwardKernels | BackwardKernels>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 0;

  constructor(ctx: GpuContext, spec: ModelSpec, profile: AdapterProfile) {
    const byCell = new Map<string, CellKernelSet>();
    this.sets = spec.layers.map((layer, l) => {
      const key = JSON.stringify([layer.kind, layer.hiddenSize, layer.nonlinearity, layer.linearBeforeReset, layer.cell]);
      let set = byCell.get(key);
      if (!set) byCell.set(key, (set = new CellKernelSet(ctx, layerSpec(spec, l), profile)));
      return set;
    });
  }

  /** Every layer's forward kernels for `batch` rows over `seqLen` steps (CellKernelSet.forward). */
  async forward(batch: number, seqLen: number, training = false, wait = false): Promise<ForwardKernels> {
    const layers = await Promise.all(this.sets.map((s) => s.forward(batch, seqLen, training, wait)));
    return this.combine('forward', layers) as ForwardKernels;
  }

  /** Every layer's backward kernels (CellKernelSet.backward). */
  async backward(batch: number, seqLen: number, wait = false): Promise<BackwardKernels> {
    const layers = await Promise.all(this.sets.map((s) => s.backward(batch, seqLen, wait)));
    return this.combine('backward', layers) as BackwardKernels;
  }

  /** The loss, gradient-norm and optimizer kernels (one cell's set serves: they are the model's). */
  train(loss: 'mse' | 'cross-entropy', optimizer: 'sgd' | 'adam' | 'adamw'): Promise<TrainKernels> {
    return this.sets[0].train(loss, optimizer);
  }

  embedding(): Promise<[Kernel, Kernel]> {
    return this.sets[0].embedding();
  }

  dropout(): Promise<Kernel> {
    return this.sets[0].dropout();
  }

  async warmup(batches: readonly number[], training: boolean): Promise<void> {
    await Promise.all([...new Set(this.sets)].map((s) => s.warmup(batches, training)));
  }

  /** The one combination of these layers' kernels (by the kernels' identity). */
  private combine(direction: string, layers: ReadonlyArray<LayerForwardKernels | LayerBackwardKernels>): ForwardKernels | BackwardKernels {
    const key = `${direction}:${layers.map((k) => this.id(k.cell)).join(',')}`;
    let c = this.combined.get(key);
    if (!c) {
      c = { matmul: layers[0].matmul, cells: layers.map((k) => k.cell) } as ForwardKernels | BackwardKernels;
      this.combined.set(key, c);
    }
    return c;
  }

  private id(o: object): number {
    let n = this.ids.get(o);
    if (n === undefined) this.ids.set(o, (n = this.nextId++));
    return n;
  }
}
