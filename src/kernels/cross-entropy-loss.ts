/** Wrapper of shaders/cross-entropy-loss.wgsl: per-row loss shares and the gradient of the read-out output. */
import source from '../../shaders/cross-entropy-loss.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';
import { LOSS_WORKGROUP } from './mse-loss.js';

export const CROSS_ENTROPY_LOSS = 'cross-entropy-loss';

export function createCrossEntropyLoss(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: CROSS_ENTROPY_LOSS,
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
