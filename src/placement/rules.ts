/**
 * What runs where: pure functions of an adapter profile and the shape of the work that pick
 * the kernel forms (direct or staged product, batch tiles, the persistent kernel and its
 * resident forms, background compiles). Thresholds come from the profile's placement table
 * (table.ts); each rule names its decision in docs/decisions.md.
 */
import type { AdapterDescription } from '../gpu/device.js';
import { BATCH_TILE_ROWS } from '../kernels/recurrent-step.js';
import { residentFits } from '../kernels/resident.js';
import { cooperativeShape } from '../kernels/cooperative.js';
import { WIDE_TILE_ROWS } from '../kernels/recurrent-step-backward.js';
import { DEFAULT_PLACEMENT, type PlacementTable } from './table.js';

/** What the rules look at of an adapter: whether it is a software one, and the thresholds (a GpuContext is one). */
export interface AdapterProfile {
  info: Pick<AdapterDescription, 'software'>;
  /** Default DEFAULT_PLACEMENT. */
  placement?: Readonly<PlacementTable>;
  /** The device's workgroup limits (default: the 256 invocations every device has). */
  limits?: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX'>;
}

/** The facts of a model and a call that the rules read. */
export interface WorkShape {
  /** Gate blocks of the cell: 1 (Elman), 3 (GRU), 4 (LSTM). */
  gates: number;
  /** One dispatch a step (false only for the GRU with linearBeforeReset false). */
  onePhase: boolean;
  hidden: number;
  batch: number;
  seqLen: number;
}

const table = (p: AdapterProfile): Readonly<PlacementTable> => p.placement ?? DEFAULT_PLACEMENT;

/** Whether `batch` rows take the 4-row batch tile: below 4 rows the tile would mostly compute padding. */
export function useBatchTile(batch: number): boolean {
  return batch >= BATCH_TILE_ROWS;
}

/** Whether a direct backward sweep of `batch` rows takes the wide tile (8 units of 8 rows an invocation). */
export function useWideTile(batch: number): boolean {
  return batch >= WIDE_TILE_ROWS;
}

/**
 * Whether the per-step kernels, forward and backward, use the DIRECT recurrent product (the
 * previous state or the later gradients read from memory, no workgroup staging and no
 * barrier): on software adapters (decision D1). GPUs keep the staged product, which shares
 * each load among the workgroup.
 */
export function directProduct(p: AdapterProfile): boolean {
  return p.info.software;
}

/**
 * Whether a forward pass takes the 4-row batch tile (useBatchTile). The resident form
 * (software adapters, one phase a step, where it fits) takes it only up to
 * residentTileMaxHidden and from residentTileMinRows rows, and otherwise runs one row a
 * workgroup with more units an invocation (D2).
 */
export function forwardBatchTile(p: AdapterProfile, m: Omit<WorkShape, 'seqLen'>, persistent: boolean): boolean {
  if (!useBatchTile(m.batch)) return false;
  const t = table(p);
  const tile = m.hidden <= t.residentTileMaxHidden && m.batch >= t.residentTileMinRows;
  const resident = persistent && directProduct(p) && m.onePhase && residentFits(m.hidden, m.gates, tile);
  return !resident || tile;
}

/**
 * `persistent: 'auto'`: whether a forward pass runs the persistent kernel. Never for one step
 * nor for cells of two phases a step. Software adapters: the resident form wherever it fits
 * (residentFits, up to RESIDENT_FORWARD_MAX_HIDDEN; D3, D6). GPUs: the staged form up to
 * gpuPersistentSmallHidden at up to gpuPersistentMaxRows rows, and up to gpuPersistentMaxHidden
 * below that many rows (D3).
 */
export function autoPersistent(p: AdapterProfile, m: WorkShape): boolean {
  if (!m.onePhase || m.seqLen < 2) return false;
  if (directProduct(p)) return residentFits(m.hidden, m.gates, forwardBatchTile(p, m, true));
  const t = table(p);
  return m.hidden <= t.gpuPersistentSmallHidden ? m.batch <= t.gpuPersistentMaxRows : m.hidden <= t.gpuPersistentMaxHidden && m.batch < t.gpuPersistentMaxRows;
}

/**
 * `persistent: 'auto'`: whether the resident form (forward or sweep) of hidden size H compiles
 * in the background, the per-step kernels running each pass until it is ready (D4).
 */
