/**
 * Runs one wasm backward cell step on saved activations from the float64 forward reference,
 * laid out as the wasm model lays them out (a direction of two, rows of different lengths, some
 * past their end), and compares every output with the float64 backward reference; outputs start
 * poisoned and every canary is checked. Also compares the kernel's gate gradients with central
 * finite differences of the forward reference.
 */
import { expect } from 'vitest';
import type { Random } from '../../../src/spec/random.js';
import type { WasmRuntime } from '../../../src/backends/wasm/runtime.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { centralDifferences, dotLoss } from '../../kernels/cell-backward-harness.js';
import { Arena, runKernel, runShares } from './harness.js';
import { rowTime, type Cell, type StepCase } from './cell-harness.js';

/** A cell's backward as the test drives it. */
export interface BackwardCell {
  kind: Cell;
  G: number;
  /** Floats per (t, b) of the save tensor (0: the Elman cell reads h from the output). */
  saveSlots: number;
  /** The Elman cell's nonlinearity code (0 tanh, 1 relu, 2 identity). */
  nonlinearity?: number;
  /** Forward of one row-batch in float64 from pre-activations xproj [B, G·H] (all recurrent parts folded in), h and c before: h, c after and the saved slots. */
  forward(B: number, H: number, xproj: Float64Array, hPrev: Float64Array, cPrev: Float64Array): { h: Float64Array; c?: Float64Array; saved: Float64Array[] };
  /** The backward reference on those slots: dG, dGrec where separate, dcPrev (LSTM), recNext's part (GRU: z ⊙ dh). */
  backward(B: number, H: number, saved: Float64Array[], h: Float64Array, dh: Float64Array, dc: Float64Array): { dG: Float64Array; dGrec?: Float64Array; dcPrev?: Float64Array; direct?: Float64Array };
}

