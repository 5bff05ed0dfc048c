/**
 * Wrapper of shaders/dropout.wgsl: y = x ⊙ mask for one mask of src/spec/dropout.ts,
 * applied to a layer's output in a training forward pass and to its gradient in the backward.
 */
import source from '../../shaders/dropout.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { dropoutThreshold } from '../spec/dropout.js';
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

/** The uniform of a mask over `n` elements with drop probability `p` and keys `keys` (dropoutKeys). */
export function dropoutParams(kernel: Kernel, n: number, p: number, keys: readonly [number, number], target?: ArrayBuffer, byteOffset = 0): ArrayBuffer {
  return kernel.params({ n, threshold: dropoutThreshold(p), k0: keys[0], k1: keys[1], scale: 1 / (1 - p) }, target, byteOffset);
}
