/**
 * The engine: one backend (WebGPU: one GPU device; wasm: one WebAssembly memory and its
 * threads) and the models made on it.
 */
import { WebRnnError } from './errors.js';
import type { LoadOptions } from './io/load.js';
import type { OnnxModel } from './io/onnx-model.js';
import type { TfjsModelSource } from './io/tfjs.js';
import { writeSafetensors } from './io/safetensors.js';
import { measureCeilings, type CeilingOptions, type Ceilings } from './diagnostics/ceilings.js';
import { WebGpuBackend } from './backends/webgpu/backend.js';
import type { WasmBackend } from './backends/wasm/backend.js';
import type { WasmCeilingOptions, WasmCeilings } from './backends/wasm/ceilings.js';
import { GpuContext, type AdapterDescription, type GpuOptions } from './gpu/device.js';
import { GpuUnavailableError } from './errors.js';
import { chooseBackend } from './placement/backend.js';
import { isNode } from './platform.js';
import { checkOptions } from './model/calls.js';
import { RecurrentModel, type ModelWriters, type WarmupOptions } from './model/recurrent-model.js';
import { DEFAULT_PLACEMENT, resolvePlacement, type PlacementTable } from './placement/table.js';
import { resolveSpec, type CellKind, type GruOptions, type LstmOptions, type ModelSpec, type RnnOptions } from './spec/spec.js';
import { resolveStackSpec, type StackOptions } from './spec/stack.js';

/** Options of {@link createEngine}. */
export interface EngineOptions extends GpuOptions {
  /**
   * What runs the models: 'webgpu' (a GPU device), 'wasm' (WebAssembly SIMD on the CPU,
   * multi-threaded where SharedArrayBuffer is available), or 'auto' (default): WebGPU on a
   * hardware adapter, wasm where there is no adapter or only a software one (decision D10).
   * `engine.info` says which runs and why.
   */
  backend?: 'auto' | 'webgpu' | 'wasm';
  /**
   * wasm backend: threads, the calling one included (default: the machine's logical cores).
   * Threads need SharedArrayBuffer: in a page, cross-origin isolation (COOP and COEP headers);
   * without it the backend runs on one thread and `engine.info.threadNote` says so.
   */
  threads?: number;
  /** wasm backend: 'relaxed' (relaxed SIMD's fused multiply-add), 'plain', or 'auto' (default): relaxed where the runtime has it. */
  simd?: 'auto' | 'relaxed' | 'plain';
  /**
   * Overrides of the thresholds that pick kernel forms for `persistent: 'auto'` models
   * (placement/table.ts; each default is a measured decision in docs/decisions.md).
   */
  placement?: Partial<PlacementTable>;
}

/** The keys of LoadOptions. */
const LOAD_OPTIONS = ['format', 'nonlinearity', 'prefix', 'readout', 'batchFirst', 'returnSequences', 'seed', 'dropout', 'checkFinite', 'ignoreUnknown', 'embedding', 'paddingIdx', 'layers', 'weightPrecision'];

/** The keys of EngineOptions. */
const ENGINE_OPTIONS = ['placement', 'backend', 'threads', 'simd', 'powerPreference', 'device', 'adapter', 'onError', 'vulkanIcdPaths'];

/** What runs an engine's models, and why: a WebGPU adapter… */
export interface WebGpuEngineInfo extends AdapterDescription {
  backend: 'webgpu';
  /** Why this backend runs (asked for, or what 'auto' found). */
  reason: string;
}

/** …or the wasm backend. */
export interface WasmEngineInfo {
  backend: 'wasm';
  reason: string;
  runtime: 'browser' | 'node';
  /** Threads running each pass, the caller's included. */
  threads: number;
  /** Why `threads` is what it is (the machine's cores, as asked, or no SharedArrayBuffer here). */
  threadNote: string;
  /** 'relaxed': relaxed SIMD's fused multiply-add; 'plain': 128-bit SIMD multiplies and adds. */
  simd: 'relaxed' | 'plain';
  description: string;
}

export type EngineInfo = WebGpuEngineInfo | WasmEngineInfo;

/** The file writers every model is given (io/). */
// The ONNX writer (and protobufjs) loads when a model is first exported.
const WRITERS: ModelWriters = { safetensors: writeSafetensors, onnx: async (spec, dict) => (await import('./io/onnx-export.js')).exportOnnx(spec, dict) };

export class Engine {
  private readonly models = new Set<RecurrentModel>();
  private destroyed = false;
  /** What runs the models. */
  private readonly backend: WebGpuBackend | WasmBackend;
  /** The WebGPU backend's device context (null on the wasm backend). */
  private readonly ctx: GpuContext | null;

