import { applyCellFunction, directionFunctions, type ResolvedCellOptions } from '../spec/cell-functions.js';

/** float64 logistic sigmoid shared by the cell references. */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * The f, g and h of a cell in float64 for direction `direction`: ONNX's functions with clip on
 * the inputs of f and g when `cell` is given, else PyTorch's sigmoid, tanh, tanh.
 */
export function cellActivations(cell?: ResolvedCellOptions, direction = 0): { actF: (x: number) => number; actG: (x: number) => number; actH: (x: number) => number } {
  if (!cell) return { actF: sigmoid, actG: Math.tanh, actH: Math.tanh };
  const clip = (x: number): number => (cell.clip > 0 ? Math.min(Math.max(x, -cell.clip), cell.clip) : x);
  const fns = directionFunctions(cell, direction);
  return {
    actF: (x) => applyCellFunction(fns.f, clip(x)),
    actG: (x) => applyCellFunction(fns.g, clip(x)),
    actH: (x) => applyCellFunction(fns.h, x),
  };
}
