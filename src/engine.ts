/**
 * The engine: one backend (WebGPU: one GPU device) and the models made on it.
 */
import { ShapeError, WebRnnError } from './errors.js';
import { planFromStateDict, type LoadOptions } from './io/load.js';
import { importOnnx, looksLikeOnnx, OnnxModel } from './io/onnx-model.js';
import { planFromTfjs, type TfjsModelSource } from './io/tfjs.js';
import { exportOnnx } from './io/onnx-export.js';
import { looksLikeSafetensors, readSafetensors, writeSafetensors } from './io/safetensors.js';
import { measureCeilings, type CeilingOptions, type Ceilings } from './diagnostics/ceilings.js';
import { WebGpuBackend } from './backends/webgpu/backend.js';
import { GpuContext, type AdapterDescription, type GpuOptions } from './gpu/device.js';
import { RecurrentModel, type ModelWriters, type WarmupOptions } from './model/recurrent-model.js';
import { DEFAULT_PLACEMENT, resolvePlacement, type PlacementTable } from './placement/table.js';
import { parameterInfo, resolveSpec, type CellKind, type GruOptions, type LstmOptions, type RnnOptions } from './spec/spec.js';
import { checkFinite } from './arrays.js';

/** Options of {@link createEngine}. */
export interface EngineOptions extends GpuOptions {
  /**
   * Overrides of the thresholds that pick kernel forms for `persistent: 'auto'` models
   * (placement/table.ts; each default is a measured decision in docs/decisions.md).
   */
  placement?: Partial<PlacementTable>;
}

