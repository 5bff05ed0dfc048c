/** Wrapper of shaders/lstm-cell-forward.wgsl: the fused LSTM step (gates i, f, g, o; c updated in place). */
import source from '../../shaders/lstm-cell-forward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { CellStepKernel, type CellVariant } from './recurrent-step.js';
import { cellConstants } from './step-source.js';

export const LSTM_CELL_FORWARD = 'lstm-cell-forward';

/** `peepholes`: ONNX's peephole connections, read after b_hh in the bhh buffer. */
export function createLstmCellForward(ctx: GpuContext, variant: CellVariant & { peepholes?: boolean }): Promise<CellStepKernel> {
  return CellStepKernel.create(ctx, {
    name: LSTM_CELL_FORWARD,
    source,
    gates: 4,
    defines: { PEEPHOLE: variant.peepholes ?? false },
    extraBias: variant.peepholes ? 3 : 0,
    constants: variant.cell ? cellConstants(variant.cell, true) : {},
    extra: 'c',
    batchTile: variant.batchTile,
    persistent: variant.persistent ?? false,
    direct: variant.direct ?? false,
    workgroup: variant.workgroup,
    hidden: variant.hidden,
    subgroups: variant.subgroups,
    cooperative: variant.cooperative,
    tiled: variant.tiled,
    half: variant.half,
    training: variant.training ?? false,
    savedSlots: 6,
    entryPoints: ['main'],
  });
}
