/**
 * The engine: one GPU device and the models made on it.
 */
import { WebRnnError } from './errors.js';
import { GpuContext, type AdapterDescription, type GpuOptions } from './gpu/device.js';
import { RecurrentModel } from './model/recurrent-model.js';
import { resolveSpec, type CellKind, type GruOptions, type RecurrentOptions, type RnnOptions } from './model/spec.js';

/** Options of {@link createEngine}. */
export type EngineOptions = GpuOptions;

export class Engine {
  private readonly models = new Set<RecurrentModel>();
  private destroyed = false;

  /** @internal Use {@link createEngine}. */
  constructor(private readonly ctx: GpuContext) {}

  /** The adapter in use. */
  get info(): AdapterDescription {
    return this.ctx.info;
  }

  /** The device's limits (sizes beyond them are refused with a LimitError). */
  get limits(): GPUSupportedLimits {
    return this.ctx.limits;
  }

  /** The underlying GPUDevice, for interoperation. */
  get device(): GPUDevice {
    return this.ctx.device;
  }

  private make(kind: CellKind, options: RnnOptions & GruOptions): RecurrentModel {
    if (this.destroyed) throw new WebRnnError('destroyed', `engine.${kind}: the engine has been destroyed`);
    this.ctx.check();
    const model = new RecurrentModel(this.ctx, resolveSpec(kind, options), (m) => this.models.delete(m));
    this.models.add(model);
    return model;
  }

  /** An Elman RNN (`nonlinearity` tanh, relu or identity), PyTorch's `nn.RNN`. */
  rnn(options: RnnOptions): RecurrentModel {
    return this.make('rnn', options);
  }

  /** An LSTM, PyTorch's `nn.LSTM` (no projections). */
  lstm(options: RecurrentOptions): RecurrentModel {
    return this.make('lstm', options);
  }

  /** A GRU, PyTorch's `nn.GRU` (or ONNX's linear_before_reset = 0 form with `linearBeforeReset: false`). */
  gru(options: GruOptions): RecurrentModel {
    return this.make('gru', options);
  }

  /** Compile the pipelines `model` needs ahead of its first forward. */
  warmup(model: RecurrentModel): Promise<void> {
    return model.warmup();
  }

  /** Destroy every model and the device (unless the device was passed in by the caller). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const m of [...this.models]) m.destroy();
    this.ctx.destroy();
  }
}

/**
 * Find a WebGPU adapter and device and return an engine on it: `navigator.gpu` in a browser,
 * the `webgpu` package (Dawn) in Node, retrying with SwiftShader's Vulkan driver when no
 * adapter is found. Fails with a GpuUnavailableError that lists what was tried.
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  return new Engine(await GpuContext.create(options));
}
