/**
 * The part the three fused cell-step wrappers (rnn-, lstm-, gru-cell-forward) share: the
 * common WGSL prelude (shaders/common/recurrent-step.wgsl), bind group layout, uniform
 * packing, dispatch size and the buffer-size checks. Each wrapper supplies its shader, gate
 * count, defines, override constants and entry points.
 */
import commonSource from '../../shaders/common/recurrent-step.wgsl?raw';
import { LimitError, WebRnnError } from '../errors.js';
import { ShaderStage } from '../gpu/constants.js';
import type { GpuContext } from '../gpu/device.js';
import type { ResolvedCellOptions } from '../model/cell-functions.js';
import { packedGateStride } from '../model/spec.js';
import { packUniform, parseUniformLayout, preprocessWgsl, type UniformLayout } from '../gpu/shader.js';

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

/** The invocations a workgroup may always have (maxComputeInvocationsPerWorkgroup's minimum). */
const MAX_INVOCATIONS = 256;

/** The largest hidden size of the resident forward (where its weights also fit: residentFits; decision D6). */
export const RESIDENT_FORWARD_MAX_HIDDEN = 512;

/** Uniform layout of every cell step kernel: the Params struct of the common prelude. */
export const CELL_UNIFORM_LAYOUT: UniformLayout = parseUniformLayout(commonSource);

/**
 * The Params every step kernel (forward and backward) declares, for dispatch `step` of layer
 * `shape.layer`: both shaders' structs hold these fields, each parsed from its own WGSL.
 */
