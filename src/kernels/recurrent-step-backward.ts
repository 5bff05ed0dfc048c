/**
 * The part the three backward step wrappers (rnn-, lstm-, gru-cell-backward) share: the
 * sweep's WGSL put together from its parts (the shared uniform and index maps, the backward
 * bindings, one form of the product through W_hh, the cell's unitStep), bind group layout,
 * uniform packing, dispatch size and buffer-size checks. One dispatch per step and one more
 * (step T) for dh0, or (the resident form) one dispatch for all of them.
 */
import sharedSource from '../../shaders/common/step-shared.wgsl?raw';
import backwardSource from '../../shaders/common/step-backward.wgsl?raw';
import stagedSource from '../../shaders/common/sweep-staged.wgsl?raw';
import { WebRnnError } from '../errors.js';
import { ShaderStage } from '../gpu/constants.js';
import type { GpuContext } from '../gpu/device.js';
import { packUniform, preprocessWgsl, type UniformLayout } from '../gpu/shader.js';
import { packedGateStride } from '../spec/spec.js';
import { BATCH_TILE_ROWS, CELL_UNIFORM_LAYOUT, CELL_WORKGROUP, checkExtents, checkStateRange, stepParams, stepWorkgroups, type CellStepShape } from './recurrent-step.js';
import type { SoftwareSources } from './software-sources.js';
import type { GpuFormSources } from './gpu-form-sources.js';
import { TILED_STEP, TILED_STEP_ROWS } from './step-source.js';
import { residentFits, residentLanes, residentProductSource, residentRowGroups, residentSplit, residentWorkgroup } from './resident.js';

/** Uniform layout of the backward step kernels: the forward's (shaders/common/step-shared.wgsl). */
export const CELL_BACKWARD_UNIFORM_LAYOUT: UniformLayout = CELL_UNIFORM_LAYOUT;

export interface CellBackwardBindings {
  /** Uniform buffer holding one packed Params per dispatch (dynamic offset). */
  uniform: GPUBuffer;
  /** Saved activations [T, B, D, S·H] (Elman: the layer's output sequence). */
  saved: GPUBuffer;
  whhT: GPUBuffer;
  /** Gradient of the layer's output [T, B, D·H]. */
  dy: GPUBuffer;
  /** Gradient of hN (hN's layout), then the sequence lengths [B] (f32). */
  gradHN: GPUBuffer;
  /** Gate pre-activation gradients [T, B, D, G·H] ([T + 1, …] where they are the recurrent side too). */
  dG: GPUBuffer;
  /** Gradient of h0 (h0's layout; written by the last dispatch). */
  dh0: GPUBuffer;
  /** LSTM: dc (gradCN in, dc0 out; the cell states' layout); GRU: the direct path z·dh (hN's layout). */
  carry?: GPUBuffer;
  /** GRU: recurrent-side gate gradients [T + 1, B, D, G·H] (written; slot T: each row's initial step). */
  dGrec?: GPUBuffer;
}

export interface CellBackwardSpec {
  name: string;
  source: string;
  gates: number;
  /** Floats saved per unit and step by the training forward (1 for Elman: its output). */
  savedSlots: number;
  constants: Record<string, number>;
  /** The sweep keeps a per-unit state at binding 7: 'cells' (the LSTM's dc, in the cell states' layout, cellIndex), 'states' (the GRU's z·dh, in hN's, stateIndex), or none. */
  carry: 'cells' | 'states' | null;
  recurrentGrad: boolean;
  /** The DIRECT product: the later gradients read from memory, not staged (see placement/rules.ts directProduct). */
  direct?: boolean;
  /** With `direct`: 4 rows per workgroup (BATCH_TILE) instead of one. */
  batchTile?: boolean;
  /** With `direct`: 8 rows and 8 units an invocation (WIDE_TILE), instead of `batchTile`'s 4 × 4. */
  wideTile?: boolean;
  /** The resident form: the whole sweep of a layer in one dispatch (see CellBackwardVariant.persistent). */
  persistent?: boolean;
  /** With `persistent`: the hidden size it is built for. */
  hidden?: number;
  /** With `persistent`: share the loads of the later gradients through subgroup operations (see CellBackwardVariant.subgroups). */
  subgroups?: boolean;
  /** The staged product's tiled form (see CellBackwardVariant.tiled). */
  tiled?: boolean;
}

