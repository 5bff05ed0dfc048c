/** Wrapper of shaders/rnn-cell-backward.wgsl: the Elman backward step (dG = dh·act′). */
import source from '../../shaders/rnn-cell-backward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { CellBackwardKernel, type CellBackwardVariant } from './recurrent-step-backward.js';
import type { Nonlinearity } from '../spec/spec.js';
import { NONLINEARITY_CODE } from './rnn-cell-forward.js';

export const RNN_CELL_BACKWARD = 'rnn-cell-backward';

export function createRnnCellBackward(ctx: GpuContext, nonlinearity: Nonlinearity, variant: CellBackwardVariant = {}): Promise<CellBackwardKernel> {
  return CellBackwardKernel.create(ctx, {
    name: RNN_CELL_BACKWARD,
    source,
    gates: 1,
    savedSlots: 1,
    constants: { NONLINEARITY: NONLINEARITY_CODE[nonlinearity] },
    carry: null,
    recurrentGrad: false,
    direct: variant.direct,
    batchTile: variant.batchTile,
    wideTile: variant.wideTile,
    persistent: variant.persistent,
    hidden: variant.hidden,
    subgroups: variant.subgroups,
    tiled: variant.tiled,
  });
}
