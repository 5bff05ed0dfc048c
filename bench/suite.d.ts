// Types of bench/suite.js (plain JavaScript, so that the page, Node and the demo share it).
export interface Workload {
  batch: number;
  seqLen: number;
  inputSize: number;
  hiddenSize: number;
  note: string;
}
export const WORKLOADS: Record<string, Workload>;
export const CELLS: string[];
export const ENGINES: string[];
export const BACKENDS: string[];
export function forwardFlops(w: Workload, cell: string): number;
export function trainFlops(w: Workload, cell: string): number;
export interface SuiteOptions {
  cells?: string[];
  workloads?: string[];
  modes?: string[];
  engines?: string[];
  /** webrnn's backends: 'webgpu', 'wasm' (all threads), 'wasm-1' (one thread). */
  backends?: string[];
  runs?: number;
  capMs?: number;
  ceilings?: boolean;
  firstUse?: boolean;
  stream?: boolean;
  persistent?: boolean | 'auto';
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SuiteRow = Record<string, any> & { engine: string; backend: string; workload: string; cell: string; mode: string; ms: number; gflops: number; ok: boolean; onGpu: boolean };
export function runSuite(
  lib: unknown,
  options?: SuiteOptions,
  log?: (row: SuiteRow) => void,
  peers?: unknown,
): Promise<{ adapter: { vendor?: string; architecture?: string; device?: string; description: string; software?: boolean }; auto: { backend: string; reason: string; threads?: number }; rows: SuiteRow[]; totalMs: number }>;
