/**
 * The thresholds that pick kernel forms, in one table. Each entry names its measured decision
 * in docs/decisions.md; `createEngine({ placement })` overrides any of them.
 */
import { WebRnnError } from '../errors.js';

export interface PlacementTable {
  /** Software adapters: the resident forward takes the 4-row tile only up to this hidden size (D2). */
  residentTileMaxHidden: number;
  /** ... and only from this many rows (D2). */
  residentTileMinRows: number;
  /** GPUs: 'auto' takes the persistent forward up to this hidden size at any batch up to gpuPersistentMaxRows (D3). */
  gpuPersistentSmallHidden: number;
  /** GPUs: and up to this hidden size below gpuPersistentMaxRows rows (D3). */
  gpuPersistentMaxHidden: number;
  /** GPUs: the batch bound of both (D3). */
  gpuPersistentMaxRows: number;
  /** Software adapters: from this hidden size a resident form compiles in the background (D4). */
  residentBackgroundMinHidden: number;
  /** Software adapters: 'auto' takes the gated cells' resident sweep up to this hidden size (D5). */
  residentGatedSweepMaxHidden: number;
  /** GPUs: a persistent forward takes the cooperative form up to this hidden size; 0, never (D12: off until measured on a GPU). */
  gpuCooperativeMaxHidden: number;
  /** GPUs: ... at up to this many rows, one workgroup each (D12). */
  gpuCooperativeMaxRows: number;
  /** GPUs: a per-step forward and the backward sweep take the tiled form from this hidden size; 0, never (D13: off until measured on a GPU). */
  gpuTiledMinHidden: number;
  /** GPUs: ... at this many rows or more (D13). */
  gpuTiledMinRows: number;
}

/** The measured defaults. */
export const DEFAULT_PLACEMENT: Readonly<PlacementTable> = Object.freeze({
  residentTileMaxHidden: 128,
  residentTileMinRows: 8,
  gpuPersistentSmallHidden: 128,
  gpuPersistentMaxHidden: 256,
  gpuPersistentMaxRows: 64,
  residentBackgroundMinHidden: 64,
  residentGatedSweepMaxHidden: 256,
  gpuCooperativeMaxHidden: 0,
  gpuCooperativeMaxRows: 64,
  gpuTiledMinHidden: 0,
  gpuTiledMinRows: 16,
});

/** The defaults with `overrides` applied; every override a known entry and a non-negative integer. */
export function resolvePlacement(overrides: Partial<PlacementTable> = {}): Readonly<PlacementTable> {
  if (overrides === null || typeof overrides !== 'object') throw new WebRnnError('invalid-option', 'placement: an object of thresholds expected');
  for (const [key, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(DEFAULT_PLACEMENT, key)) throw new WebRnnError('invalid-option', `placement: unknown entry '${key}' (known: ${Object.keys(DEFAULT_PLACEMENT).join(', ')})`);
    if (!Number.isInteger(value) || (value as number) < 0) throw new WebRnnError('invalid-option', `placement: ${key} must be a non-negative integer, got ${String(value)}`);
  }
  return Object.freeze({ ...DEFAULT_PLACEMENT, ...overrides });
}
