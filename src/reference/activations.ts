import { applyCellFunction, type ResolvedCellOptions } from '../model/cell-functions.js';

/** float64 logistic sigmoid shared by the cell references. */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * The f, g and h of a cell in float64: ONNX's functions with clip on the inputs of f and g when
 * `cell` is given, else PyTorch's sigmoid, tanh, tanh.
 */
export function cellActivations(cell?: ResolvedCellOptions): { actF: (x: number) => number; actG: (x: number) => number; actH: (x: number) => number } {
  if (!cell) return { actF: sigmoid, actG: Math.tanh, actH: Math.tanh };
  const clip = (x: number): number => (cell.clip > 0 ? Math.min(Math.max(x, -cell.clip), cell.clip) : x);
  return {
    actF: (x) => applyCellFunction(cell.f, clip(x)),
    actG: (x) => applyCellFunction(cell.g, clip(x)),
    actH: (x) => applyCellFunction(cell.h, x),
  };
}
