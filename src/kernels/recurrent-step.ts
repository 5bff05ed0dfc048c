/**
 * The part the three fused cell-step wrappers (rnn-, lstm-, gru-cell-forward) share: the
 * pipelines of the forward step in its form (the WGSL put together in step-source.ts), bind
 * group layout, uniform packing, dispatch size and the buffer-size checks. Each wrapper supplies its cell's shader,
 * gate count, defines, override constants and entry points.
 */
import sharedSource from '../../shaders/common/step-shared.wgsl?raw';
import { cooperativeShape, cooperativeWeightWords } from './cooperative.js';
import { LimitError, WebRnnError } from '../errors.js';
import { ShaderStage } from '../gpu/constants.js';
import type { GpuContext } from '../gpu/device.js';
import type { ResolvedCellOptions } from '../spec/cell-functions.js';
import { packedGateStride } from '../spec/spec.js';
import { packUniform, parseUniformLayout, type UniformLayout } from '../gpu/shader.js';
import type { SoftwareSources } from './software-sources.js';
import { checkCooperative, checkTiled, forwardStepSource, lazySourcesOf, TILED_STEP, TILED_STEP_ROWS, type ForwardForm } from './step-source.js';
import { MAX_INVOCATIONS, residentFits, residentLanes, residentProductSource, residentRowGroups, residentSplit, residentWorkgroup } from './resident.js';

/** Workgroup size along the hidden units (the `WG` override of the shaders). */
export const CELL_WORKGROUP = 64;

/** Batch rows per workgroup with BATCH_TILE (the shaders' ROWS). */
export const BATCH_TILE_ROWS = 4;

/**
 * Invocations per workgroup of the persistent variant for hidden size H: one per unit up to
 * 256 (the guaranteed maxComputeInvocationsPerWorkgroup), in multiples of 64; larger H has
 * each invocation take several units.
 */
export function persistentWorkgroup(hidden: number): number {
  return Math.min(MAX_INVOCATIONS, Math.max(64, Math.ceil(hidden / 64) * 64));
}

/** Uniform layout of every step kernel, forward and backward: the Params struct of shaders/common/step-shared.wgsl. */
export const CELL_UNIFORM_LAYOUT: UniformLayout = parseUniformLayout(sharedSource);

/** The Params of dispatch `step` of layer `shape.layer`, for every step kernel (forward and backward). */
export function stepParams(shape: CellStepShape, step: number): Record<string, number> {
  return {
    batch: shape.batch,
    hidden: shape.hidden,
    seqLen: shape.seqLen,
    step,
    numDirections: shape.numDirections,
    stateBase: shape.stateBase,
    cellBase: shape.cellBase,
    lengthsOffset: shape.stateFloats,
  };
}

/** Workgroups (hidden blocks of `workgroup`, batch blocks of `rows`, directions), checked against the device limit. */
export function stepWorkgroups(ctx: GpuContext, name: string, shape: CellStepShape, rows: number, workgroup = CELL_WORKGROUP): [number, number, number] {
  const size: [number, number, number] = [Math.ceil(shape.hidden / workgroup), Math.ceil(shape.batch / rows), shape.numDirections];
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (size[0] > max) throw new LimitError('maxComputeWorkgroupsPerDimension', size[0], max, `${name}: hidden size ${shape.hidden} in blocks of ${workgroup}`);
  if (size[1] > max) throw new LimitError('maxComputeWorkgroupsPerDimension', size[1], max, `${name}: batch`);
  return size;
}

/** Throw unless every given binding holds the floats `extents` asks of it. */
export function checkExtents(name: string, extents: Readonly<Record<string, number>>, bindings: Readonly<Record<string, GPUBuffer | undefined>>): void {
  for (const [key, floats] of Object.entries(extents)) {
    const buf = bindings[key];
    if (buf && buf.size < floats * 4) {
      throw new WebRnnError('invalid-option', `${name}: ${key} (${buf.label}) holds ${buf.size / 4} floats, the shape needs ${floats}`);
    }
  }
}

/** Throw unless the layer's states (with `cells`, its cell states) lie inside the state buffers. */
export function checkStateRange(name: string, shape: CellStepShape, cells: boolean): void {
  const own = shape.numDirections * shape.batch * shape.hidden;
  if (shape.stateBase + own > shape.stateFloats) throw new WebRnnError('invalid-option', `${name}: states [${shape.stateBase}, ${shape.stateBase + own}) past the buffers' ${shape.stateFloats} floats`);
  if (cells && shape.cellBase + own > shape.cellFloats) throw new WebRnnError('invalid-option', `${name}: cell states [${shape.cellBase}, ${shape.cellBase + own}) past the buffers' ${shape.cellFloats} floats`);
}

