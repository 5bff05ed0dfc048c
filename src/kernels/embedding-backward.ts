/**
 * Wrapper of shaders/embedding-backward.wgsl: the embedding's gradient from the gradient of the
 * vectors read, over the rows embeddingRows (src/spec/embedding.ts) lists.
 */
import source from '../../shaders/embedding-backward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { Kernel } from './kernel.js';

export const EMBEDDING_BACKWARD = 'embedding-backward';
export const EMBEDDING_BACKWARD_WORKGROUP = 256;

export function createEmbeddingBackward(ctx: GpuContext): Promise<Kernel> {
  return Kernel.create(ctx, {
    name: EMBEDDING_BACKWARD,
    source,
    bindings: [
      { name: 'rows', access: 'read' },
      { name: 'dx', access: 'read' },
      { name: 'dE', access: 'read_write' },
    ],
    constants: { WG: EMBEDDING_BACKWARD_WORKGROUP },
  });
}
