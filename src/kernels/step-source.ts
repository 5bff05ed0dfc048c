/**
 * The forward step's WGSL put together from its parts for each form of the product (staged,
 * cooperative, tiled, direct, resident), the cell-function constants, and the checks and
 * shapes of the GPU's cooperative and tiled forms. CellStepKernel (recurrent-step.ts) builds
 * its pipelines from these.
 */
import sharedSource from '../../shaders/common/step-shared.wgsl?raw';
import forwardSource from '../../shaders/common/step-forward.wgsl?raw';
import cellFunctionsSource from '../../shaders/common/cell-functions.wgsl?raw';
import stagedSource from '../../shaders/common/step-staged.wgsl?raw';
import stepMainSource from '../../shaders/common/step-main.wgsl?raw';
import stepHooksSource from '../../shaders/common/step-hooks.wgsl?raw';
import weightsSource from '../../shaders/common/step-weights.wgsl?raw';
import { cooperativeCachesWeights, cooperativeShape, type CooperativeShape } from './cooperative.js';
import { WebRnnError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import type { ResolvedCellOptions } from '../spec/cell-functions.js';
import { preprocessWgsl } from '../gpu/shader.js';
import type { SoftwareSources } from './software-sources.js';
import type { GpuFormSources } from './gpu-form-sources.js';
import type { CellKernelSpec } from './recurrent-step.js';

/** The forms of the forward step's recurrent product. */
export type ForwardForm = 'staged' | 'cooperative' | 'tiled' | 'direct' | 'resident';

/**
 * The tiled form's tile (shaders/common/step-tiled.wgsl): `units` units by 4 `quads` rows a
 * workgroup, one invocation per unit and 4 rows, input units in slabs of `k`. The columns are
 * those of the GEMM's tile (16 units of 4 gates: 64 columns, DEFAULT_MATMUL_TILES) over 16 rows
 * rather than 64, so that a batch of 64 at H = 512 makes 128 workgroups, not 32 (D13).
 */
export const TILED_STEP = Object.freeze({ units: 16, quads: 4, k: 16 });

/** Batch rows a workgroup of the tiled form takes. */
export const TILED_STEP_ROWS = 4 * TILED_STEP.quads;

/** Throw unless `spec` can take the tiled form: a GPU's per-step kernel of a one-phase cell, batch-tiled. */
export function checkTiled(spec: CellKernelSpec): void {
  const why = spec.persistent ? 'the persistent kernel' : spec.direct ? 'the direct product' : !spec.batchTile ? 'one row a workgroup (it is a batch-tiled form)' : spec.entryPoints.length !== 1 ? 'two phases a step' : null;
  if (why) throw new WebRnnError('invalid-option', `${spec.name}: the tiled form does not take ${why}`);
}

/** The override constants of shaders/common/cell-functions.wgsl for `cell` (plus INPUT_FORGET where the shader has it). */
export function cellConstants(cell: ResolvedCellOptions, lstm: boolean): Record<string, number> {
  const c: Record<string, number> = {
    ACT_F: cell.f.code,
    ALPHA_F: cell.f.alpha,
    BETA_F: cell.f.beta,
    ACT_G: cell.g.code,
    ALPHA_G: cell.g.alpha,
    BETA_G: cell.g.beta,
    ACT_H: cell.h.code,
    ALPHA_H: cell.h.alpha,
    BETA_H: cell.h.beta,
    SAME_DIRECTIONS: cell.sameDirections ? 1 : 0,
    ACT_F_R: cell.reverse.f.code,
    ALPHA_F_R: cell.reverse.f.alpha,
    BETA_F_R: cell.reverse.f.beta,
    ACT_G_R: cell.reverse.g.code,
    ALPHA_G_R: cell.reverse.g.alpha,
    BETA_G_R: cell.reverse.g.beta,
    ACT_H_R: cell.reverse.h.code,
    ALPHA_H_R: cell.reverse.h.alpha,
    BETA_H_R: cell.reverse.h.beta,
    CLIP: cell.clip,
  };
  if (lstm) c.INPUT_FORGET = cell.inputForget ? 1 : 0;
  return c;
}

/** What forwardStepSource takes besides the spec and the form. */
export interface ForwardSourceOptions {
  /** Lanes sharing loads in the resident form (subgroups where above 1; default 1). */
  lanes?: number;
  /** The software forms' sources (software-sources.ts), for the direct and resident forms. */
  software?: SoftwareSources | null;
  /** The table's GPU forms' sources (gpu-form-sources.ts), for the cooperative and tiled forms. */
  gpu?: GpuFormSources | null;
  /** The cooperative form keeps W_hh in workgroup memory (WCACHE). */
  cacheWeights?: boolean;
}

/** The forms whose WGSL loads on first use, and from which module. */
export function lazySourcesOf(form: ForwardForm): 'software' | 'gpu' | null {
  return form === 'direct' || form === 'resident' ? 'software' : form === 'cooperative' || form === 'tiled' ? 'gpu' : null;
}

/**
 * The forward step's WGSL for `spec` in `form`, but the resident form's generated product:
 * the shared uniform and index maps, the forward bindings, the cell functions, the form's
 * product and hooks, the cell's step and, for a one-phase cell in the staged and direct forms,
 * the entry point (shaders/common/step-main.wgsl; the cooperative and tiled forms have their
 * own). The direct product runs one step a dispatch; the persistent kernel's software form is
 * the resident one (residentForm).
 */
export function forwardStepSource(spec: CellKernelSpec, form: ForwardForm, options: ForwardSourceOptions = {}): { code: string; defines: Record<string, boolean> } {
  const { lanes = 1, cacheWeights = false } = options;
  const gated = spec.gates > 1;
  const onePhase = spec.entryPoints.length === 1;
  const need = <S>(sources: S | null | undefined, what: string): S => {
    if (!sources) throw new WebRnnError('invalid-option', `${spec.name}: the ${form} form needs the ${what} forms' sources`);
    return sources;
  };
  const sw = (): SoftwareSources => need(options.software, 'software');
  const gpu = (): GpuFormSources => need(options.gpu, "GPU's table");
  const ownStep = form === 'direct' || form === 'resident' ? spec.softwareSources?.[form] : undefined;
  const cell = ownStep ? sw()[ownStep] : spec.source;
  const parts = [sharedSource, forwardSource, cellFunctionsSource];
  if (form === 'cooperative') parts.push(weightsSource, gpu().stepCooperative, cell);
  else if (form === 'tiled') parts.push(stepHooksSource, weightsSource, gpu().stepTiled, cell);
  else if (form === 'staged') parts.push(stepHooksSource, weightsSource, stagedSource, cell, ...(onePhase ? [stepMainSource] : []));
  else if (form === 'direct') parts.push(stepHooksSource, sw().stepDirect, cell, stepMainSource);
  else parts.push(sw().residentWeights, sw().residentMain, sw().stepResident, ...(gated ? [sw().stepResidentGates] : []), cell);
  // GATES3: the GRU's software products skip whhT's padding gate.
  const defines = { ...spec.defines, GATED: gated, GATES3: (form === 'direct' || form === 'resident') && spec.gates === 3, BATCH_TILE: spec.batchTile, TRAINING: spec.training, PERSISTENT: spec.persistent ?? false, SUBGROUPS: lanes > 1, HALF: spec.half ?? false, WCACHE: cacheWeights };
  return { code: (lanes > 1 ? 'enable subgroups;\n' : '') + preprocessWgsl(parts.join('\n'), defines), defines };
}

/** The cooperative form's shape for `spec` on this device, and whether it keeps W_hh in workgroup memory; or an error naming what rules the form out. */
export function checkCooperative(ctx: GpuContext, spec: CellKernelSpec): CooperativeShape & { cachesWeights: boolean } {
  const why = spec.direct ? 'the direct product' : spec.batchTile ? 'the batch tile' : spec.entryPoints.length !== 1 ? 'two phases a step' : spec.hidden === undefined ? 'no hidden size' : null;
  if (why) throw new WebRnnError('invalid-option', `${spec.name}: the cooperative form does not take ${why}`);
  const shape = cooperativeShape(spec.hidden!, Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX));
  if (!shape) throw new WebRnnError('invalid-option', `${spec.name}: hidden size ${spec.hidden} does not fit the cooperative form's workgroup on this device`);
  return { ...shape, cachesWeights: cooperativeCachesWeights(spec.hidden!, spec.gates > 1, spec.half ?? false, shape.workgroup, ctx.limits.maxComputeWorkgroupStorageSize) };
}
