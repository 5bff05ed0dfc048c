/**
 * Wrapper of shaders/dropout.wgsl: y = x ⊙ mask for one mask of src/spec/dropout.ts,
 * applied to a layer's output in a training forward pass and to its gradient in the backward.
 */
import source from '../../shaders/dropout.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';

export const DROPOUT = 'dropout';

/** Threads per workgroup (the shader's WG). */
export const DROPOUT_WORKGROUP = 256;

export function createDropout(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: DROPOUT,
    source,
    bindings: [
      { name: 'x', access: 'read' },
      { name: 'y', access: 'read_write' },
    ],
    dynamicUniform: true,
    constants: { WG: DROPOUT_WORKGROUP },
  });
}