/** Sizes of one layer's recurrence as the step kernels see them. */
export interface CellStepShape {
  batch: number;
  hidden: number;
  seqLen: number;
  numDirections: number;
  /**
   * The state buffers h0 and hN (gradHN, dh0; the GRU's sweep carry) hold every layer's
   * [D, B, H] in turn, stateFloats in all (h0 and gradHN then the lengths [B]); this layer's
   * start at float stateBase. The LSTM's cell states (c; the sweep's carry) hold the LSTM
   * layers' only, cellFloats in all, this layer's from cellBase (0 and 0 for other cells).
   */
  stateBase: number;
  stateFloats: number;
  cellBase: number;
  cellFloats: number;
}

export interface CellStepBindings {
  /** Uniform buffer holding one packed Params per step, `slotBytes` apart (dynamic offset). */
  uniform: GPUBuffer;
  xproj: GPUBuffer;
  whhT: GPUBuffer;
  bhh: GPUBuffer;
  /** Initial states (every layer's [D, B, H] in turn), then the sequence lengths [B] as f32. */
  h0: GPUBuffer;
  hseq: GPUBuffer;
  hN: GPUBuffer;
  /** LSTM: the cell states c (the LSTM layers' [D, B, H] in turn); GRU with linear_before_reset = 0: scratch r⊙h [D, B, H]. */
  extra?: GPUBuffer;
  /** Training variant of the LSTM and GRU: the activations saved for backward [T, B, D, S·H]. */
  saved?: GPUBuffer;
}

/** What a cell kernel is made of. */
export interface CellKernelSpec {
  name: string;
  /** The cell's step (cellStep) in the staged form, and in every form for the gated cells, whose product is the form's. */
  source: string;
  /** The Elman cell's own step in the software forms (software/step-direct-elman.wgsl, step-resident-elman.wgsl), in place of `source`: their names in software-sources.ts. */
  softwareSources?: { direct: keyof SoftwareSources; resident: keyof SoftwareSources };
  gates: number;
  defines: Record<string, boolean>;
  constants: Record<string, number>;
  /** The extra read-write buffer at binding 7, if the cell has one. */
  extra: 'c' | 'rh' | null;
  /** Entry points dispatched per step, in order. */
  entryPoints: readonly string[];
  /** The batch-tiled variant (BATCH_TILE_ROWS rows per workgroup) instead of one row. */
  batchTile: boolean;
  /** The training variant, which also writes the activations backward needs. */
  training: boolean;
  /** One dispatch runs every step of the layer (PERSISTENT), with `workgroup` invocations. */
  persistent?: boolean;
  /** The recurrent product reads h_{t-1} from memory, no workgroup staging (DIRECT; see CellVariant.direct). */
  direct?: boolean;
  /**
   * The hidden size the persistent direct form is built for (see CellVariant.hidden); that
   * form is used where `residentForm` says so, and its kernel serves this hidden size only.
   */
  hidden?: number;
  /** The resident form's subgroup sharing (see CellVariant.subgroups). */
  subgroups?: boolean;
  /** The persistent staged variant's cooperative form (see CellVariant.cooperative). */
  cooperative?: boolean;
  /** The per-step variant's tiled form (see CellVariant.tiled). */
  tiled?: boolean;
  /** W_hh read from half-precision pairs (see CellVariant.half). */
  half?: boolean;
  /** Hidden units each invocation of a per-step dispatch takes (default 1; the Elman cell's DIRECT form: 4). */
  unitsPerInvocation?: number;
  workgroup?: number;
  /** Activations saved per unit and step in training (0: the output sequence is enough). */
  savedSlots: number;
  /** Extra per-unit vectors after b_hh in the bhh buffer, per direction (LSTM peepholes: 3). */
  extraBias: number;
}

