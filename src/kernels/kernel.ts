/**
 * A compute kernel with a fixed list of buffer bindings after its uniform (binding 0, the
 * `struct Params` of its shader, optionally with a dynamic offset): the common shape of the
 * loss, norm and optimizer kernels. Wrappers give the bindings' names and types; this class
 * compiles the pipelines, packs the uniform, makes bind groups and sizes 1-D dispatches.
 */
import { LimitError, WebRnnError } from '../errors.js';
import { ShaderStage } from '../gpu/constants.js';
import type { GpuContext } from '../gpu/device.js';
import { packUniform, parseUniformLayout, preprocessWgsl, type UniformLayout } from '../gpu/shader.js';

export interface KernelSpec {
  name: string;
  source: string;
  /** Buffer bindings 1, 2, … in order: name and access. */
  bindings: ReadonlyArray<{ name: string; access: 'read' | 'read_write' }>;
  entryPoints?: readonly string[];
  /** The uniform is bound with a dynamic offset (one slot per dispatch in a shared buffer). */
  dynamicUniform?: boolean;
  constants?: Record<string, number>;
}

export class Kernel {
  readonly uniformLayout: UniformLayout;
  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: KernelSpec,
    readonly pipelines: Readonly<Record<string, GPUComputePipeline>>,
    readonly bindGroupLayout: GPUBindGroupLayout,
  ) {
    this.uniformLayout = parseUniformLayout(spec.source);
  }

  static async create(ctx: GpuContext, spec: KernelSpec): Promise<Kernel> {
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: spec.dynamicUniform ?? false } },
      ...spec.bindings.map((b, i) => ({
        binding: i + 1,
        visibility: ShaderStage.COMPUTE,
        buffer: { type: (b.access === 'read' ? 'read-only-storage' : 'storage') as GPUBufferBindingType },
      })),
    ];
    const layoutKey = `${spec.name}:${spec.dynamicUniform ? 'dynamic' : 'static'}`;
    const layout = ctx.pipelines.layout(layoutKey, entries);
    const code = preprocessWgsl(spec.source, {});
    const entryPoints = spec.entryPoints ?? ['main'];
    const pipelines: Record<string, GPUComputePipeline> = {};
    await Promise.all(
      entryPoints.map(async (entryPoint) => {
        pipelines[entryPoint] = await ctx.pipelines.get({ name: spec.name, code, entryPoint, constants: spec.constants, layout: layout.pipeline, layoutKey });
      }),
    );
    return new Kernel(ctx, spec, pipelines, layout.bindGroup);
  }

  /** Packed uniform (every field of Params, by name). */
  params(values: Readonly<Record<string, number>>, target?: ArrayBuffer, byteOffset = 0): ArrayBuffer {
    return packUniform(this.uniformLayout, values, target, byteOffset);
  }

  /** A bind group of `uniform` and the named buffers (every binding of the spec). */
  bindGroup(uniform: { buffer: GPUBuffer; offset?: number }, buffers: Readonly<Record<string, GPUBuffer>>): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform.buffer, offset: uniform.offset ?? 0, size: this.uniformLayout.size } }];
    this.spec.bindings.forEach((b, i) => {
      const buffer = buffers[b.name];
      if (!buffer) throw new WebRnnError('invalid-option', `${this.spec.name}: buffer '${b.name}' missing`);
      entries.push({ binding: i + 1, resource: { buffer } });
    });
    for (const key of Object.keys(buffers)) {
      if (!this.spec.bindings.some((b) => b.name === key)) throw new WebRnnError('invalid-option', `${this.spec.name}: no binding '${key}'`);
    }
    return this.ctx.device.createBindGroup({ label: this.spec.name, layout: this.bindGroupLayout, entries });
  }

  /** Workgroups covering `n` invocations of `wg` threads, folded into y past the x limit. */
  workgroups1d(n: number, wg: number): [number, number, number] {
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const blocks = Math.max(1, Math.ceil(n / wg));
    const x = Math.min(blocks, max);
    const y = Math.ceil(blocks / x);
    if (y > max) throw new LimitError('maxComputeWorkgroupsPerDimension', y, max, `${this.spec.name}: ${n} elements`);
    return [x, y, 1];
  }

  /** Workgroups covering `n` invocations of its `WG` threads (the override constant every elementwise kernel takes). */
  workgroupsFor(n: number): [number, number, number] {
    const wg = this.spec.constants?.WG;
    if (!wg) throw new WebRnnError('invalid-option', `${this.spec.name}: no WG constant`);
    return this.workgroups1d(n, wg);
  }

  encode(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, workgroups: readonly [number, number, number], entryPoint = 'main', dynamicOffset?: number): void {
    const pipeline = this.pipelines[entryPoint];
    if (!pipeline) throw new WebRnnError('invalid-option', `${this.spec.name}: no entry point ${entryPoint}`);
    pass.setPipeline(pipeline);
    if (dynamicOffset === undefined) pass.setBindGroup(0, bindGroup);
    else pass.setBindGroup(0, bindGroup, [dynamicOffset]);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
  }
}
