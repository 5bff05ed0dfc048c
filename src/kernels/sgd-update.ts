/** Wrapper of shaders/sgd-update.wgsl: SGD with momentum, Nesterov and weight decay, after clipping. */
import source from '../../shaders/sgd-update.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';

export const SGD_UPDATE = 'sgd-update';

/** Threads per workgroup (the shader's WG). */
export const UPDATE_WORKGROUP = 64;

export function createSgdUpdate(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: SGD_UPDATE,
    source,
    bindings: [
      { name: 'param', access: 'read_write' },
      { name: 'grad', access: 'read' },
      { name: 'velocity', access: 'read_write' },
      { name: 'clip', access: 'read' },
    ],
    dynamicUniform: true,
    constants: { WG: UPDATE_WORKGROUP },
  });
}