/** Variant options every cell kernel factory takes. */
export interface CellVariant {
  batchTile: boolean;
  /** Save the activations the backward sweep needs (default false). */
  training?: boolean;
  /** Cell functions, clip, input_forget (default: PyTorch's cell). */
  cell?: ResolvedCellOptions;
  /**
   * All steps of a layer in one dispatch, one workgroup per (row block, direction) keeping
   * its rows to itself (default false); `workgroup` invocations (see persistentWorkgroup).
   */
  persistent?: boolean;
  workgroup?: number;
  /**
   * Read h_{t-1} straight from memory in the recurrent product instead of staging it in
   * workgroup memory between barriers (default false; not with `persistent`, whose steps
   * share the staged tile). Faster on CPU adapters, where a barrier costs more than the loads.
   */
  direct?: boolean;
  /**
   * The model's hidden size, for the persistent variant with `direct`: where its weights fit
   * (residentFits), that variant keeps the W_hh weights of each invocation's units in
   * private memory and unrolls the product over the H input units (the RESIDENT form; see
   * shaders/software/step-resident.wgsl), so its kernel is built for this H alone, in a
   * workgroup of its own size (residentWorkgroup; `workgroup` is then unused).
   */
  hidden?: number;
  /**
   * The resident form's lanes share their loads of h_{t-1} through subgroup operations
   * (residentLanes): default where the device can, false never, true always (an error where
   * the device cannot).
   */
  subgroups?: boolean;
  /**
   * The persistent variant on GPUs (not `direct`), one row a workgroup (not `batchTile`), one
   * phase a step: each unit's recurrent sums split over several invocations (the COOPERATIVE
   * form, shaders/common/step-cooperative.wgsl), built for `hidden` (cooperativeShape; an
   * error where it does not fit the device). Default false.
   */
  cooperative?: boolean;
  /**
   * The per-step variant on GPUs (not `persistent`, not `direct`), with `batchTile`, one phase
   * a step: the step's product as a tiled GEMM of TILED_STEP's tile, W_hh and h_{t-1} both
   * staged in workgroup memory, the cell its epilogue (the TILED form,
   * shaders/common/step-tiled.wgsl), for large batch x hidden. Default false.
   */
  tiled?: boolean;
  /**
   * Read W_hh from half-precision pairs (HALF, common/step-weights.wgsl: a model with
   * weightPrecision 'f16' on a GPU), half the bytes a step: the staged, cooperative and tiled
   * forms of a one-phase cell; the whhT binding then holds packWhhTHalf's words. Default false.
   */
  half?: boolean;
}

/** Whether `spec` builds the tiled form (CellVariant.tiled). */
export function tiledForm(spec: CellKernelSpec): boolean {
  return spec.tiled ?? false;
}

/** Whether `spec` builds the cooperative form (CellVariant.cooperative). */
export function cooperativeForm(spec: CellKernelSpec): boolean {
  return (spec.cooperative ?? false) && (spec.persistent ?? false);
}

/**
 * Whether `spec` builds the persistent kernel's resident form: persistent with the direct
 * product (software adapters), one phase per step, and a hidden size whose weights and units
 * fit (residentFits; its workgroup holds every unit of its rows). Elsewhere the persistent
 * kernel stages h_{t-1} as on a GPU.
 */
export function residentForm(spec: CellKernelSpec): boolean {
  return (spec.persistent ?? false) && (spec.direct ?? false) && spec.entryPoints.length === 1 && spec.hidden !== undefined && residentFits(spec.hidden, spec.gates, spec.batchTile);
}