/** The file writers every model is given (io/). */
const WRITERS: ModelWriters = { safetensors: writeSafetensors, onnx: exportOnnx };

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

  private make(kind: CellKind, options: RnnOptions & GruOptions & LstmOptions): RecurrentModel {
    if (this.destroyed) throw new WebRnnError('destroyed', `engine.${kind}: the engine has been destroyed`);
    this.ctx.check();
    const spec = resolveSpec(kind, options);
    const model = new RecurrentModel(spec, this.backend.createModel(spec), (m) => this.models.delete(m), WRITERS);
    this.models.add(model);
    return model;
  }

  /** An Elman RNN (`nonlinearity` tanh, relu or identity), PyTorch's `nn.RNN`. */
  rnn(options: RnnOptions): RecurrentModel {
    return this.make('rnn', options);
  }

  /** An LSTM, PyTorch's `nn.LSTM` (no projections; ONNX's peepholes as an option). */
  lstm(options: LstmOptions): RecurrentModel {
    return this.make('lstm', options);
  }

  /** A GRU, PyTorch's `nn.GRU` (or ONNX's linear_before_reset = 0 form with `linearBeforeReset: false`). */
  gru(options: GruOptions): RecurrentModel {
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
   * Nothing is left behind on error.
   */
  load(source: TfjsModelSource, options?: LoadOptions): Promise<RecurrentModel>;
  load(source: Uint8Array | ArrayBuffer | string, options: LoadOptions & { format: 'onnx' }): Promise<OnnxModel>;
  load(source: Uint8Array | ArrayBuffer | string, options: LoadOptions & { format: 'safetensors' | 'tfjs' }): Promise<RecurrentModel>;
  load(source: Uint8Array | ArrayBuffer | string, options?: LoadOptions): Promise<RecurrentModel | OnnxModel>;
  async load(source: Uint8Array | ArrayBuffer | string | TfjsModelSource, options: LoadOptions = {}): Promise<RecurrentModel | OnnxModel> {
    if (this.destroyed) throw new WebRnnError('destroyed', 'engine.load: the engine has been destroyed');
    const format = options.format;
    if (format !== undefined && format !== 'safetensors' && format !== 'onnx' && format !== 'tfjs') {
      throw new WebRnnError('invalid-option', `load: format must be 'safetensors', 'onnx' or 'tfjs', got '${String(format)}'`);
    }
    const wrongFormat = (found: string): never => {
      throw new WebRnnError('invalid-file', `load: the file is ${found}, not ${format} as the format option says`);
    };
    if (typeof source === 'string' && (format === 'tfjs' || (format === undefined && /\.json(\?.*)?$/.test(source)))) source = await fetchTfjs(source);
    if (typeof source === 'object' && source !== null && !(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
      if (format !== undefined && format !== 'tfjs') wrongFormat('a TensorFlow.js model');
      return this.loadTfjs(source, options);
    }
    const bytes = await fileBytes(source, 'load');
    if (this.destroyed) throw new WebRnnError('destroyed', 'engine.load: the engine has been destroyed');
    if (looksLikeSafetensors(bytes)) return format === undefined || format === 'safetensors' ? this.loadSafetensors(bytes, options) : wrongFormat('safetensors');
    if (looksLikeOnnx(bytes)) return format === undefined || format === 'onnx' ? importOnnx(this, bytes) : wrongFormat('an ONNX model');
    throw new WebRnnError('invalid-file', `load: ${format ? `not ${format === 'onnx' ? 'an ONNX model' : `a ${format} file`}` : 'neither a safetensors file nor an ONNX model'} (TensorFlow.js: pass { json, weights } or the model.json URL)`);
  }

  /** A PyTorch `state_dict` saved as safetensors (see {@link Engine.load}). */
  private loadSafetensors(bytes: Uint8Array, options: LoadOptions): RecurrentModel {
    const file = readSafetensors(bytes);
    const shapes: Record<string, number[]> = {};
    for (const [name, t] of Object.entries(file.tensors)) shapes[name] = t.shape;
    const plan = planFromStateDict(shapes, options);
    const spec = resolveSpec(plan.kind, plan.options);
    const dict: Record<string, Float32Array> = {};
    for (const p of parameterInfo(spec)) {
      const theirs = plan.names[p.name];
      const t = file.tensors[theirs];
      if (!t) throw new WebRnnError('state-dict', `load: '${theirs}' missing from the file`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) throw new ShapeError(theirs, p.shape, t.shape);
      if (options.checkFinite ?? true) checkFinite(theirs, t.data);
      dict[p.name] = t.data;
    }
    const model = this.make(plan.kind, plan.options);
    try {
      model.loadStateDict(dict);
    } catch (e) {
      model.destroy();
      throw e;
    }
    model.fileNames = plan.names;
    return model;
  }

  /** A TensorFlow.js layers model (see io/tfjs.ts); nothing is left behind on error. */
  private loadTfjs(source: TfjsModelSource, options: LoadOptions): RecurrentModel {
    for (const key of ['nonlinearity', 'prefix', 'readout', 'ignoreUnknown'] as const) {
      if (options[key] !== undefined) throw new WebRnnError('invalid-option', `load: ${key} is an option of safetensors files, not of TensorFlow.js models`);
    }
    const plan = planFromTfjs(source);
    const modelOptions = { ...plan.options };
    if (options.seed !== undefined) modelOptions.seed = options.seed;
    if (options.batchFirst !== undefined) modelOptions.batchFirst = options.batchFirst;
    if (options.returnSequences !== undefined) modelOptions.returnSequences = options.returnSequences;
    if (options.checkFinite ?? true) for (const [name, t] of Object.entries(plan.dict)) checkFinite(name, t);
    const model = this.make(plan.kind, modelOptions);
    try {
      model.loadStateDict(plan.dict);
    } catch (e) {
      model.destroy();
      throw e;
    }
    return model;
  }

  /**
   * An ONNX model (bytes or a URL): RNN, LSTM and GRU nodes on the GPU, the glue around them
   * (Transpose, Squeeze/Unsqueeze, Reshape, Concat, Gather, Slice, Gemm, MatMul, Add,
   * Constant, Identity, Shape, ConstantOfShape, Expand, Cast) on the CPU. The same as
   * {@link Engine.load} on an ONNX file, typed.
   */
  async loadOnnx(source: Uint8Array | ArrayBuffer | string): Promise<OnnxModel> {
    if (this.destroyed) throw new WebRnnError('destroyed', 'engine.loadOnnx: the engine has been destroyed');
    const bytes = await fileBytes(source, 'loadOnnx');
    if (this.destroyed) throw new WebRnnError('destroyed', 'engine.loadOnnx: the engine has been destroyed');
    return importOnnx(this, bytes);
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
  const { placement, ...gpu } = options ?? {};
  const table = resolvePlacement(placement);
  return new Engine(await GpuContext.create(gpu), table);
}

/** The bytes of a file given as bytes or as a URL to fetch. */
async function fileBytes(source: Uint8Array | ArrayBuffer | string, what: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== 'string') throw new WebRnnError('invalid-option', `${what}: file bytes (Uint8Array or ArrayBuffer) or a URL expected`);
  let response: Response;
  try {
    response = await fetch(source);
  } catch (e) {
    throw new WebRnnError('invalid-file', `${what}: fetching ${source} failed: ${(e as Error).message}`);
  }
  if (!response.ok) throw new WebRnnError('invalid-file', `${what}: fetching ${source} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Fetch a tfjs model.json and its weight shards (paths relative to the model.json URL). */
async function fetchTfjs(url: string): Promise<TfjsModelSource> {
  const get = async (u: string): Promise<Response> => {
    const r = await fetch(u);
    if (!r.ok) throw new WebRnnError('invalid-file', `load: fetching ${u} failed: HTTP ${r.status}`);
    return r;
  };
  const json = (await (await get(url)).json()) as { weightsManifest?: Array<{ paths?: string[] }> };
  const paths = (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []);
  const weights = await Promise.all(paths.map(async (p) => (await get(new URL(p, new URL(url, 'http://base/')).href.replace('http://base', ''))).arrayBuffer()));
  return { json, weights };
}
