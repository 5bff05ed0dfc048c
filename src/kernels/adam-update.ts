/** Wrapper of shaders/adam-update.wgsl: Adam and AdamW, after clipping. */
import source from '../../shaders/adam-update.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';
import { UPDATE_WORKGROUP } from './sgd-update.js';

export const ADAM_UPDATE = 'adam-update';

export function createAdamUpdate(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: ADAM_UPDATE,
    source,
    bindings: [
      { name: 'param', access: 'read_write' },
      { name: 'grad', access: 'read' },
      { name: 'm1', access: 'read_write' },
      { name: 'm2', access: 'read_write' },
      { name: 'clip', access: 'read' },
    ],
    dynamicUniform: true,
    constants: { WG: UPDATE_WORKGROUP },
  });
}