  /** @internal Use {@link createEngine}. */
  constructor(
    backend: GpuContext | WasmBackend,
    /** The thresholds that pick kernel forms on this engine (the defaults with the engine's overrides). */
    readonly placement: Readonly<PlacementTable> = DEFAULT_PLACEMENT,
    private readonly reason = 'asked for',
  ) {
    if (backend instanceof GpuContext) {
      this.ctx = backend;
      this.backend = new WebGpuBackend(backend, placement);
    } else {
      this.ctx = null;
      this.backend = backend;
    }
  }

  /** Which backend runs the models and why; on WebGPU, the adapter in use. */
  get info(): EngineInfo {
    if (this.ctx) return { ...this.ctx.info, backend: 'webgpu', reason: this.reason };
    const rt = (this.backend as WasmBackend).runtime;
    const runtime = isNode() ? 'node' : 'browser';
    return {
      backend: 'wasm',
      reason: this.reason,
      runtime,
      threads: rt.threads,
      threadNote: rt.threadNote,
      simd: rt.simd,
      description: `WebAssembly ${rt.simd === 'relaxed' ? 'relaxed ' : ''}SIMD, ${rt.threads} thread${rt.threads > 1 ? 's' : ''}`,
    };
  }

  /** The GPU context, or a clear error on the wasm backend naming what asked for it. */
  private gpu(what: string): GpuContext {
    if (!this.ctx) throw new WebRnnError('invalid-option', `engine.${what}: this engine runs on the wasm backend, which has no GPU device (createEngine({ backend: 'webgpu' }) for one)`);
    return this.ctx;
  }

  /** The device's limits (sizes beyond them are refused with a LimitError); WebGPU only. */
  get limits(): GPUSupportedLimits {
    return this.gpu('limits').limits;
  }

  /**
   * The GPU memory this engine's models hold now: `buffers`, the number of live GPU buffers
   * webrnn made on the device (parameters, optimizer state, and the buffers of each cached
   * forward, gradient, training and stream plan), and `bytes`, their total size. Compiled
   * pipelines, bind groups and shader modules are not buffers and are not counted, nor is
   * anything made on the device outside webrnn. A destroyed model or a closed stream
   * releases its buffers once the work it had queued is done, so the count drops then.
   * On the wasm backend: the live blocks of the engine's WebAssembly memory (every tensor of
   * its models, their plans and optimizer state, and the threads' control words) and their
   * bytes. A fresh object on each read.
   */
  get memory(): { buffers: number; bytes: number } {
    if (this.ctx) return this.ctx.memory;
    const { buffers, bytes } = (this.backend as WasmBackend).memory;
    return { buffers, bytes };
  }

  /** The underlying GPUDevice, for interoperation; WebGPU only. */
  get device(): GPUDevice {
    return this.gpu('device').device;
  }

  /** Throw where the backend can no longer run (its device lost). */
  private checkBackend(): void {
    this.ctx?.check();
  }

  /** Throw once the engine is destroyed; `what` names the call. */
  private assertOpen(what: string): void {
    if (this.destroyed) throw new WebRnnError('destroyed', `engine.${what}: the engine has been destroyed`);
  }

  /** A model of the spec `resolve` gives (after the engine's checks); `what` names the call. */
  private make<K extends CellKind>(what: string, resolve: () => ModelSpec): RecurrentModel<K> {
    if (this.destroyed) throw new WebRnnError('destroyed', `engine.${what}: the engine has been destroyed`);
    this.checkBackend();
    const spec = resolve();
    const model: RecurrentModel<K> = new RecurrentModel<K>(spec, this.backend.createModel(spec), () => this.models.delete(model), WRITERS);
    this.models.add(model);
    return model;
  }

  /** An Elman RNN (`nonlinearity` tanh, relu or identity), PyTorch's `nn.RNN`. */
  rnn(options: RnnOptions): RecurrentModel<'rnn'> {
    return this.make('rnn', () => resolveSpec('rnn', options));
  }

  /** An LSTM, PyTorch's `nn.LSTM` (its proj_size as `projSize`; ONNX's peepholes as an option). */
  lstm(options: LstmOptions): RecurrentModel<'lstm'> {
    return this.make('lstm', () => resolveSpec('lstm', options));
  }

  /**
   * A stack of recurrent layers that differ in cell, width or direction, as Keras models are
   * written (`LSTM(64, return_sequences=True)` → `GRU(32)` → `Dense`): `layers` lists them bottom
   * up, `{ kind, hiddenSize, bidirectional?, nonlinearity?, linearBeforeReset? }` each, and the
   * other options are the model's, as for `engine.lstm`. Layer k's parameters are named
   * `weight_ih_l{k}` etc. with its own shapes; h0, hN, c0 and cN hold each layer's
   * [D_k, B, H_k] in turn (cN and c0 the LSTM layers' only); `model.kind` is the last layer's.
   * A stack of alike layers is the model of that cell (engine.gru({ numLayers, … })).
   */
  stack(options: StackOptions): RecurrentModel {
    return this.make('stack', () => resolveStackSpec(options));
  }

