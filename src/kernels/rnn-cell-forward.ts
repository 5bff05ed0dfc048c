/** Wrapper of shaders/rnn-cell-forward.wgsl: the fused Elman step h_t = act(xproj + b_hh + h_{t−1}·W_hhᵀ). */
import source from '../../shaders/rnn-cell-forward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { CellStepKernel, type CellVariant } from './recurrent-step.js';

export const RNN_CELL_FORWARD = 'rnn-cell-forward';

/** Elman nonlinearities; `identity` makes the linear state-space recurrence. */
export type Nonlinearity = 'tanh' | 'relu' | 'identity';

/** Value of the shader's NONLINEARITY override for each nonlinearity. */
export const NONLINEARITY_CODE: Readonly<Record<Nonlinearity, number>> = { tanh: 0, relu: 1, identity: 2 };

export function createRnnCellForward(ctx: GpuContext, nonlinearity: Nonlinearity, variant: CellVariant): Promise<CellStepKernel> {
  return CellStepKernel.create(ctx, {
    name: RNN_CELL_FORWARD,
    source,
    gates: 1,
    defines: {},
    extraBias: 0,
    constants: { NONLINEARITY: NONLINEARITY_CODE[nonlinearity] },
    extra: null,
    batchTile: variant.batchTile,
    training: variant.training ?? false,
    savedSlots: 0,
    entryPoints: ['main'],
  });
}
