/** Wrapper of shaders/rnn-cell-forward.wgsl: the fused Elman step h_t = act(xproj + b_hh + h_{t−1}·W_hhᵀ). */
import source from '../../shaders/rnn-cell-forward.wgsl?raw';
import type { GpuContext } from '../gpu/device.js';
import { resolveCellOptions, type ResolvedCellOptions } from '../spec/cell-functions.js';
import type { Nonlinearity } from '../spec/spec.js';
import { CellStepKernel, type CellVariant } from './recurrent-step.js';
import { cellConstants } from './step-source.js';

export const RNN_CELL_FORWARD = 'rnn-cell-forward';

/** Value of the backward shader's NONLINEARITY override for each nonlinearity. */
export const NONLINEARITY_CODE: Readonly<Record<Nonlinearity, number>> = { tanh: 0, relu: 1, identity: 2 };

/** The Elman cell's function for each nonlinearity (the identity as Affine(1, 0)). */
export const NONLINEARITY_CELL: Readonly<Record<Nonlinearity, ResolvedCellOptions>> = {
  tanh: resolveCellOptions('rnn', undefined, { name: 'Tanh' }),
  relu: resolveCellOptions('rnn', undefined, { name: 'Relu' }),
  identity: resolveCellOptions('rnn', undefined, { name: 'Affine', alpha: 1, beta: 0 }),
};

/** `variant.cell` (ONNX's functions) replaces the nonlinearity's function when given. */
export function createRnnCellForward(ctx: GpuContext, nonlinearity: Nonlinearity, variant: CellVariant): Promise<CellStepKernel> {
  return CellStepKernel.create(ctx, {
    name: RNN_CELL_FORWARD,
    source,
    // The Elman cell's product is its own in every form: four units an invocation in the
    // direct form, all of an invocation's units a step in the resident form.
    softwareSources: { direct: 'stepDirectElman', resident: 'stepResidentElman' },
    gates: 1,
    defines: {},
    extraBias: 0,
    constants: cellConstants(variant.cell ?? NONLINEARITY_CELL[nonlinearity], false),
    extra: null,
    batchTile: variant.batchTile,
    persistent: variant.persistent ?? false,
    direct: variant.direct ?? false,
    // The direct form gives each invocation four units (see the shader); persistent has no direct form.
    unitsPerInvocation: variant.direct && !variant.persistent ? 4 : 1,
    workgroup: variant.workgroup,
    hidden: variant.hidden,
    subgroups: variant.subgroups,
    cooperative: variant.cooperative,
    tiled: variant.tiled,
    half: variant.half,
    training: variant.training ?? false,
    savedSlots: 0,
    entryPoints: ['main'],
  });
}
