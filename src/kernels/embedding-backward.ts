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

/** u32 words of the rows buffer for V ids and N positions: slot [V], starts [N + 1], order [N]. */
export function embeddingRowsWords(V: number, N: number): { startsAt: number; orderAt: number; words: number } {
  return { startsAt: V, orderAt: V + N + 1, words: V + 2 * N + 1 };
}
