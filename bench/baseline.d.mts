// Types of bench/baseline.mjs, for the tests that import it.
export interface BenchRow {
  cell: string;
  workload: string;
  mode: string;
  ms: number;
}
export interface RoundResult {
  round: number;
  build: 'new' | 'old';
  rows: BenchRow[];
}
export interface RowSummary {
  cell: string;
  workload: string;
  mode: string;
  new: number[];
  old: number[];
  newMedian: number;
  oldMedian: number;
  ratio: number;
  overlap: boolean;
  newRange: [number, number];
  oldRange: [number, number];
}
export function prepareBaseline(root: string, rev: string): { commit: string; path: string };
export function alternate(run: (build: 'new' | 'old', options: Record<string, unknown>) => Promise<BenchRow[]>, options: Record<string, unknown>, rounds: number): Promise<RoundResult[]>;
export function summarise(results: ReadonlyArray<{ build: string; rows: ReadonlyArray<BenchRow> }>): RowSummary[];
