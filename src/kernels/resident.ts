/**
 * Sizing of the resident forms (shaders/software/step-resident.wgsl, sweep-resident.wgsl):
 * which hidden sizes they are built for, how many units an invocation takes and where its
 * weights live, their workgroups, the lanes that share loads, and the unrolled product the
 * loader appends to the shader (generated per hidden size: WGSL has no unrolling directive).
 */
import { WebRnnError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';

/** The invocations a workgroup may always have (maxComputeInvocationsPerWorkgroup's minimum). */
export const MAX_INVOCATIONS = 256;

/** The largest hidden size of the resident forward (where its weights also fit: residentFits; decision D6). */
export const RESIDENT_FORWARD_MAX_HIDDEN = 512;

/**
 * Whether the resident form, forward or sweep, can be built for hidden size H (a cell of
 * `weightFloats` floats a weight; see residentSplit): H at most RESIDENT_FORWARD_MAX_HIDDEN,
 * every weight of the invocation's units within private memory and the function variables of
 * main and residentWalk, and the units within one workgroup of 256 invocations.
 */
export function residentFits(hidden: number, weightFloats: number, batchTile: boolean): boolean {
  if (!Number.isInteger(hidden) || hidden < 1 || hidden > RESIDENT_FORWARD_MAX_HIDDEN) return false;
  const { units, privateWeights, mainWeights } = residentSplit(hidden, weightFloats, batchTile);
  const walkBytes = (units * hidden - privateWeights - mainWeights) * 4 * weightFloats;
  return walkBytes <= WALK_WEIGHT_BYTES && residentWorkgroup(hidden, units) <= MAX_INVOCATIONS;
}

/**
 * The resident forms' `const RES_H`, `RES_HS`, `RES_U` (and with a layout `RES_WP`, `RES_WM`,
 * `RES_WW`) and their product over `units` units an invocation, unrolled over the H input
 * units so that every index into private and workgroup memory is a constant (the compilers
 * behind SwiftShader do not unroll the loop themselves, and the rolled loop ran no faster than
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
  // three floats a weight: the vec3f of floats 3e .. 3e + 2 of the array.
  const weight = (i: number): string => {
    const [array, e] = i < P ? ['wRes', i] : i < P + M ? ['(*w2)', i - P] : ['(*w3)', i - P - M];
    return weightFloats === 3 ? `vec3f(${array}[${3 * e}], ${array}[${3 * e + 1}], ${array}[${3 * e + 2}])` : `${array}[${e}]`;
  };
  for (let k = 0; k < hidden; k++) {
    const terms = Array.from({ length: units }, (_, u) => `acc[${u}] += residentTerm(${weight(k * units + u)}, s);`);
    const at = halves ? `half + ${k}u` : `${k}`;
    // Lane i of each subgroup loads sRes[k0 + i] of a block of `lanes` input units k0 ..
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
 * Not for an sRes of matrices (the gated sweep's batch tile), which subgroupBroadcast does not
 * take. On SwiftShader a subgroup is its 4 SIMD lanes and the broadcast a register shuffle,
 * while a load from workgroup memory costs as much at a constant index as at any other (D9).
 */
export function residentLanes(ctx: GpuContext, subgroups?: boolean): number {
  const can = (ctx.info.subgroupMinSize ?? 0) >= 4;
  if (subgroups === true && !can) {
    throw new WebRnnError('invalid-option', `subgroups: this device has no subgroups of at least 4 invocations (subgroupMinSize ${ctx.info.subgroupMinSize ?? 'absent'})`);
  }
  return can && subgroups !== false ? 4 : 1;
}

/**
 * Workgroups along the rows of the resident forms, each taking its row blocks in turn so that
 * its copy of the weights serves them all: as many workgroups, over both directions, as the
 * CPU has threads (4 where the runtime does not say), since a software adapter runs each
 * workgroup on one thread (D9).
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
 * of them, the step, the lane and the forward form's accumulator or b_hh: residentCellBytes)
 * within WGSL's 8192 bytes, of 4, 3, 2 for the gated cells and 8, 4, 2 for the Elman cell
 * (D9). A weight is `weightFloats` floats: a vec4f of gates (4), the GRU's three gates packed
 * (3, GATES3) or the Elman cell's one (1).
 */
function residentUnits(hidden: number, weightFloats: number, batchTile: boolean): number {
  const weightBytes = 4 * weightFloats;
  const gated = weightFloats > 1;
  const accBytes = residentCellBytes(weightFloats, batchTile);
  for (const u of gated ? [RESIDENT_MAX_GATED_UNITS, 3, 2] : [8, 4, 2]) if (u * hidden * weightBytes + accBytes + RESIDENT_PRIVATE_SCALAR_BYTES <= PRIVATE_BYTES) return u;
  return 1;
}

/**
 * The resident forms' units an invocation for hidden size H, and where their units × H weights
 * live (the forward's; the backward sweep takes the same, leaving the accumulator's bytes
 * unused): as many as fit in private memory beside the accumulator and the step, then main's
 * function variable, then residentWalk's. Units: as many as fit in private memory alone
 * (residentUnits), and where that is fewer than residentSpillUnits, up to that many where all
 * three hold them (D9).
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
 * weight, at most (the largest count whose weights fit): the LSTM 3, the GRU 4, the Elman cell
 * 8, and 16 from H = 256 (D9).
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
 * mat4x4f; curUnit). The Elman cell's steps take the whole accumulator.
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
