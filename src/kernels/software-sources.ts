/**
 * The WGSL of the kernel forms that run only on software adapters (shaders/software/: the
 * direct products, the resident forms, the GEMM's direct entry point). The kernel modules load
 * this module the first time they build such a form, so that a page on a GPU, or on the wasm
 * backend, never downloads them.
 */
import matmulDirect from '../../shaders/software/matmul-direct.wgsl?raw';
import residentMain from '../../shaders/software/resident-main.wgsl?raw';
import residentWeights from '../../shaders/software/resident-weights.wgsl?raw';
import stepDirect from '../../shaders/software/step-direct.wgsl?raw';
import stepDirectElman from '../../shaders/software/step-direct-elman.wgsl?raw';
import stepResident from '../../shaders/software/step-resident.wgsl?raw';
import stepResidentElman from '../../shaders/software/step-resident-elman.wgsl?raw';
import stepResidentGates from '../../shaders/software/step-resident-gates.wgsl?raw';
import sweepDirect from '../../shaders/software/sweep-direct.wgsl?raw';
import sweepDirectTile from '../../shaders/software/sweep-direct-tile.wgsl?raw';
import sweepDirectWide from '../../shaders/software/sweep-direct-wide.wgsl?raw';
import sweepResident from '../../shaders/software/sweep-resident.wgsl?raw';
import sweepResidentElman from '../../shaders/software/sweep-resident-elman.wgsl?raw';
import sweepResidentGates from '../../shaders/software/sweep-resident-gates.wgsl?raw';

export const SOFTWARE_SOURCES = {
  matmulDirect,
  residentMain,
  residentWeights,
  stepDirect,
  stepDirectElman,
  stepResident,
  stepResidentElman,
  stepResidentGates,
  sweepDirect,
  sweepDirectTile,
  sweepDirectWide,
  sweepResident,
  sweepResidentElman,
  sweepResidentGates,
};

export type SoftwareSources = typeof SOFTWARE_SOURCES;