export function residentCompilesInBackground(p: AdapterProfile, hidden: number): boolean {
  return directProduct(p) && hidden >= table(p).residentBackgroundMinHidden;
}

/**
 * `persistent: 'auto'`: whether the backward sweep takes its resident form: where the forward
 * is persistent, for the Elman cell at every batch, and for the gated cells up to
 * residentGatedSweepMaxHidden below the per-step sweep's wide tile (D5).
 */
export function autoPersistentSweep(p: AdapterProfile, m: WorkShape): boolean {
  if (!directProduct(p) || !autoPersistent(p, m)) return false;
  return m.gates === 1 || (m.hidden <= table(p).residentGatedSweepMaxHidden && !useWideTile(m.batch));
}

/**
 * Whether a persistent forward on a GPU takes the cooperative form (each unit's sums split over
 * invocations, one row a workgroup, h_{t-1} in workgroup memory; in place of the batch tile):
 * one phase a step, up to gpuCooperativeMaxHidden units and gpuCooperativeMaxRows rows, and a
 * hidden size the device's workgroup holds (D12).
 */
export function cooperativeForward(p: AdapterProfile, m: WorkShape, persistent: boolean): boolean {
  if (!persistent || directProduct(p) || !m.onePhase) return false;
  const t = table(p);
  if (m.hidden > t.gpuCooperativeMaxHidden || m.batch > t.gpuCooperativeMaxRows) return false;
  const invocations = Math.min(p.limits?.maxComputeInvocationsPerWorkgroup ?? 256, p.limits?.maxComputeWorkgroupSizeX ?? 256);
  return cooperativeShape(m.hidden, invocations) !== null;
}

/**
 * Whether a per-step forward on a GPU takes the tiled form (the step's product as a tiled GEMM,
 * the cell its epilogue; in place of the batch tile's staged product): one phase a step, from
 * gpuTiledMinHidden units and gpuTiledMinRows rows (D13).
 */
export function tiledForward(p: AdapterProfile, m: Omit<WorkShape, 'seqLen'>, persistent: boolean): boolean {
  return !persistent && tiledSweep(p, m);
}

/**
 * Whether the backward sweep on a GPU (one dispatch a step there) takes the tiled form (the
 * product through W_hh as a tiled GEMM, the cell's step its epilogue; in place of the staged
 * product's one row a workgroup): one phase a step (the cells that train), from
 * gpuTiledMinHidden units and gpuTiledMinRows rows (D13).
 */
export function tiledSweep(p: AdapterProfile, m: Pick<WorkShape, 'hidden' | 'batch' | 'onePhase'>): boolean {
  if (directProduct(p) || !m.onePhase || !useBatchTile(m.batch)) return false;
  const t = table(p);
  return t.gpuTiledMinHidden > 0 && m.hidden >= t.gpuTiledMinHidden && m.batch >= t.gpuTiledMinRows;
}

/** Every choice the rules make for one call: what runs on this adapter for this shape. */
export interface Placement {
  /** The direct recurrent product (software adapters) or the staged one. */
  direct: boolean;
  /** The forward's persistent kernel (its resident form where `direct`). */
  persistent: boolean;
  /** The forward's 4-row batch tile. */
  batchTile: boolean;
  /** The persistent forward's cooperative form (GPUs). */
  cooperative: boolean;
  /** The per-step forward's tiled form (GPUs). */
  tiled: boolean;
  /** The backward sweep's tiled form (GPUs). */
  tiledSweep: boolean;
  /** The backward sweep's resident form. */
  residentSweep: boolean;
  /** The backward sweep's wide tile (direct, per-step sweep). */
  wideTile: boolean;
  /** Resident forms compile in the background while the per-step kernels serve. */
  compilesInBackground: boolean;
}

/** What `persistent: 'auto'` runs for `m` on the adapter of `p`. */
export function placementFor(p: AdapterProfile, m: WorkShape): Placement {
  const persistent = autoPersistent(p, m);
  const residentSweep = autoPersistentSweep(p, m);
  const cooperative = cooperativeForward(p, m, persistent);
  return {
    direct: directProduct(p),
    persistent,
    batchTile: !cooperative && forwardBatchTile(p, m, persistent),
    cooperative,
    tiled: tiledForward(p, m, persistent),
    tiledSweep: tiledSweep(p, m),
    residentSweep,
    wideTile: directProduct(p) && !residentSweep && useWideTile(m.batch),
    compilesInBackground: (persistent || residentSweep) && residentCompilesInBackground(p, m.hidden),
  };
}
