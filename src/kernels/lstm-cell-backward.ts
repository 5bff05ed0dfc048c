/** Wrapper of shaders/lstm-cell-backward.wgsl: the LSTM backward step (dc carried in place). */
import source from '../../shaders/lstm-cell-backward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { CellBackwardKernel, type CellBackwardVariant } from './recurrent-step-backward.js';

export const LSTM_CELL_BACKWARD = 'lstm-cell-backward';

export function createLstmCellBackward(ctx: GpuContext, variant: CellBackwardVariant = {}): Promise<CellBackwardKernel> {
  return CellBackwardKernel.create(ctx, { name: LSTM_CELL_BACKWARD, source, gates: 4, savedSlots: 6, constants: {}, carry: 'cells', recurrentGrad: false, direct: variant.direct, batchTile: variant.batchTile, wideTile: variant.wideTile, persistent: variant.persistent, hidden: variant.hidden, subgroups: variant.subgroups, tiled: variant.tiled });
}