/** Variant options of the backward step factories. */
export interface CellBackwardVariant {
  /** The DIRECT product instead of the staged one (default false; see placement/rules.ts directProduct). */
  direct?: boolean;
  /**
   * With `direct`: each invocation takes its unit in 4 rows, so each W_hh load serves 4 rows
   * (default false; worth it from 4 rows, see useBatchTile). The staged product has one row.
   */
  batchTile?: boolean;
  /**
   * With `direct`, for batches of 8 or more (see useWideTile): each invocation takes 8 units of
   * 8 rows, so that each load serves twice the multiply-adds of the 4 × 4 tile; dispatched in
   * workgroups of WIDE_TILE_WORKGROUP. Default false; it takes precedence over `batchTile`.
   */
  wideTile?: boolean;
  /**
   * With `direct`: the whole sweep of a layer in one dispatch, in the resident form (W_hh in
   * each invocation's private memory and function variables, the product unrolled over H; see
   * shaders/software/sweep-resident.wgsl), built for hidden size `hidden` alone, whose
   * weights must fit (residentFits: up to 512; one workgroup holds every unit). Default false.
   */
  persistent?: boolean;
  hidden?: number;
  /**
   * With `persistent`: the lanes share their loads of the later gradients through subgroup
   * operations (residentLanes): default where the device can (not for the gated cells'
   * batch tile), false never, true always (an error where it cannot).
   */
  subgroups?: boolean;
  /**
   * Without `direct` (GPUs), for large batch × hidden: the dispatch's product through W_hh as a
   * tiled GEMM of TILED_STEP's tile, the later gradients and W_hh both staged in workgroup
   * memory, unitStep its epilogue (shaders/common/sweep-tiled.wgsl). Default false.
   */
  tiled?: boolean;
}

/** Rows and units of the wide tile, and its workgroup size (small, so that a step's few invocations spread over workgroups). */
export const WIDE_TILE_ROWS = 8;
export const WIDE_TILE_WORKGROUP = 16;

/** The parts of each form of the sweep, after the shared and backward files, for a gated cell or the Elman cell (the software forms' from software-sources.ts). */
const SWEEP_FORMS: Readonly<Record<'staged' | 'tiled' | 'tile' | 'wide' | 'resident', (gated: boolean, sw: SoftwareSources, gpu: GpuFormSources) => string[]>> = {
  staged: () => [stagedSource],
  tiled: (_, __, gpu) => [gpu.sweepTiled],
  tile: (_, sw) => [sw.sweepDirect, sw.sweepDirectTile],
  wide: (_, sw) => [sw.sweepDirect, sw.sweepDirectWide],
  resident: (gated, sw) => [sw.residentWeights, sw.residentMain, sw.sweepResident, gated ? sw.sweepResidentGates : sw.sweepResidentElman],
};

