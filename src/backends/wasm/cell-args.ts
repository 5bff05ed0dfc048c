/** The cell kernels' function arguments: ONNX's f, g, h (code, alpha, beta), clip and input_forget of one direction. */
import { directionFunctions, type ResolvedCellOptions } from '../../spec/cell-functions.js';

export interface CellFunctionArgs {
  fCode: number;
  fAlpha: number;
  fBeta: number;
  gCode: number;
  gAlpha: number;
  gBeta: number;
  hCode: number;
  hAlpha: number;
  hBeta: number;
  clip: number;
  inputForget: number;
}

export function cellFunctionArgs(cell: ResolvedCellOptions, d: number): CellFunctionArgs {
  const { f, g, h } = directionFunctions(cell, d);
  return {
    fCode: f.code, fAlpha: f.alpha, fBeta: f.beta,
    gCode: g.code, gAlpha: g.alpha, gBeta: g.beta,
    hCode: h.code, hAlpha: h.alpha, hBeta: h.beta,
    clip: cell.clip, inputForget: cell.inputForget ? 1 : 0,
  };
}
