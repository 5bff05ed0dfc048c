/**
 * LSTM layers with a projection (projSize P) on the wasm backend. Such a layer runs as the LSTM
 * over r_t = o_t ⊙ tanh(c_t) [H] whose recurrent weight is W_hh·W_hr (parameters.ts keeps it),
 * from r_{−1} = 0; around it:
 *   forward   xp of each row's first step += h0·W_hhᵀ (what W_hh·h_{−1} adds); the layer's
 *             output h = r·W_hrᵀ [T, B, D·P] and hN = r_N·W_hrᵀ
 *   backward  the gradient reaching r: dy·W_hr (and gradHN·W_hr); from the sweep's dG and
 *             dW_eff = Σ dGᵀ·r_{t−1} [G·H, H]:
 *             dW_hh = dW_eff·W_hrᵀ + dG_firstᵀ·h0, dW_hr = W_hhᵀ·dW_eff + dyᵀ·r + gradHNᵀ·r_N,
 *             dh0 = dG_first·W_hh
 * The reverse direction's first step of row b is t = L_b − 1: its records take their pointer
 * from each call's lengths (RowRecord, patchRows).
 */
import { gateCount, type ModelSpec } from '../../spec/spec.js';
import type { WasmParameters } from './parameters.js';
import type { EncodedProgram, Program } from './program.js';

/** A record whose pointer `field` follows row b's length: at(L_b). */
export interface RowRecord {
  record: number;
  field: 'a' | 'c';
  b: number;
  at: (length: number) => number;
}

/** Set each row record's pointer from the lengths of this call. */
export function patchRows(program: EncodedProgram, rows: readonly RowRecord[], lens: ArrayLike<number>): void {
  for (const r of rows) program.patch<'matmul'>(r.record, { [r.field]: r.at(lens[r.b]) });
}

/** A projecting layer's forward buffers: r of every step [T, B, D·H], each direction's final r [B, H], and r_{−1} = 0 [B, H]. */
export interface ProjectionBuffers {
  rseq: number;
  rN: number[];
  rZero: number;
}

/** What the forward records of layer l need (ForwardBuffers' fields). */
interface LayerPass {
  spec: ModelSpec;
  B: number;
  T: number;
  xp: number;
  h0: number;
  hN: number;
  outs: number[];
  slot(buffer: number, l: number, d: number): number;
}

type Take = (n: number, zero?: boolean) => number;

export function projectionBuffers(take: Take, spec: ModelSpec, l: number, B: number, T: number): ProjectionBuffers | null {
  const { projSize, hiddenSize: H, numDirections: D } = spec.layers[l];
  if (!projSize) return null;
  return { rseq: take(T * B * D * H), rN: Array.from({ length: D }, () => take(B * H)), rZero: take(B * H, true) };
}

/** xp of each row's first step, direction d, += h0·W_hhᵀ (after the input projection, before the steps). */
export function recordFold(program: Program, params: WasmParameters, f: LayerPass, l: number, d: number, rows: RowRecord[]): void {
  const { B } = f;
  const { hiddenSize: H, numDirections: D, projSize: P, kind } = f.spec.layers[l];
  const GH = gateCount(kind) * H;
  const h0 = f.slot(f.h0, l, d);
  const fold = { ldc: D * GH, sam: P, sak: 1, b: params.whhRawP[l][d], ldb: 0, packed: 1, bias: 0, N: GH, K: P, accumulate: 1 };
  // Forward: every row starts at t = 0, rows 0 … B − 1 of xp.
  if (d === 0) program.add('matmul', { ...fold, c: f.xp, a: h0, M: B });
  else {
    for (let b = 0; b < B; b++) {
      rows.push({ record: program.count, field: 'c', b, at: (len) => f.xp + 4 * (((len - 1) * B + b) * D * GH + GH) });
      program.add('matmul', { ...fold, c: f.xp, a: h0 + 4 * b * P, M: 1 });
    }
  }
}

/** The layer's output h = r·W_hrᵀ and hN = r_N·W_hrᵀ (after both directions' steps). */
export function recordOutput(program: Program, params: WasmParameters, f: LayerPass, l: number, p: ProjectionBuffers): void {
  const { B, T } = f;
  const { hiddenSize: H, numDirections: D, projSize: P } = f.spec.layers[l];
  for (let d = 0; d < D; d++) {
    const proj = { b: params.whrP[l][d], ldb: 0, packed: 1, bias: 0, N: P, K: H, accumulate: 0, sak: 1 };
    program.add('matmul', { ...proj, c: f.outs[l] + 4 * d * P, ldc: D * P, a: p.rseq + 4 * d * H, sam: D * H, M: T * B });
    program.add('matmul', { ...proj, c: f.slot(f.hN, l, d), ldc: P, a: p.rN[d], sam: H, M: B });
  }
}

