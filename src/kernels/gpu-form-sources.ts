/**
 * The WGSL of the GPU's kernel forms that the placement table turns on (the cooperative
 * persistent forward, D12; the tiled per-step forward and sweep, D13). The kernel modules load
 * this module the first time they build such a form, so that a page that never takes them
 * never downloads them.
 */
import stepCooperative from '../../shaders/common/step-cooperative.wgsl?raw';
import stepTiled from '../../shaders/common/step-tiled.wgsl?raw';
import sweepTiled from '../../shaders/common/sweep-tiled.wgsl?raw';

export const GPU_FORM_SOURCES = { stepCooperative, stepTiled, sweepTiled };

export type GpuFormSources = typeof GPU_FORM_SOURCES;
