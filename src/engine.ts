/**
 * The engine: one backend (WebGPU: one GPU device) and the models made on it.
 */
import { WebRnnError } from './errors.js';
import type { LoadOptions } from './io/load.js';
import type { OnnxModel } from './io/onnx-model.js';
import type { TfjsModelSource } from './io/tfjs.js';
import { writeSafetensors } from './io/safetensors.js';
import { measureCeilings, type CeilingOptions, type Ceilings } from './diagnostics/ceilings.js';
import { WebGpuBackend } from './backends/webgpu/backend.js';
import { GpuContext, type AdapterDescription, type GpuOptions } from './gpu/device.js';
import { checkOptions } from './model/calls.js';
import { RecurrentModel, type ModelWriters, type WarmupOptions } from './model/recurrent-model.js';
import { DEFAULT_PLACEMENT, resolvePlacement, type PlacementTable } from './placement/table.js';
import { resolveSpec, type CellKind, type GruOptions, type LstmOptions, type RnnOptions } from './spec/spec.js';

/** Options of {@link createEngine}. */
export interface EngineOptions extends GpuOptions {
  /**
   * Overrides of the thresholds that pick kernel forms for `persistent: 'auto'` models
   * (placement/table.ts; each default is a measured decision in docs/decisions.md).
   */
  placement?: Partial<PlacementTable>;
}

/** The keys of LoadOptions. */
const LOAD_OPTIONS = ['format', 'nonlinearity', 'prefix', 'readout', 'batchFirst', 'returnSequences', 'seed', 'checkFinite', 'ignoreUnknown'];

/** The keys of EngineOptions. */
const ENGINE_OPTIONS = ['placement', 'powerPreference', 'device', 'adapter', 'onError', 'vulkanIcdPaths'];

/** The file writers every model is given (io/). */
// The ONNX writer (and protobufjs) loads when a model is first exported.
const WRITERS: ModelWriters = { safetensors: writeSafetensors, onnx: async (spec, dict) => (await import('./io/onnx-export.js')).exportOnnx(spec, dict) };

export class Engine {
  private readonly models = new Set<RecurrentModel>();
  private destroyed = false;
  /** What runs the models. */
  private readonly backend: WebGpuBackend;

  /** @internal Use {@link createEngine}. */
  constructor(
    private readonly ctx: GpuContext,
    /** The thresholds that pick kernel forms on this engine (the defaults with the engine's overrides). */
    readonly placement: Readonly<PlacementTable> = DEFAULT_PLACEMENT,
  ) {
    this.backend = new WebGpuBackend(ctx, placement);
  }

  /** The adapter in use. */
  get info(): AdapterDescription {
    return this.ctx.info;
  }

  /** The device's limits (sizes beyond them are refused with a LimitError). */
  get limits(): GPUSupportedLimits {
    return this.ctx.limits;
  }

  /**
   * The GPU memory this engine's models hold now: `buffers`, the number of live GPU buffers
   * webrnn made on the device (parameters, optimizer state, and the buffers of each cached
   * forward, gradient, training and stream plan), and `bytes`, their total size. Compiled
   * pipelines, bind groups and shader modules are not buffers and are not counted, nor is
   * anything made on the device outside webrnn. A destroyed model or a closed stream
   * releases its buffers once the work it had queued is done, so the count drops then.
   * A fresh object on each read.
   */
  get memory(): { buffers: number; bytes: number } {
    return this.ctx.memory;
  }

  /** The underlying GPUDevice, for interoperation. */
  get device(): GPUDevice {
    return this.ctx.device;
  }

  /** Throw once the engine is destroyed; `what` names the call. */
  private assertOpen(what: string): void {
    if (this.destroyed) throw new WebRnnError('destroyed', `engine.${what}: the engine has been destroyed`);
  }

  private make<K extends CellKind>(kind: K, options: RnnOptions & GruOptions & LstmOptions): RecurrentModel<K> {
    if (this.destroyed) throw new WebRnnError('destroyed', `engine.${kind}: the engine has been destroyed`);
    this.ctx.check();
    const spec = resolveSpec(kind, options);
    const model: RecurrentModel<K> = new RecurrentModel<K>(spec, this.backend.createModel(spec), () => this.models.delete(model), WRITERS);
    this.models.add(model);
    return model;
  }

  /** An Elman RNN (`nonlinearity` tanh, relu or identity), PyTorch's `nn.RNN`. */
  rnn(options: RnnOptions): RecurrentModel<'rnn'> {
    return this.make('rnn', options);
  }