/** A projecting layer's backward buffers: the gradient reaching r [T, B, D·H] and r_N (per direction), dW_eff [G·H, H], and a sink for the sweep's (unused) gradient of r_{−1}. */
export interface ProjectionGradients {
  dyR: number;
  gradHNr: number[];
  dWeff: number;
  sink: number;
}

export function projectionGradients(take: Take, spec: ModelSpec, l: number, B: number, T: number): ProjectionGradients | null {
  const { projSize, hiddenSize: H, numDirections: D, kind } = spec.layers[l];
  if (!projSize) return null;
  return { dyR: take(T * B * D * H), gradHNr: Array.from({ length: D }, () => take(B * H)), dWeff: take(gateCount(kind) * H * H), sink: take(B * H) };
}

/** The gradient reaching r from the layer's output gradient `dy` [T, B, D·P] and gradHN (before the sweep). */
export function recordGradientIn(program: Program, params: WasmParameters, f: LayerPass, l: number, dy: number, gradHN: number, g: ProjectionGradients): void {
  const { B, T } = f;
  const { hiddenSize: H, numDirections: D, projSize: P } = f.spec.layers[l];
  for (let d = 0; d < D; d++) {
    const back = { b: params.of('weight_hr', l, d), ldb: H, packed: 0, bias: 0, N: H, K: P, accumulate: 0, sak: 1 };
    program.add('matmul', { ...back, c: g.dyR + 4 * d * H, ldc: D * H, a: dy + 4 * d * P, sam: D * P, M: T * B });
    program.add('matmul', { ...back, c: g.gradHNr[d], ldc: H, a: f.slot(gradHN, l, d), sam: P, M: B });
  }
}

/**
 * After direction d's sweep (dG [T·B, G·H] of that direction) and dW_eff: dW_hh, dW_hr and dh0
 * of the layer's own weights (into `grads`, the gradients' block, and `dh0`).
 */
export function recordGradientOut(program: Program, params: WasmParameters, f: LayerPass, l: number, d: number, x: { dy: number; gradHN: number; dh0: number; dG: number; grads: number; p: ProjectionBuffers; g: ProjectionGradients }, rows: RowRecord[]): void {
  const { B, T } = f;
  const { hiddenSize: H, numDirections: D, projSize: P, kind } = f.spec.layers[l];
  const GH = gateCount(kind) * H;
  const whh = params.of('weight_hh', l, d);
  const dWhh = params.of('weight_hh', l, d, x.grads);
  const dWhr = params.of('weight_hr', l, d, x.grads);
  const h0 = f.slot(f.h0, l, d);
  const dh0 = f.slot(x.dh0, l, d);
  const plain = { packed: 0, bias: 0 };
  // dW_hh = dW_eff·W_hrᵀ, then + dG_firstᵀ·h0.
  program.add('matmul', { c: dWhh, ldc: P, a: x.g.dWeff, sam: H, sak: 1, b: params.whrP[l][d], ldb: 0, packed: 1, bias: 0, M: GH, N: P, K: H, accumulate: 0 });
  const first = { c: dWhh, ldc: P, sam: 1, sak: GH, ldb: P, ...plain, M: GH, N: P, accumulate: 1 };
  const dh = { ldc: P, sam: GH, sak: 1, b: whh, ldb: P, ...plain, N: P, K: GH, accumulate: 0 };
  if (d === 0) {
    program.add('matmul', { ...first, a: x.dG, b: h0, K: B });
    program.add('matmul', { ...dh, c: dh0, a: x.dG, M: B });
  } else {
    for (let b = 0; b < B; b++) {
      const at = (len: number): number => x.dG + 4 * ((len - 1) * B + b) * GH;
      rows.push({ record: program.count, field: 'a', b, at });
      program.add('matmul', { ...first, a: x.dG, b: h0 + 4 * b * P, K: 1 });
      rows.push({ record: program.count, field: 'a', b, at });
      program.add('matmul', { ...dh, c: dh0 + 4 * b * P, a: x.dG, M: 1 });
    }
  }
  // dW_hr = W_hhᵀ·dW_eff + dyᵀ·r + gradHNᵀ·r_N.
  program.add('matmul', { c: dWhr, ldc: H, a: whh, sam: 1, sak: P, b: x.g.dWeff, ldb: H, ...plain, M: P, N: H, K: GH, accumulate: 0 });
  program.add('matmul', { c: dWhr, ldc: H, a: x.dy + 4 * d * P, sam: 1, sak: D * P, b: x.p.rseq + 4 * d * H, ldb: D * H, ...plain, M: P, N: H, K: T * B, accumulate: 1 });
  program.add('matmul', { c: dWhr, ldc: H, a: f.slot(x.gradHN, l, d), sam: 1, sak: P, b: x.p.rN[d], ldb: H, ...plain, M: P, N: H, K: B, accumulate: 1 });
}
