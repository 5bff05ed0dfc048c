/** Wrapper of shaders/mse-loss.wgsl: per-row loss shares and the gradient of the read-out output. */
import source from '../../shaders/mse-loss.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';

export const MSE_LOSS = 'mse-loss';

/** Rows per workgroup (the shader's WG). */
export const LOSS_WORKGROUP = 64;

export function createMseLoss(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: MSE_LOSS,
    source,
    bindings: [
      { name: 'y', access: 'read' },
      { name: 'targets', access: 'read' },
      { name: 'mask', access: 'read' },
      { name: 'lossRows', access: 'read_write' },
      { name: 'dY', access: 'read_write' },
    ],
    constants: { WG: LOSS_WORKGROUP },
  });
}