export function checkBackwardStep(rt: WasmRuntime, rng: Random, cell: BackwardCell, c: StepCase): void {
  const { B, H, T, d } = c;
  const G = cell.G;
  const GH = G * H;
  const D = 2;
  const dyld = D * H;
  const S = cell.saveSlots;
  // Saved activations: the forward reference at each active row's time.
  const xproj = Float64Array.from(randomFloats(rng, B * GH, -2, 2));
  const hPrev = Float64Array.from(randomFloats(rng, B * H));
  const cPrev = Float64Array.from(randomFloats(rng, B * H));
  const fwd = cell.forward(B, H, xproj, hPrev, cPrev);
  const times = Array.from({ length: B }, (_, b) => rowTime(c, b));
  const save = new Float32Array(T * B * Math.max(S, 1) * H).fill(NaN);
  const hsave = new Float32Array(T * B * H).fill(NaN);
  const out = new Float32Array(T * B * dyld).fill(NaN);
  times.forEach((t, b) => {
    if (t < 0) return;
    for (let j = 0; j < H; j++) {
      for (let s = 0; s < S; s++) save[(t * B + b) * S * H + s * H + j] = fwd.saved[s][b * H + j];
      hsave[(t * B + b) * H + j] = hPrev[b * H + j];
      out[(t * B + b) * dyld + d * H + j] = fwd.h[b * H + j];
    }
  });
  const dy = randomFloats(rng, T * B * dyld);
  const rec = randomFloats(rng, B * H);
  const dc = randomFloats(rng, B * H);
  const arena = new Arena(rt);
  try {
    const p = {
      save: S ? arena.tensor(save) : 0, hsave: arena.tensor(hsave), out: arena.tensor(out), dy: arena.tensor(dy), rec: arena.tensor(rec), recNext: arena.tensor(B * H),
      dc: arena.tensor(dc), dG: arena.tensor(T * B * GH), dGrec: arena.tensor(T * B * GH), dGstep: arena.tensor(B * GH), lens: c.lens ? arena.tensor(c.lens, true) : 0,
    };
    const common = { dy: p.dy + 4 * d * H, dyld, rec: p.rec, recNext: p.recNext, dG: p.dG, dGstep: p.dGstep, lens: p.lens, B, H, T, step: c.step, reverse: c.reverse ? 1 : 0 };
    const run = <K extends 'lstmCellBackward' | 'gruCellBackward' | 'rnnCellBackward'>(name: K, args: Record<string, number>): void => {
      if (c.via === 'program') runKernel(arena, name, args as never);
      else runShares(arena, name, args as never, 3);
    };
    if (cell.kind === 'lstm') run('lstmCellBackward', { ...common, save: p.save, dc: p.dc });
    else if (cell.kind === 'gru') run('gruCellBackward', { ...common, save: p.save, hsave: p.hsave, dGrec: p.dGrec });
    else run('rnnCellBackward', { ...common, out: p.out + 4 * d * H, old: dyld, nonlinearity: cell.nonlinearity ?? 0 });

    const dh = new Float64Array(B * H);
    times.forEach((t, b) => {
      for (let j = 0; j < H; j++) dh[b * H + j] = t < 0 ? 0 : dy[(t * B + b) * dyld + d * H + j] + rec[b * H + j];
    });
    const ref = cell.backward(B, H, fwd.saved, fwd.h, dh, Float64Array.from(dc));
    const dG = arena.read(p.dG, T * B * GH);
    const dGrec = arena.read(p.dGrec, T * B * GH);
    const dGstep = arena.read(p.dGstep, B * GH);
    const recNext = arena.read(p.recNext, B * H);
    const dcNow = arena.read(p.dc, B * H);
    const row = (a: ArrayLike<number>, start: number, n: number): number[] => Array.from({ length: n }, (_, j) => a[start + j]);
    for (let b = 0; b < B; b++) {
      const t = times[b];
      if (t < 0) {
        // Past its end: gradients pass on, gate gradients 0.
        const zeros = new Array(GH).fill(0);
        expect(row(dG, (c.step * B + b) * GH, GH)).toEqual(zeros);
        expect(row(dGstep, b * GH, GH)).toEqual(zeros);
        if (cell.kind === 'gru') expect(row(dGrec, (c.step * B + b) * GH, GH)).toEqual(zeros);
        expect(row(recNext, b * H, H)).toEqual(row(rec, b * H, H));
        expect(row(dcNow, b * H, H)).toEqual(row(dc, b * H, H));
        continue;
      }
      expectClose(`dG row (${t}, ${b})`, row(dG, (t * B + b) * GH, GH), row(ref.dG, b * GH, GH));
      const stepRows = ref.dGrec ?? ref.dG;
      expectClose(`dGstep row ${b}`, row(dGstep, b * GH, GH), row(stepRows, b * GH, GH));
      if (ref.dGrec) expectClose(`dGrec row (${t}, ${b})`, row(dGrec, (t * B + b) * GH, GH), row(ref.dGrec, b * GH, GH));
      expectClose(`recNext row ${b}`, row(recNext, b * H, H), ref.direct ? row(ref.direct, b * H, H) : new Array(H).fill(0));
      if (ref.dcPrev) expectClose(`dc row ${b}`, row(dcNow, b * H, H), row(ref.dcPrev, b * H, H));
    }
    // Central differences of the forward reference: L = Σ dh ⊙ h + Σ dc ⊙ c over the active rows.
    const active = times.map((t) => t >= 0);
    const loss = (): number => {
      const f = cell.forward(B, H, xproj, hPrev, cPrev);
      let s = 0;
      for (let b = 0; b < B; b++) {
        if (!active[b]) continue;
        s += dotLoss(f.h.subarray(b * H, (b + 1) * H), dh.subarray(b * H, (b + 1) * H));
        if (f.c) s += dotLoss(f.c.subarray(b * H, (b + 1) * H), dc.subarray(b * H, (b + 1) * H));
      }
      return s;
    };
    const numeric = centralDifferences(loss, xproj);
    for (let b = 0; b < B; b++) {
      if (active[b]) expectClose(`dG row ${b} against central differences`, row(dG, (times[b] * B + b) * GH, GH), row(numeric, b * GH, GH));
    }
  } finally {
    arena.release();
  }
}