export class CellStepKernel {
  readonly uniformLayout = CELL_UNIFORM_LAYOUT;

  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: CellKernelSpec,
    readonly pipelines: readonly GPUComputePipeline[],
    readonly bindGroupLayout: GPUBindGroupLayout,
    /** The cooperative form keeps a direction's W_hh in workgroup memory (cooperativeCachesWeights), for hidden sizes up to spec.hidden. */
    readonly cachesWeights = false,
  ) {}

  static async create(ctx: GpuContext, spec: CellKernelSpec): Promise<CellStepKernel> {
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
    ];
    const types: GPUBufferBindingType[] = ['read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage'];
    types.forEach((type, i) => entries.push({ binding: i + 1, visibility: ShaderStage.COMPUTE, buffer: { type } }));
    if (spec.extra) entries.push({ binding: 7, visibility: ShaderStage.COMPUTE, buffer: { type: 'storage' } });
    const saves = spec.training && spec.savedSlots > 0;
    if (saves) entries.push({ binding: 8, visibility: ShaderStage.COMPUTE, buffer: { type: 'storage' } });
    const layoutKey = `recurrent-step${spec.extra ? '+extra' : ''}${saves ? '+saved' : ''}`;
    const layout = ctx.pipelines.layout(layoutKey, entries);
    const persistent = spec.persistent ?? false;
    const resident = residentForm(spec);
    const split = resident ? residentSplit(spec.hidden!, spec.gates, spec.batchTile) : undefined;
    const lanes = resident ? residentLanes(ctx, spec.subgroups) : 1;
    const cooperative = cooperativeForm(spec) ? checkCooperative(ctx, spec) : null;
    if (tiledForm(spec)) checkTiled(spec);
    const form: ForwardForm = resident ? 'resident' : cooperative ? 'cooperative' : tiledForm(spec) ? 'tiled' : spec.direct && !persistent ? 'direct' : 'staged';
    if (spec.half && (form === 'direct' || form === 'resident' || spec.entryPoints.length !== 1)) throw new WebRnnError('invalid-option', `${spec.name}: half-precision W_hh is read by the staged, cooperative and tiled forms of one-phase cells only, not the ${spec.entryPoints.length !== 1 ? 'two-phase' : form} form`);
    const lazy = lazySourcesOf(form);
    const software = lazy === 'software' ? (await import('./software-sources.js')).SOFTWARE_SOURCES : null;
    const gpu = lazy === 'gpu' ? (await import('./gpu-form-sources.js')).GPU_FORM_SOURCES : null;
    const { code, defines } = forwardStepSource(spec, form, { lanes, software, gpu, cacheWeights: cooperative?.cachesWeights ?? false });
    let workgroup = persistent ? (spec.workgroup ?? persistentWorkgroup(1)) : CELL_WORKGROUP;
    let full = code;
    if (split) {
      full += residentProductSource(spec.hidden!, split.units, spec.gates, split, lanes, true);
      workgroup = residentWorkgroup(spec.hidden!, split.units);
    }
    const formConstants: Record<string, number> = cooperative
      ? { SPLIT: cooperative.split, UNITS: cooperative.units, ...(cooperative.cachesWeights ? { CACHE_WORDS: cooperativeWeightWords(spec.hidden!, spec.gates > 1, spec.half ?? false) } : {}) }
      : form === 'tiled'
        ? { TILE_UNITS: TILED_STEP.units, TILE_QUADS: TILED_STEP.quads, TILE_K: TILED_STEP.k }
        : {};
    if (cooperative) workgroup = cooperative.workgroup;
    // The persistent variant has one entry point that runs every phase of every step.
    const entryPoints = persistent ? ['main'] : spec.entryPoints;
    const pipelines = await Promise.all(
      entryPoints.map((entryPoint) =>
        ctx.pipelines.get({
          name: spec.name,
          code: full,
          defines,
          entryPoint,
          constants: { WG: workgroup, ...formConstants, ...spec.constants },
          layout: layout.pipeline,
          layoutKey,
        }),
      ),
    );
    return new CellStepKernel(ctx, spec, pipelines, layout.bindGroup, cooperative?.cachesWeights ?? false);
  }

  get gates(): number {
    return this.spec.gates;
  }

  /** Batch rows per workgroup. */
  get rows(): number {
    return this.tiled ? TILED_STEP_ROWS : this.spec.batchTile ? BATCH_TILE_ROWS : 1;
  }

  /** Dispatches recorded per step (1, or 2 for the GRU's linear_before_reset = 0 form). */
  get dispatchesPerStep(): number {
    return this.pipelines.length;
  }

  /** Pack the Params of step `step` of `shape` into `target` at `byteOffset`. */
  packStep(shape: CellStepShape, step: number, target: ArrayBuffer, byteOffset: number): void {
    packUniform(this.uniformLayout, stepParams(shape, step), target, byteOffset);
  }

  /** True for the variant that runs all steps of a layer in one dispatch. */
  get persistent(): boolean {
    return this.spec.persistent ?? false;
  }

  /**
   * Workgroups of one step: (hidden blocks, batch blocks, directions); of the whole layer for
   * the persistent variant: (1, batch blocks, directions), the resident form's batch blocks at
   * most `rowGroups` (default residentRowGroups). Checked against the limit.
   */
  workgroups(shape: CellStepShape, rowGroups?: number): [number, number, number] {
    if (this.persistent) {
      const size = stepWorkgroups(this.ctx, this.spec.name, { ...shape, hidden: 1 }, this.rows);
      // The resident form walks row blocks y, y + size[1], ... in each workgroup (residentWalk).
      if (this.resident) size[1] = Math.min(size[1], rowGroups ?? residentRowGroups(this.ctx, shape.numDirections));
      return size;
    }
    if (this.tiled) return stepWorkgroups(this.ctx, this.spec.name, shape, this.rows, TILED_STEP.units);
    const units = this.spec.unitsPerInvocation ?? 1;
    return stepWorkgroups(this.ctx, this.spec.name, { ...shape, hidden: Math.ceil(shape.hidden / units) }, this.rows);
  }

  /** True when the kernel writes a `saved` buffer. */
  get savesActivations(): boolean {
    return this.spec.training && this.spec.savedSlots > 0;
  }

  /** Floats each binding must hold for `shape`. */
  extents(shape: CellStepShape): Record<keyof Omit<CellStepBindings, 'uniform'>, number> {
    const { batch: B, hidden: H, seqLen: T, numDirections: D, stateFloats } = shape;
    const G = this.spec.gates;
    return {
      xproj: T * B * D * G * H,
      // Half-precision pairs: a gated unit's gates in two words; the Elman cell's units two to a word.
      whhT: this.spec.half ? (G === 1 ? D * H * Math.ceil(H / 2) : D * H * H * 2) : D * H * H * packedGateStride(G),
      bhh: D * G * H + D * this.spec.extraBias * H,
      h0: stateFloats + B,
      hseq: T * B * D * H,
      hN: stateFloats,
      extra: this.spec.extra === 'c' ? shape.cellFloats : this.spec.extra === 'rh' ? D * B * H : 0,
      saved: this.savesActivations ? T * B * D * this.spec.savedSlots * H : 0,
    };
  }

  /** True for the per-step kernel's tiled form (the step's product as a tiled GEMM). */
  get tiled(): boolean {
    return tiledForm(this.spec);
  }

  /** True for the persistent kernel's cooperative form (one row a workgroup, each unit's sums split). */
  get cooperative(): boolean {
    return cooperativeForm(this.spec);
  }

  /** True for the persistent kernel's resident form, built for `spec.hidden` alone. */
  get resident(): boolean {
    return residentForm(this.spec);
  }

  /** Lanes that share the resident form's loads of h_{t-1} (residentLanes; 1 in every other form). */
  get lanes(): number {
    return this.resident ? residentLanes(this.ctx, this.spec.subgroups) : 1;
  }

  checkBuffers(shape: CellStepShape, b: CellStepBindings): void {
    if (this.cachesWeights && shape.hidden > this.spec.hidden!) throw new WebRnnError('invalid-option', `${this.spec.name}: this kernel keeps W_hh of hidden sizes up to ${this.spec.hidden} in workgroup memory, not ${shape.hidden}`);
    if (this.cooperative && shape.hidden > cooperativeShape(this.spec.hidden!, Infinity)!.units) throw new WebRnnError('invalid-option', `${this.spec.name}: this kernel is built for hidden sizes up to that of ${this.spec.hidden}, not ${shape.hidden}`);
    if (this.resident && shape.hidden !== this.spec.hidden) throw new WebRnnError('invalid-option', `${this.spec.name}: this kernel is built for hidden size ${this.spec.hidden}, not ${shape.hidden}`);
    checkStateRange(this.spec.name, shape, this.spec.extra === 'c');
    if (this.spec.extra && !b.extra) throw new WebRnnError('invalid-option', `${this.spec.name}: the ${this.spec.extra} buffer is missing`);
    if (this.savesActivations && !b.saved) throw new WebRnnError('invalid-option', `${this.spec.name}: the saved-activations buffer is missing`);
    checkExtents(this.spec.name, this.extents(shape), { ...b });
  }

  bindGroup(b: CellStepBindings): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: b.uniform, offset: 0, size: this.uniformLayout.size } },
      { binding: 1, resource: { buffer: b.xproj } },
      { binding: 2, resource: { buffer: b.whhT } },
      { binding: 3, resource: { buffer: b.bhh } },
      { binding: 4, resource: { buffer: b.h0 } },
      { binding: 5, resource: { buffer: b.hseq } },
      { binding: 6, resource: { buffer: b.hN } },
    ];
    if (this.spec.extra && b.extra) entries.push({ binding: 7, resource: { buffer: b.extra } });
    if (this.savesActivations && b.saved) entries.push({ binding: 8, resource: { buffer: b.saved } });
    return this.ctx.device.createBindGroup({ label: this.spec.name, layout: this.bindGroupLayout, entries });
  }

  /** Record one step: every entry point, with the step's uniform slot at `uniformOffset`. */
  encodeStep(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, uniformOffset: number, workgroups: readonly [number, number, number]): void {
    pass.setBindGroup(0, bindGroup, [uniformOffset]);
    for (const pipeline of this.pipelines) {
      pass.setPipeline(pipeline);
      pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
    }
  }
}
