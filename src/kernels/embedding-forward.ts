/** Wrapper of shaders/embedding-forward.wgsl: x = weight[ids], the first layer's input of a model that reads token ids. */
import source from '../../shaders/embedding-forward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';

export const EMBEDDING_FORWARD = 'embedding-forward';
export const EMBEDDING_WORKGROUP = 256;

export function createEmbeddingForward(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: EMBEDDING_FORWARD,
    source,
    bindings: [
      { name: 'ids', access: 'read' },
      { name: 'weight', access: 'read' },
      { name: 'x', access: 'read_write' },
    ],
    constants: { WG: EMBEDDING_WORKGROUP },
  });
}
