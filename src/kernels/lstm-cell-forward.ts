/** Wrapper of shaders/lstm-cell-forward.wgsl: the fused LSTM step (gates i, f, g, o; c updated in place). */
import source from '../../shaders/lstm-cell-forward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { CellStepKernel, type CellVariant } from './recurrent-step.js';

export const LSTM_CELL_FORWARD = 'lstm-cell-forward';

export function createLstmCellForward(ctx: GpuContext, variant: CellVariant): Promise<CellStepKernel> {
  return CellStepKernel.create(ctx, {
    name: LSTM_CELL_FORWARD,
    source,
    gates: 4,
    defines: {},
    constants: {},
    extra: 'c',
    batchTile: variant.batchTile,
    training: variant.training ?? false,
    savedSlots: 6,
    entryPoints: ['main'],
  });
}