export function stepParams(shape: CellStepShape, step: number): Record<string, number> {
  return {
    batch: shape.batch,
    hidden: shape.hidden,
    seqLen: shape.seqLen,
    step,
    numDirections: shape.numDirections,
    stateBase: shape.layer * shape.numDirections,
    lengthsOffset: shape.numLayers * shape.numDirections * shape.batch * shape.hidden,
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

/** Sizes of one layer's recurrence as the step kernels see them. */
export interface CellStepShape {
  batch: number;
  hidden: number;
  seqLen: number;
  numDirections: number;
  /** Layers of the model: the state buffers h0, hN (and c) hold all of them. */
  numLayers: number;
  /** Index of this layer (its states start at layer · numDirections). */
  layer: number;
}

export interface CellStepBindings {
  /** Uniform buffer holding one packed Params per step, `slotBytes` apart (dynamic offset). */
  uniform: GPUBuffer;
  xproj: GPUBuffer;
  whhT: GPUBuffer;
  bhh: GPUBuffer;
  /** Initial states [L·D, B, H], then the sequence lengths [B] as f32. */
  h0: GPUBuffer;
  hseq: GPUBuffer;
  hN: GPUBuffer;
  /** LSTM: the cell state c [L·D, B, H]; GRU with linear_before_reset = 0: scratch r⊙h [D, B, H]. */
  extra?: GPUBuffer;
  /** Training variant of the LSTM and GRU: the activations saved for backward [T, B, D, S·H]. */
  saved?: GPUBuffer;
}

/** What a cell kernel is made of. */
export interface CellKernelSpec {
  name: string;
  source: string;
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
   * shaders/common/recurrent-step.wgsl), so its kernel is built for this H alone, in a
   * workgroup of its own size (residentWorkgroup; `workgroup` is then unused).
   */
  hidden?: number;
  /**
   * The resident form's lanes share their loads of h_{t-1} through subgroup operations
   * (residentLanes): default where the device can, false never, true always (an error where
   * the device cannot).
   */
  subgroups?: boolean;
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

/**
 * Whether the resident form, forward or sweep, can be built for hidden size H (a cell of `weightFloats`
 * floats a weight; see residentSplit): H at most RESIDENT_FORWARD_MAX_HIDDEN, every weight of
 * the invocation's units within private memory and the function variables of main and
 * residentWalk, and the units within one workgroup of 256 invocations.
 */
export function residentFits(hidden: number, weightFloats: number, batchTile: boolean): boolean {
  if (!Number.isInteger(hidden) || hidden < 1 || hidden > RESIDENT_FORWARD_MAX_HIDDEN) return false;
  const { units, privateWeights, mainWeights } = residentSplit(hidden, weightFloats, batchTile);
  const walkBytes = (units * hidden - privateWeights - mainWeights) * 4 * weightFloats;
  return walkBytes <= WALK_WEIGHT_BYTES && residentWorkgroup(hidden, units) <= MAX_INVOCATIONS;
}

/**
 * The resident form's `const RES_H`, `const RES_U` and its product over `units` units an
 * invocation, unrolled over the H input units so that every index into private and
 * workgroup memory is a constant (WGSL has no unrolling directive, and the compilers behind
 * SwiftShader do not unroll the loop by themselves: the rolled loop measured no faster than
 * the per-step kernels). Each sRes[k] is read once for the `units` terms it serves; with
 * `lanes` above 1 (residentLanes) a subgroup's lanes read a block of `lanes` of them at once,
 * one each, and pass them on with subgroupBroadcast. With `halves` (the forward, whose sRes has
 * two halves read on alternate steps) the product takes `half: u32` and reads sRes[half + k].
 */
export function residentProductSource(hidden: number, units = 1, weightFloats = 1, layout?: { privateWeights: number; mainWeights: number }, lanes = 1, halves = false): string {
  const lines: string[] = [];
  const P = layout?.privateWeights ?? hidden * units;
  const M = layout?.mainWeights ?? 0;
  // Weight i = k units + u: element i of wRes (private) below P, then element i - P of *w2
  // (main's function variable) below P + M, then element i - P - M of *w3 (residentWalk's);
  // GATES3 (three floats a weight): the vec3f of floats 3e .. 3e + 2 of the array.
  const weight = (i: number): string => {
    const [array, e] = i < P ? ['wRes', i] : i < P + M ? ['(*w2)', i - P] : ['(*w3)', i - P - M];
    return weightFloats === 3 ? `vec3f(${array}[${3 * e}], ${array}[${3 * e + 1}], ${array}[${3 * e + 2}])` : `${array}[${e}]`;
  };
  for (let k = 0; k < hidden; k++) {
    const terms = Array.from({ length: units }, (_, u) => `acc[${u}] += residentTerm(${weight(k * units + u)}, s);`);
    // With lanes > 1 (residentLanes), lane i of each subgroup loads sRes[k0 + i] for a block of
    // `lanes` input units k0 .., and subgroupBroadcast hands it to the others: one load a
    // block of input units instead of one each.
    // With `halves` (the forward's two copies of the state), sRes[half + k].
    const at = halves ? `half + ${k}u` : `${k}`;
    if (lanes > 1 && k % lanes === 0) lines.push(`  let v${k} = sRes[${at}${halves ? '' : 'u'} + resLane];`);
    const s = lanes > 1 ? `subgroupBroadcast(v${k - (k % lanes)}, ${k % lanes}u)` : `sRes[${at}]`;
    lines.push(`  { let s = ${s}; ${terms.join(' ')} }`);
  }
  // With a layout (what both resident forms pass) the product takes the two function variables
  // and the loader adds their sizes; without one every weight is private.
  const params = [...(layout ? ['w2: ptr<function, ResMain>', 'w3: ptr<function, ResWalk>'] : []), ...(halves ? ['half: u32'] : [])].join(', ');
  const sizes = layout ? `const RES_WP: u32 = ${P}u;\nconst RES_WM: u32 = ${M}u;\nconst RES_WW: u32 = ${hidden * units - P - M}u;\n` : '';
  // RES_HS: sRes's length, whole blocks of lanes so that every lane's load is inside it.
  const shared = Math.ceil(hidden / lanes) * lanes;
  return `const RES_H: u32 = ${hidden}u;\nconst RES_HS: u32 = ${shared}u;\nconst RES_U: u32 = ${units}u;\n${sizes}fn residentProduct(${params}) -> array<ResAcc, RES_U> {\n  var acc: array<ResAcc, RES_U>;\n${lines.join('\n')}\n  return acc;\n}\n`;
}

/**
 * Lanes that share the resident forms' loads of the shared vector (sRes: h_{t-1}, or the
 * sweep's later gradients) through subgroupBroadcast: 4 where the device has the `subgroups`
 * feature with subgroups of at least 4 invocations, else 1 (each invocation loads every
 * element). `subgroups` false asks for 1, true for 4 (an error where the device cannot).
 * Not for an sRes of matrices (the gated sweep's batch tile), which subgroupBroadcast does not take.
 * On SwiftShader, whose subgroups are its 4 SIMD lanes, a load from workgroup memory at a
 * constant index measured about as slow as one at an index known only at run time, while the
 * broadcast is a register shuffle: in a standalone resident Elman product (H = 256, 8 units an
 * invocation, two workgroups) 1.3x faster in Chromium, 7.3 -> 9.5 GFLOP/s (H = 512: 8.3 -> 10.7).
 */
export function residentLanes(ctx: GpuContext, subgroups?: boolean): number {
  const can = (ctx.info.subgroupMinSize ?? 0) >= 4;
  if (subgroups === true && !can) {
    throw new WebRnnError('invalid-option', `subgroups: this device has no subgroups of at least 4 invocations (subgroupMinSize ${ctx.info.subgroupMinSize ?? 'absent'})`);
  }
  return can && subgroups !== false ? 4 : 1;
}

/**
 * Workgroups along the rows of the resident form, each taking its row blocks in turn so that
 * its copy of the weights serves them all: as many workgroups, over both directions, as the
 * CPU has threads (4 where the runtime does not say), since a software adapter runs each
 * workgroup on one thread. Measured in Chromium on 2 threads (T = 64, forward passes): 2
 * workgroups against one a row at H = 256 and 16 rows, the LSTM 110-112 against 125-135 ms,
 * the GRU 101-105 against 113-129, the Elman cell 40-41 against 43-50, and steadier than 4
 * (LSTM 112-145 ms); bidirectional, one a direction against two (Elman 79-82 against 83-108 ms).
 */
export function residentRowGroups(ctx: GpuContext, directions: number): number {
  return Math.max(1, Math.ceil((ctx.info.cpuThreads ?? 4) / directions));
}

/** WGSL's limit on the private variables of a shader, in bytes; the function variables of a function have the same. */
const PRIVATE_BYTES = 8192;

/** Private bytes of a resident form besides its weights and the cells' own (residentCellBytes): the step (curStep), the subgroup lane (resLane), the row block's first row and lengths (resRow0, resLens), the half of the shared state a step reads (resHalf). */
const RESIDENT_PRIVATE_SCALAR_BYTES = 32;

/** What residentWalk may give its function variable of weights: WGSL's 8192 bytes a function less a few words for its loop counters. */
const WALK_WEIGHT_BYTES = PRIVATE_BYTES - 64;

/**
 * Units an invocation of a resident form takes for hidden size H from private memory alone
 * (residentSplit): the largest count that keeps its private variables (the weights, RES_U · H
 * of them, the step, the lane and the forward form's accumulator or b_hh: residentCellBytes) within WGSL's 8192 bytes, of 4, 3, 2
 * for the gated cells and 8, 4, 2 for the Elman cell. A weight is `weightFloats` floats: a vec4f of gates (4), the GRU's three gates
 * packed (3, the forward's GATES3) or the Elman cell's one (1). Eight Elman units an invocation
 * (up to H = 255) measured 1.05-1.3x faster than four at workload A in Chromium, forward and
 * training step, alternated three times; seven at H = 256 with the tile no faster than four.
 */
function residentUnits(hidden: number, weightFloats: number, batchTile: boolean): number {
  const weightBytes = 4 * weightFloats;
  const gated = weightFloats > 1;
  // The forward keeps its units' b_hh and, for the gated cells, one accumulator in private variables.
  const accBytes = residentCellBytes(weightFloats, batchTile);
  for (const u of gated ? [RESIDENT_MAX_GATED_UNITS, 3, 2] : [8, 4, 2]) if (u * hidden * weightBytes + accBytes + RESIDENT_PRIVATE_SCALAR_BYTES <= PRIVATE_BYTES) return u;
  return 1;
}

/**
 * The resident forms' units an invocation for hidden size H, and where their units x H weights
 * live (the forward's; the backward sweep takes the same, leaving the accumulator's bytes
 * unused): as many as fit in private memory beside the accumulator and the step, then
 * main's function variable, then residentWalk's (WGSL bounds private variables at 8192 bytes a
 * shader and function variables at 8192 bytes a function; residentWalk's loop counters take a
 * few words of its own). Units: as many as fit in private memory alone (residentUnits), and
 * where that is fewer than residentSpillUnits, up to that many where all three hold them.
 * Measured in Chromium (SwiftShader), forward passes at H = 256 and 16 rows, one row a
 * workgroup, three rounds: the LSTM's 3 units (510 of their 768 weights private) 119-134 ms
 * against 176-184 for 1, the GRU's 4 96-112 against 105-130 for 3, the Elman cell's 8 50-53
 * against 56-58 for 4.
 */
export function residentSplit(hidden: number, weightFloats: number, batchTile: boolean): { units: number; privateWeights: number; mainWeights: number } {
  const weightBytes = 4 * weightFloats;
  const privateCap = Math.floor((PRIVATE_BYTES - residentCellBytes(weightFloats, batchTile) - RESIDENT_PRIVATE_SCALAR_BYTES) / weightBytes);
  const mainCap = Math.floor(PRIVATE_BYTES / weightBytes);
  const walkCap = Math.floor(WALK_WEIGHT_BYTES / weightBytes);
  let units = residentUnits(hidden, weightFloats, batchTile);
  const target = residentSpillUnits(hidden, weightFloats);
  if (units < target) for (let u = target; u > units; u--) if (u * hidden <= privateCap + mainCap + walkCap) { units = u; break; }
  const privateWeights = Math.min(units * hidden, privateCap);
  const mainWeights = Math.min(units * hidden - privateWeights, mainCap);
  return { units, privateWeights, mainWeights };
}

/**
 * Units an invocation the resident forms take with weights past private memory, by floats a
 * weight (LSTM 4, GRU 3, Elman 1), at most (the largest count whose weights fit): the LSTM 3,
 * the GRU 4, the Elman cell 8, and 16 from H = 256 (at H = 512 that leaves 11). More measured
 * slower: the LSTM's 4 units at H = 128 (0.8x against 3 in private memory alone, workload A),
 * the GRU's 6 at H = 256 (70.6-76.4 against 69.1-72.5 ms at workload B, 276-290 against
 * 261-286 a training step), the Elman cell's 12 at H = 256 (0.8-1.05x against 8; 30.6-31.1
 * against 30.8-30.9 ms again at B). The Elman cell's 16 at H = 256, in Chromium, two rounds:
 * inference at B 27.3-28.3 against 30.8-30.9 ms, a training step 81.7-81.8 against 86.8-87.0;
 * 16 at H = 128 was slower at A (4.1-4.4 against 4.0 ms); 11 at H = 512 inference at C 155-163
 * against 168 ms, a training step even (444-475 against 446-456).
 */
function residentSpillUnits(hidden: number, weightFloats: number): number {
  if (weightFloats === 4) return 3;
  if (weightFloats === 3) return RESIDENT_MAX_GATED_UNITS;
  return hidden >= 256 ? RESIDENT_MAX_ELMAN_UNITS : 8;
}

/**
 * Private bytes the forward resident form keeps for its cells' steps: the b_hh of its units
 * (resBias: a vec4f of gates a unit for the gated cells, RES_U <= 4; a float for the Elman
 * cell, RES_U <= 16), and for the gated cells, whose steps take one unit at a time, that unit's
 * accumulator and index (curAcc: a vec3f takes 16 bytes, as a vec4f, and a mat4x3f 64, as a
 * mat4x4f; curUnit). The Elman cell's steps take the whole accumulator (RESIDENT_CELLS in the
 * shaders).
 */
function residentCellBytes(weightFloats: number, batchTile: boolean): number {
  return weightFloats > 1 ? (batchTile ? 64 : 16) + 4 + 16 * RESIDENT_MAX_GATED_UNITS : 4 * RESIDENT_MAX_ELMAN_UNITS;
}

/** The most units an invocation of the Elman cell's resident forms takes (residentSpillUnits). */
const RESIDENT_MAX_ELMAN_UNITS = 16;

/** The most units an invocation of a gated cell's resident forms takes (residentUnits, residentSpillUnits). */
const RESIDENT_MAX_GATED_UNITS = 4;

/** Invocations of a resident form's workgroup (its WG): one per RES_U units, a multiple of 4 (SwiftShader's lanes); invocation x takes units x, x + WG, .. */
export function residentWorkgroup(hidden: number, units: number): number {
  return Math.ceil(Math.ceil(hidden / units) / 4) * 4;
}

/** The prelude's override constants for `cell` (plus INPUT_FORGET where the shader has it). */
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

export class CellStepKernel {
  readonly uniformLayout = CELL_UNIFORM_LAYOUT;

  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: CellKernelSpec,
    readonly pipelines: readonly GPUComputePipeline[],
    readonly bindGroupLayout: GPUBindGroupLayout,
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
    // DIRECT only per step; the persistent kernel's direct form is RESIDENT (see residentForm).
    // ONE_PHASE: the prelude supplies `main` (a cell with one entry point per step defines only cellStep).
    const resident = residentForm(spec);
    // GATES3: the GRU's direct and resident products skip whhT's padding gate.
    const directStep = (spec.direct ?? false) && !persistent;
    const split = resident ? residentSplit(spec.hidden!, spec.gates, spec.batchTile) : undefined;
    const lanes = resident ? residentLanes(ctx, spec.subgroups) : 1;
    // RESIDENT_CELLS: a cell whose resident form steps all of an invocation's units at once (the Elman cell's defines it).
    const defines = { RESIDENT_CELLS: false, ...spec.defines, DIRECT: directStep, RESIDENT: resident, GATES3: (resident || directStep) && spec.gates === 3, BATCH_TILE: spec.batchTile, TRAINING: spec.training, GATED: spec.gates > 1, PERSISTENT: persistent, ONE_PHASE: spec.entryPoints.length === 1, SUBGROUPS: lanes > 1 };
    let code = (lanes > 1 ? 'enable subgroups;\n' : '') + preprocessWgsl(`${commonSource}\n${spec.source}`, defines);
    let workgroup = persistent ? (spec.workgroup ?? persistentWorkgroup(1)) : CELL_WORKGROUP;
    if (split) {
      code += residentProductSource(spec.hidden!, split.units, spec.gates, split, lanes, true);
      workgroup = residentWorkgroup(spec.hidden!, split.units);
    }
    // The persistent variant has one entry point that runs every phase of every step.
    const entryPoints = persistent ? ['main'] : spec.entryPoints;
    const pipelines = await Promise.all(
      entryPoints.map((entryPoint) =>
        ctx.pipelines.get({
          name: spec.name,
          code,
          defines,
          entryPoint,
          constants: { WG: workgroup, ...spec.constants },
          layout: layout.pipeline,
          layoutKey,
        }),
      ),
    );
    return new CellStepKernel(ctx, spec, pipelines, layout.bindGroup);
  }

  get gates(): number {
    return this.spec.gates;
  }

  /** Batch rows per workgroup. */
  get rows(): number {
    return this.spec.batchTile ? BATCH_TILE_ROWS : 1;
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
    const units = this.spec.unitsPerInvocation ?? 1;
    return stepWorkgroups(this.ctx, this.spec.name, { ...shape, hidden: Math.ceil(shape.hidden / units) }, this.rows);
  }

  /** True when the kernel writes a `saved` buffer. */
  get savesActivations(): boolean {
    return this.spec.training && this.spec.savedSlots > 0;
  }

  /** Floats each binding must hold for `shape`. */
  extents(shape: CellStepShape): Record<keyof Omit<CellStepBindings, 'uniform'>, number> {
    const { batch: B, hidden: H, seqLen: T, numDirections: D, numLayers: L } = shape;
    const G = this.spec.gates;
    return {
      xproj: T * B * D * G * H,
      whhT: D * H * H * packedGateStride(G),
      bhh: D * G * H + D * this.spec.extraBias * H,
      h0: L * D * B * H + B,
      hseq: T * B * D * H,
      hN: L * D * B * H,
      extra: this.spec.extra === 'c' ? L * D * B * H : this.spec.extra === 'rh' ? D * B * H : 0,
      saved: this.savesActivations ? T * B * D * this.spec.savedSlots * H : 0,
    };
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
    if (this.resident && shape.hidden !== this.spec.hidden) throw new WebRnnError('invalid-option', `${this.spec.name}: this kernel is built for hidden size ${this.spec.hidden}, not ${shape.hidden}`);
    if (shape.layer >= shape.numLayers) throw new WebRnnError('invalid-option', `${this.spec.name}: layer ${shape.layer} of ${shape.numLayers}`);
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
