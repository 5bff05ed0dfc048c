/**
 * Wrapper of shaders/gru-cell-backward.wgsl: the GRU backward step (PyTorch's reset-after
 * form), with separate input-side and recurrent-side gate gradients.
 */
import source from '../../shaders/gru-cell-backward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { CellBackwardKernel, type CellBackwardVariant } from './recurrent-step-backward.js';

export const GRU_CELL_BACKWARD = 'gru-cell-backward';

export function createGruCellBackward(ctx: GpuContext, variant: CellBackwardVariant = {}): Promise<CellBackwardKernel> {
  return CellBackwardKernel.create(ctx, { name: GRU_CELL_BACKWARD, source, gates: 3, savedSlots: 5, constants: {}, carry: 'states', recurrentGrad: true, direct: variant.direct, batchTile: variant.batchTile, wideTile: variant.wideTile, persistent: variant.persistent, hidden: variant.hidden, subgroups: variant.subgroups, tiled: variant.tiled });
}