export class CellBackwardKernel {
  readonly uniformLayout = CELL_BACKWARD_UNIFORM_LAYOUT;

  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: CellBackwardSpec,
    readonly pipeline: GPUComputePipeline,
    readonly bindGroupLayout: GPUBindGroupLayout,
  ) {}

  static async create(ctx: GpuContext, spec: CellBackwardSpec): Promise<CellBackwardKernel> {
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: ShaderStage.COMPUTE, buffer: { type } });
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
      entry(1, 'read-only-storage'),
      entry(2, 'read-only-storage'),
      entry(3, 'read-only-storage'),
      entry(4, 'read-only-storage'),
      entry(5, 'storage'),
      entry(6, 'storage'),
    ];
    if (spec.carry) entries.push(entry(7, 'storage'));
    if (spec.recurrentGrad) entries.push(entry(8, 'storage'));
    const layoutKey = `recurrent-step-backward${spec.carry ? '+carry' : ''}${spec.recurrentGrad ? '+dGrec' : ''}`;
    const layout = ctx.pipelines.layout(layoutKey, entries);
    const direct = spec.direct ?? false;
    const resident = spec.persistent ?? false;
    let workgroup = CELL_WORKGROUP;
    if (resident) {
      const H = spec.hidden ?? 0;
      if (!direct || !residentFits(H, spec.gates, spec.batchTile ?? false)) {
        throw new WebRnnError('invalid-option', `${spec.name}: the persistent sweep needs the direct product and a hidden size whose weights fit (residentFits: 1 to 512 for every cell), got ${spec.hidden} (direct ${direct})`);
      }
    }
    const tiled = spec.tiled ?? false;
    if (tiled && (direct || resident)) throw new WebRnnError('invalid-option', `${spec.name}: the tiled sweep does not take the ${direct ? 'direct product' : 'persistent sweep'}`);
    const wide = direct && !resident && (spec.wideTile ?? false);
    if (wide) workgroup = WIDE_TILE_WORKGROUP;
    // GATES3: the GRU's resident sweep keeps three floats a weight (see the shader).
    // Subgroup sharing of sRes (residentLanes), except where its elements are matrices (the
    // gated cells' batch tile), which subgroupBroadcast does not take.
    const matrices = spec.gates > 1 && (spec.batchTile ?? false);
    if (resident && matrices && spec.subgroups === true) throw new WebRnnError('invalid-option', `${spec.name}: the batch-tiled resident sweep of a gated cell has no subgroup form`);
    const lanes = resident && !matrices ? residentLanes(ctx, spec.subgroups) : 1;
    const form = resident ? 'resident' : wide ? 'wide' : direct ? 'tile' : tiled ? 'tiled' : 'staged';
    const defines = { GATED: spec.gates > 1, GATES3: resident && spec.gates === 3, BATCH_TILE: direct && (wide || (spec.batchTile ?? false)), SUBGROUPS: lanes > 1 };
    // The software forms' and the table's GPU forms' sources load on first use.
    const software = form === 'staged' || form === 'tiled' ? null : (await import('./software-sources.js')).SOFTWARE_SOURCES;
    const gpu = form === 'tiled' ? (await import('./gpu-form-sources.js')).GPU_FORM_SOURCES : null;
    let code = (lanes > 1 ? 'enable subgroups;\n' : '') + preprocessWgsl([sharedSource, backwardSource, ...SWEEP_FORMS[form](spec.gates > 1, software!, gpu!), spec.source].join('\n'), defines);
    if (resident) {
      // The forward's split, a weight being as many floats as the cell has gates (the GRU's
      // three with GATES3): the same units and arrays, the same generated product (its private
      // budget also leaves room for an accumulator, which the sweep does not keep).
      const split = residentSplit(spec.hidden!, spec.gates, spec.batchTile ?? false);
      code += residentProductSource(spec.hidden!, split.units, spec.gates, split, lanes);
      workgroup = residentWorkgroup(spec.hidden!, split.units);
    }
    const pipeline = await ctx.pipelines.get({
      name: spec.name,
      code,
      defines,
      constants: { WG: workgroup, ...(tiled ? { TILE_UNITS: TILED_STEP.units, TILE_QUADS: TILED_STEP.quads, TILE_K: TILED_STEP.k } : {}), ...spec.constants },
      layout: layout.pipeline,
      layoutKey,
    });
    return new CellBackwardKernel(ctx, spec, pipeline, layout.bindGroup);
  }

  get gates(): number {
    return this.spec.gates;
  }

  /** Batch rows per workgroup: 8 for the direct product's wide tile, 4 for its batch tile, TILED_STEP_ROWS for the tiled form, else 1. */
  get rows(): number {
    if (this.wide) return WIDE_TILE_ROWS;
    if (this.tiled) return TILED_STEP_ROWS;
    return this.spec.direct && this.spec.batchTile ? BATCH_TILE_ROWS : 1;
  }

  /** True for the direct product's wide tile (8 units of 8 rows an invocation). */
  get wide(): boolean {
    return (this.spec.direct ?? false) && !this.persistent && (this.spec.wideTile ?? false);
  }

  /** True for the staged product's tiled form (the product through W_hh as a tiled GEMM). */
  get tiled(): boolean {
    return this.spec.tiled ?? false;
  }

  /** True for the resident form: one dispatch runs every step of the sweep (T + 1 otherwise). */
  get persistent(): boolean {
    return this.spec.persistent ?? false;
  }

  /** Lanes that share the resident sweep's loads of the later gradients (residentLanes; 1 with the gated cells' batch tile and in the per-step forms). */
  get lanes(): number {
    return this.persistent && !(this.spec.gates > 1 && (this.spec.batchTile ?? false)) ? residentLanes(this.ctx, this.spec.subgroups) : 1;
  }

  /** Pack the Params of dispatch `step` (0 … T; T forms dh0) into `target` at `byteOffset`. */
  packStep(shape: CellStepShape, step: number, target: ArrayBuffer, byteOffset: number): void {
    packUniform(this.uniformLayout, stepParams(shape, step), target, byteOffset);
  }

  /**
   * Workgroups of one dispatch: (hidden blocks, batch blocks of `rows`, directions), checked
   * against the limit; with the direct product each invocation takes four hidden units. The
   * resident form: (1, batch blocks, directions), its batch blocks at most `rowGroups` (default
   * residentRowGroups), each workgroup walking its blocks in turn.
   */
  workgroups(shape: CellStepShape, rowGroups?: number): [number, number, number] {
    // The direct product gives each invocation four units (eight with the wide tile); the
    // resident form has one workgroup of units.
    if (this.persistent) {
      const size = stepWorkgroups(this.ctx, this.spec.name, { ...shape, hidden: 1 }, this.rows);
      size[1] = Math.min(size[1], rowGroups ?? residentRowGroups(this.ctx, shape.numDirections));
      return size;
    }
    if (this.wide) return stepWorkgroups(this.ctx, this.spec.name, { ...shape, hidden: Math.ceil(shape.hidden / 8) }, this.rows, WIDE_TILE_WORKGROUP);
    if (this.tiled) return stepWorkgroups(this.ctx, this.spec.name, shape, this.rows, TILED_STEP.units);
    const hidden = this.spec.direct ? Math.ceil(shape.hidden / 4) : shape.hidden;
    return stepWorkgroups(this.ctx, this.spec.name, { ...shape, hidden }, this.rows);
  }

  extents(shape: CellStepShape): Record<keyof Omit<CellBackwardBindings, 'uniform'>, number> {
    const { batch: B, hidden: H, seqLen: T, numDirections: D, stateFloats } = shape;
    const G = this.spec.gates;
    return {
      saved: T * B * D * this.spec.savedSlots * H,
      whhT: D * H * H * packedGateStride(G),
      dy: T * B * D * H,
      gradHN: stateFloats + B,
      // The recurrent-side buffer has one more time slot: each row's initial step again.
      dG: (this.spec.recurrentGrad ? T : T + 1) * B * D * G * H,
      dh0: stateFloats,
      carry: this.spec.carry === 'cells' ? shape.cellFloats : this.spec.carry === 'states' ? stateFloats : 0,
      dGrec: this.spec.recurrentGrad ? (T + 1) * B * D * G * H : 0,
    };
  }

  checkBuffers(shape: CellStepShape, b: CellBackwardBindings): void {
    if (this.persistent && shape.hidden !== this.spec.hidden) throw new WebRnnError('invalid-option', `${this.spec.name}: this kernel is built for hidden size ${this.spec.hidden}, not ${shape.hidden}`);
    if (this.spec.carry && !b.carry) throw new WebRnnError('invalid-option', `${this.spec.name}: the carry buffer is missing`);
    checkStateRange(this.spec.name, shape, this.spec.carry === 'cells');
    if (this.spec.recurrentGrad && !b.dGrec) throw new WebRnnError('invalid-option', `${this.spec.name}: the dGrec buffer is missing`);
    checkExtents(this.spec.name, this.extents(shape), { ...b });
  }

  bindGroup(b: CellBackwardBindings): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: b.uniform, offset: 0, size: this.uniformLayout.size } },
      { binding: 1, resource: { buffer: b.saved } },
      { binding: 2, resource: { buffer: b.whhT } },
      { binding: 3, resource: { buffer: b.dy } },
      { binding: 4, resource: { buffer: b.gradHN } },
      { binding: 5, resource: { buffer: b.dG } },
      { binding: 6, resource: { buffer: b.dh0 } },
    ];
    if (this.spec.carry && b.carry) entries.push({ binding: 7, resource: { buffer: b.carry } });
    if (this.spec.recurrentGrad && b.dGrec) entries.push({ binding: 8, resource: { buffer: b.dGrec } });
    return this.ctx.device.createBindGroup({ label: this.spec.name, layout: this.bindGroupLayout, entries });
  }

  encodeStep(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, uniformOffset: number, workgroups: readonly [number, number, number]): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup, [uniformOffset]);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
  }
}
