/**
 * Wrapper of shaders/grad-norm.wgsl: the global L2 norm of the gradients and the clipping
 * factor min(1, maxNorm / (norm + 1e-6)), kept on the GPU in a 2-float `clip` buffer.
 */
import source from '../../shaders/grad-norm.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';

export const GRAD_NORM = 'grad-norm';

/** Threads per workgroup (the shader's WG, a power of two). */
export const GRAD_NORM_WORKGROUP = 256;

/** Partial sums one tensor contributes: one per workgroup, one workgroup per 256 floats, at most `limit`. */
export function gradNormWorkgroups(count: number, limit = 64): number {
  return Math.min(limit, Math.max(1, Math.ceil(count / GRAD_NORM_WORKGROUP)));
}

/**
 * The most workgroups one tensor's partial pass takes on `ctx`: 64 on a GPU, 2 on a software
 * adapter, where each barrier of the reduction switches through all its invocations
 * (decision D7 in docs/decisions.md).
 */
export function gradNormWorkgroupLimit(ctx: GpuContext): number {
  return ctx.info.software ? 2 : 64;
}

export function createGradNorm(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: GRAD_NORM,
    source,
    bindings: [
      { name: 'grad', access: 'read' },
      { name: 'partials', access: 'read_write' },
      { name: 'clip', access: 'read_write' },
    ],
    entryPoints: ['partial', 'finish'],
    dynamicUniform: true,
    constants: { WG: GRAD_NORM_WORKGROUP },
  });
}
