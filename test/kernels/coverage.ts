/**
 * Which kernel cases a run takes. `npm test` runs a covering design of them; `npm run
 * test:full` (WEBRNN_TEST_FULL=1) runs the whole matrix, as before a kernel change lands.
 *
 * The design keeps every case whose pipelines compile in well under a second, and thins out
 * only the resident forms at large hidden sizes, whose unrolled pipelines take from 5 to 60 s
 * each to compile on SwiftShader. Of those it keeps one size per region of where the weights
 * live (regions below), each with both batch tiles, and with training settings where a file
 * has them in a Latin square (every pair of size, tile and training once), and deals these
 * combinations in turn to the file's outer variants (the Elman cell's nonlinearities, the
 * GRU's two forms, the LSTM's plain and peephole cells), so that each variant takes a share.
 */

export const FULL_MATRIX = process.env.WEBRNN_TEST_FULL === '1';

/** A file's outer variant `index` of `count`, which takes every count-th large combination. */
export interface Rotation {
  index: number;
  count: number;
  /**
   * Whether the resident form without subgroup operations runs at a large size too (default
   * true). The design needs that pair once, not per cell: the Elman cell's files, whose large
   * pipelines compile slowest, leave it to the LSTM's and GRU's.
   */
  plainLarge?: boolean;
  /**
   * How many of the large combinations (2 a region: one row and batch-tiled) the file deals
   * out (default all). A pair of region and tile, or of cell and region, needs covering once
   * in the suite, not per file: the Elman cell's forward, whose pipelines at H = 512 compile
   * slowest (about a minute), takes the first region only and leaves the walk region to the
   * LSTM's and GRU's forward files and to its own resident sweep.
   */
  largeCombos?: number;
}

/** One outer variant: it takes every combination. */
export const EVERY: Rotation = { index: 0, count: 1 };

/** Hidden sizes from which a resident pipeline's compile takes seconds. */
export const LARGE_RESIDENT = 200;

/**
 * The forward's resident regions in the covering design: at H = 256 each cell's weights spill
 * from private memory into main's function variable, at 512 into residentWalk's too
 * (persistentCases has the full list of sizes and what each exercises).
 */
export const RESIDENT_REGIONS: readonly number[] = [256, 512];

/** The resident sweep's: main's function variable at H = 300, residentWalk's at 512. */
export const SWEEP_REGIONS: readonly number[] = [300, 512];

/** Whether the form without subgroups runs at `hidden` for `rotation` (a large size only where plainLarge). */
export function plainRuns(hidden: number, rotation: Rotation): boolean {
  return FULL_MATRIX || hidden < LARGE_RESIDENT || rotation.plainLarge !== false;
}

/** Whether the resident case (hidden, batchTile, training) runs for `rotation`; always in the full matrix. */
export function largeResidentRuns(regions: readonly number[], hidden: number, batchTile: boolean, training: boolean, trainingVaries: boolean, rotation: Rotation): boolean {
  if (FULL_MATRIX || hidden < LARGE_RESIDENT) return true;
  const region = regions.indexOf(hidden);
  if (region < 0) return false;
  if (trainingVaries && (region + Number(batchTile) + Number(training)) % 2 !== 0) return false;
  const combo = 2 * region + Number(batchTile);
  if (rotation.largeCombos !== undefined && combo >= rotation.largeCombos) return false;
  return combo % rotation.count === rotation.index;
}
