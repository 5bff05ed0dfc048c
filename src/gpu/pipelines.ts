/**
 * Compute pipelines, created once per device and reused. The cache key holds only
 * compile-time facts (shader name, the preprocessed code, entry point, override constants);
 * sizes travel in a uniform, so one pipeline serves every batch and hidden size, except the
 * persistent kernel's resident form, whose code is unrolled for one hidden size.
 */
import { GpuError } from '../errors.js';

/** What a pipeline is compiled from. */
export interface PipelineRequest {
  /** Kernel name: the shader's base name, also used as the pipeline label. */
  name: string;
  /** WGSL after preprocessing. */
  code: string;
  /** Preprocessor defines that produced `code` (the key holds the code itself). */
  defines?: Readonly<Record<string, boolean>>;
  entryPoint?: string;
  constants?: Readonly<Record<string, number>>;
  layout: GPUPipelineLayout;
  /** Identifies `layout` in the cache key; layouts are themselves cached by this key. */
  layoutKey: string;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly layouts = new Map<string, { bindGroup: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  /** Keys of kernel variants whose pipelines have all been created, or whose creation failed (see {@link whenCompiled}). */
  private readonly compiledVariants = new Set<string>();
  private readonly failedVariants = new Set<string>();

  constructor(private readonly device: GPUDevice) {}

  /** Number of distinct pipelines created so far. */
  get size(): number {
    return this.pipelines.size;
  }

  /**
   * Record the kernel variant `key` (a key its user makes from everything its code depends on)
   * as compiled once `kernels` resolves, or as failed once it rejects, for every model of this
   * device to see through {@link compiled} and {@link failed}. The error itself is left to those
   * who await `kernels`.
   */
  whenCompiled(key: string, kernels: Promise<unknown>): void {
    kernels.then(
      () => {
        this.failedVariants.delete(key);
        this.compiledVariants.add(key);
      },
      () => this.failedVariants.add(key),
    );
  }

  /** Whether the kernel variant `key` has compiled on this device (see {@link whenCompiled}). */
  compiled(key: string): boolean {
    return this.compiledVariants.has(key);
  }

  /** Whether the last compilation of the kernel variant `key` on this device failed (see {@link whenCompiled}). */
  failed(key: string): boolean {
    return this.failedVariants.has(key);
  }

  /** A bind group layout and its pipeline layout, created once per key. */
  layout(key: string, entries: GPUBindGroupLayoutEntry[]): { bindGroup: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.layouts.get(key);
    if (!l) {
      const bindGroup = this.device.createBindGroupLayout({ label: key, entries });
      const pipeline = this.device.createPipelineLayout({ label: key, bindGroupLayouts: [bindGroup] });
      l = { bindGroup, pipeline };
      this.layouts.set(key, l);
    }
    return l;
  }

  get(req: PipelineRequest): Promise<GPUComputePipeline> {
    const entryPoint = req.entryPoint ?? 'main';
    const constants = JSON.stringify(Object.entries(req.constants ?? {}).sort());
    // The code rather than the defines: a generated part (the resident form's unrolled
    // product) makes the code depend on more than the defines.
    const moduleKey = `${req.name}|${req.code}`;
    const key = `${moduleKey}|${entryPoint}|${constants}|${req.layoutKey}`;
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(moduleKey);
      if (!module) {
        module = this.device.createShaderModule({ label: req.name, code: req.code });
        this.modules.set(moduleKey, module);
      }
      const label = entryPoint === 'main' ? req.name : `${req.name}:${entryPoint}`;
      p = this.device
        .createComputePipelineAsync({
          label,
          layout: req.layout,
          compute: { module, entryPoint, constants: req.constants as Record<string, number> | undefined },
        })
        .catch(async (e: unknown) => {
          this.pipelines.delete(key);
          const info = await module!.getCompilationInfo?.().catch(() => undefined);
          const messages = info?.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('\n') ?? '';
          throw new GpuError('gpu-error', `pipeline ${label} could not be created: ${(e as Error).message}\n${messages}`);
        });
      this.pipelines.set(key, p);
    }
    return p;
  }
}