  /** An LSTM, PyTorch's `nn.LSTM` (no projections; ONNX's peepholes as an option). */
  lstm(options: LstmOptions): RecurrentModel<'lstm'> {
    return this.make('lstm', options);
  }

  /** A GRU, PyTorch's `nn.GRU` (or ONNX's linear_before_reset = 0 form with `linearBeforeReset: false`). */
  gru(options: GruOptions): RecurrentModel<'gru'> {
    return this.make('gru', options);
  }

  /**
   * A model from a file, its format told from its contents:
   * - safetensors (bytes, or a URL): a PyTorch `state_dict`; kind, sizes, layers and directions
   *   from the names and shapes, any common prefix, and an nn.Linear read-out beside the
   *   recurrent module. Gives a {@link RecurrentModel}.
   * - ONNX (bytes, or a URL): a graph of RNN, LSTM and GRU nodes with the glue PyTorch's
   *   exporter writes around them. Gives an {@link OnnxModel}, with `run` (ONNX names and
   *   shapes) and `forward` (as for built models).
   * - TensorFlow.js layers models: `{ json, weights }` or the URL of a model.json. Gives a
   *   {@link RecurrentModel}.
   * A URL (in Node also a path or a file: URL) whose name ends in .onnx, .safetensors or .json
   * says the format, as `format` does, and types the result. Nothing is left behind on error.
   */
  load(source: TfjsModelSource, options?: LoadOptions): Promise<RecurrentModel>;
  load(source: `${string}.onnx`, options?: LoadOptions & { format?: 'onnx' }): Promise<OnnxModel>;
  load(source: `${string}.safetensors` | `${string}.json`, options?: LoadOptions & { format?: 'safetensors' | 'tfjs' }): Promise<RecurrentModel>;
  load(source: Uint8Array | ArrayBuffer | string, options: LoadOptions & { format: 'onnx' }): Promise<OnnxModel>;
  load(source: Uint8Array | ArrayBuffer | string, options: LoadOptions & { format: 'safetensors' | 'tfjs' }): Promise<RecurrentModel>;
  load(source: Uint8Array | ArrayBuffer | string, options?: LoadOptions): Promise<RecurrentModel | OnnxModel>;
  async load(source: Uint8Array | ArrayBuffer | string | TfjsModelSource, options: LoadOptions = {}): Promise<RecurrentModel | OnnxModel> {
    this.assertOpen('load');
    checkOptions('load', options, LOAD_OPTIONS);
    const { loadModel } = await import('./io/load-model.js');
    return loadModel(this, source, options, () => this.assertOpen('load'));
  }

  /**
   * An ONNX model (bytes or a URL): RNN, LSTM and GRU nodes on the GPU, the glue around them
   * (Transpose, Squeeze/Unsqueeze, Reshape, Concat, Gather, Slice, Gemm, MatMul, Add,
   * Constant, Identity, Shape, ConstantOfShape, Expand, Cast) on the CPU. The same as
   * {@link Engine.load} on an ONNX file, typed.
   */
  async loadOnnx(source: Uint8Array | ArrayBuffer | string): Promise<OnnxModel> {
    this.assertOpen('loadOnnx');
    const { loadOnnxModel } = await import('./io/load-model.js');
    return loadOnnxModel(this, source, () => this.assertOpen('loadOnnx'));
  }

  /**
   * Measure what this adapter can do with webrnn's own kernels: GEMM rate at square sizes, the
   * cost of a dispatch, of a submit with a readback, and copy bandwidth (see
   * diagnostics/ceilings.ts). Takes seconds on a software adapter.
   */
  measureCeilings(options: CeilingOptions = {}): Promise<Ceilings> {
    if (this.destroyed) throw new WebRnnError('destroyed', 'engine.measureCeilings: the engine has been destroyed');
    this.ctx.check();
    return measureCeilings(this.ctx, options);
  }

  /**
   * Compile the pipelines `model` needs ahead of its first forward (with `training`, of its
   * first gradient pass or training step too), for every batch variant: see
   * {@link RecurrentModel.warmup}.
   */
  warmup(model: RecurrentModel, options: WarmupOptions = {}): Promise<void> {
    return model.warmup(undefined, options);
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
  checkOptions('createEngine', options ?? {}, ENGINE_OPTIONS);
  const { placement, ...gpu } = options ?? {};
  const table = resolvePlacement(placement);
  return new Engine(await GpuContext.create(gpu), table);
}
