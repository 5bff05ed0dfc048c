/**
 * Wrapper of shaders/gru-cell-forward.wgsl: the fused GRU step (gates r, z, n). With
 * `linearBeforeReset` (PyTorch's form) one dispatch per step; without it (ONNX's default
 * linear_before_reset = 0) two (shaders/gru-cell-forward-two-phase.wgsl), since W_hn·(r⊙h)
 * needs r of every unit first.
 */
import source from '../../shaders/gru-cell-forward.wgsl?raw';
import twoPhaseSource from '../../shaders/gru-cell-forward-two-phase.wgsl?raw';
import { WebRnnError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { CellStepKernel, type CellVariant } from './recurrent-step.js';
import { cellConstants } from './step-source.js';

export const GRU_CELL_FORWARD = 'gru-cell-forward';

export function createGruCellForward(ctx: GpuContext, linearBeforeReset: boolean, variant: CellVariant): Promise<CellStepKernel> {
  if (variant.training && !linearBeforeReset) {
    return Promise.reject(new WebRnnError('invalid-option', 'gru: gradients are not available for linearBeforeReset: false (ONNX linear_before_reset = 0)'));
  }
  return CellStepKernel.create(ctx, {
    name: GRU_CELL_FORWARD,
    source: linearBeforeReset ? source : twoPhaseSource,
    gates: 3,
    defines: {},
    extraBias: 0,
    constants: variant.cell ? cellConstants(variant.cell, false) : {},
    extra: linearBeforeReset ? null : 'rh',
    batchTile: variant.batchTile,
    persistent: variant.persistent ?? false,
    // The two-phase form stages h_{t-1} and r⊙h in both of its phases: no DIRECT variant.
    direct: linearBeforeReset && (variant.direct ?? false),
    workgroup: variant.workgroup,
    hidden: variant.hidden,
    subgroups: variant.subgroups,
    cooperative: variant.cooperative,
    tiled: variant.tiled,
    half: variant.half,
    training: variant.training ?? false,
    savedSlots: linearBeforeReset ? 5 : 0,
    entryPoints: linearBeforeReset ? ['main'] : ['resetGate', 'main'],
  });
}