  /** A GRU, PyTorch's `nn.GRU` (or ONNX's linear_before_reset = 0 form with `linearBeforeReset: false`). */
  gru(options: GruOptions): RecurrentModel<'gru'> {
    return this.make('gru', () => resolveSpec('gru', options));
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
   * An ONNX model (bytes or a URL): RNN, LSTM and GRU nodes on the engine's backend, the glue around them
   * (Transpose, Squeeze/Unsqueeze, Reshape, Concat, Gather, Slice, Gemm, MatMul, Add,
   * Constant, Identity, Shape, ConstantOfShape, Expand, Cast) in TypeScript. The same as
   * {@link Engine.load} on an ONNX file, typed.
   */
  async loadOnnx(source: Uint8Array | ArrayBuffer | string): Promise<OnnxModel> {
    this.assertOpen('loadOnnx');
    const { loadOnnxModel } = await import('./io/load-model.js');
    return loadOnnxModel(this, source, () => this.assertOpen('loadOnnx'));
  }

  /**
   * Measure what this engine's backend can do with webrnn's own kernels. WebGPU: the GEMM's rate
   * at square sizes, the cost of a dispatch, of a submit with a readback, and copy bandwidth
   * (diagnostics/ceilings.ts; seconds on a software adapter). wasm: the SIMD multiply-add peak
   * of a register-only loop on one thread and on all, and the GEMM's rate at square sizes with
   * its share of that peak (backends/wasm/ceilings.ts). `backend` tells the two apart.
   */
  measureCeilings(options: CeilingOptions & WasmCeilingOptions = {}): Promise<Ceilings | WasmCeilings> {
    if (this.destroyed) throw new WebRnnError('destroyed', 'engine.measureCeilings: the engine has been destroyed');
    if (!this.ctx) {
      const { runtime } = this.backend as WasmBackend;
      return import('./backends/wasm/ceilings.js').then(({ measureWasmCeilings }) => measureWasmCeilings(runtime, options));
    }
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
    if (this.ctx) this.ctx.destroy();
    else (this.backend as WasmBackend).destroy();
  }
}

/**
 * An engine on the backend `options.backend` asks for (default 'auto'):
 * - 'webgpu': a WebGPU adapter and device, `navigator.gpu` in a browser, the `webgpu` package
 *   (Dawn) in Node, retrying with SwiftShader's Vulkan driver when no adapter is found; fails
 *   with a GpuUnavailableError that lists what was tried.
 * - 'wasm': the WebAssembly SIMD kernels on `threads` threads.
 * - 'auto': WebGPU where a hardware adapter is found (a given `device` or `adapter` counts as
 *   one), the wasm backend otherwise (decision D10). `engine.info.reason` says why.
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  checkOptions('createEngine', options ?? {}, ENGINE_OPTIONS);
  const { placement, backend = 'auto', threads, simd, ...gpu } = options ?? {};
  if (!['auto', 'webgpu', 'wasm'].includes(backend)) throw new WebRnnError('invalid-option', `createEngine: backend must be 'auto', 'webgpu' or 'wasm', got '${String(backend)}'`);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) throw new WebRnnError('invalid-option', `createEngine: threads must be an integer from 1 to 256, got ${threads}`);
  if (simd !== undefined && !['auto', 'relaxed', 'plain'].includes(simd)) throw new WebRnnError('invalid-option', `createEngine: simd must be 'auto', 'relaxed' or 'plain', got '${String(simd)}'`);
  const table = resolvePlacement(placement);
  const wasm = async (reason: string): Promise<Engine> => {
    const { WasmBackend } = await import('./backends/wasm/backend.js');
    return new Engine(await WasmBackend.create({ threads, simd }), table, reason);
  };
  if (backend === 'wasm') return wasm('asked for');
  if (backend === 'webgpu' || gpu.device || gpu.adapter) return new Engine(await GpuContext.create(gpu), table, backend === 'webgpu' ? 'asked for' : 'a device or adapter was given');
  // 'auto': the adapter as the environment offers it (no retry with SwiftShader: it would be a software one).
  let ctx: GpuContext | null = null;
  let noAdapter: string | undefined;
  try {
    ctx = await GpuContext.create({ ...gpu, vulkanIcdPaths: gpu.vulkanIcdPaths ?? [] });
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
    noAdapter = e.message.split('\n')[0];
  }
  const { simdAvailable } = await import('./backends/wasm/module.js');
  const adapter = ctx && { software: ctx.info.software, description: [ctx.info.vendor, ctx.info.architecture, ctx.info.device, ctx.info.description].filter(Boolean).join(' ') };
  const choice = chooseBackend({ adapter, noAdapter, wasm: simdAvailable() });
  if (!choice) throw new GpuUnavailableError('createEngine: no WebGPU adapter, and this runtime has no WebAssembly SIMD for the wasm backend', noAdapter ? [noAdapter] : []);
  if (choice.backend === 'webgpu') return new Engine(ctx!, table, choice.reason);
  ctx?.destroy();
  return wasm(choice.reason);
}
