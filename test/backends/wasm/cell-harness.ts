/**
 * Runs one wasm cell step (forward or backward) on fresh random tensors laid out as the wasm
 * model lays them out: a middle direction of two (row strides D·G·H and D·H, this direction's
 * block offset), rows of different lengths (some finished at this step), the reverse direction
 * as well as the forward one. Outputs start poisoned; each written element is compared with the
 * float64 cell reference, everything else must stay as it was, and every canary is checked.
 */
import { expect } from 'vitest';
import { resolveCellOptions, type CellOptions, type ResolvedCellOptions } from '../../../src/spec/cell-functions.js';
import type { Random } from '../../../src/spec/random.js';
import type { WasmRuntime } from '../../../src/backends/wasm/runtime.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { Arena, runKernel, runShares } from './harness.js';
import { Program } from '../../../src/backends/wasm/program.js';
import { cellFunctionArgs } from '../../../src/backends/wasm/cell-args.js';
import { packPanelsReference } from '../../../src/reference/pack-panels.js';
import { panelFloats } from '../../../src/backends/wasm/parameters.js';

export type Cell = 'lstm' | 'gru' | 'rnn';

/** One step's shape. */
export interface StepCase {
  B: number;
  H: number;
  T: number;
  step: number;
  reverse: boolean;
  /** Each row's length, or null for T everywhere. */
  lens: number[] | null;
  /** Which direction of two the step is (its block offset in xp and out). */
  d: number;
  via: 'program' | 'shares3';
}

/** Random step shapes: odd sizes, a step in the middle, rows of all lengths (some past their end). */
export function stepCases(rng: Random, count: number): StepCase[] {
  const out: StepCase[] = [];
  for (let i = 0; i < count; i++) {
    const B = 1 + Math.floor(rng.range(0, 7));
    const H = [1, 3, 5, 9, 13, 17, 31, 37][Math.floor(rng.range(0, 8))];
    const T = 2 + Math.floor(rng.range(0, 5));
    const step = Math.floor(rng.range(0, T));
    const lens = i % 2 === 0 ? null : Array.from({ length: B }, () => 1 + Math.floor(rng.range(0, T)));
    out.push({ B, H, T, step, reverse: i % 4 >= 2, lens, d: i % 3 === 0 ? 0 : 1, via: i % 2 === 0 ? 'program' : 'shares3' });
  }
  return out;
}

export function resolveCell(kind: Cell, o: CellOptions | undefined): ResolvedCellOptions {
  return resolveCellOptions(kind, o, { name: kind === 'rnn' ? 'Tanh' : 'Sigmoid' });
}

/** W_hh [G·H, H] as the cell kernels read it: each gate block's W_hhᵀ in pack-panels' panels, one after another. */
export function packedWhh(whh: Float32Array, G: number, H: number): Float32Array {
  const out = new Float32Array(G * panelFloats(H, H));
  for (let g = 0; g < G; g++) out.set(packPanelsReference(whh.subarray(g * H * H, (g + 1) * H * H), H, H, H), g * panelFloats(H, H));
  return out;
}

/** Row b's time at the step, or −1 once it has finished. */
export function rowTime(c: StepCase, b: number): number {
  const len = c.lens ? c.lens[b] : c.T;
  if (c.step >= len) return -1;
  return c.reverse ? len - 1 - c.step : c.step;
}

/** What one cell's forward step needs of the test: its reference and its kernel's extra arguments. */
export interface ForwardCell {
  kind: Cell;
  G: number;
  /** Floats per (t, b) of the save tensor (0: none). */
  saveSlots: number;
  cell: ResolvedCellOptions;
  peephole?: boolean;
  linearBeforeReset?: boolean;
  /** h (and c) of the active rows [B, H] from the gathered pre-activations and states, with the saved slots the kernel writes. */
  reference(s: { batch: number; hidden: number; xproj: Float32Array; hPrev: Float32Array; cPrev: Float32Array; whh: Float32Array; bhh: Float32Array; peephole: Float32Array | null; direction: number }): { h: Float64Array; c?: Float64Array; saved?: Float64Array[] };
}

/**
 * One forward step of `cell` on `rt` for case `c`, with training saves; every output checked.
 */
export function checkForwardStep(rt: WasmRuntime, rng: Random, cell: ForwardCell, c: StepCase): void {
  const { B, H, T, d } = c;
  const G = cell.G;
  const GH = G * H;
  const D = 2;
  const xld = D * GH;
  const old = D * H;
  const xp = randomFloats(rng, T * B * xld, -2, 2);
  const whh = randomFloats(rng, GH * H, -0.8, 0.8);
  const bhh = randomFloats(rng, GH);
  const peep = randomFloats(rng, 3 * H);
  const hPrev = randomFloats(rng, B * H);
  const cPrev = randomFloats(rng, B * H);
  const S = cell.saveSlots;
  const arena = new Arena(rt);
  try {
    const p = {
      xp: arena.tensor(xp), whhP: arena.tensor(packedWhh(whh, G, H)), bhh: arena.tensor(bhh), hPrev: arena.tensor(hPrev),
      hNext: arena.tensor(B * H), out: arena.tensor(T * B * old), hh: arena.tensor(B * GH), hsave: arena.tensor(T * B * H),
      save: S ? arena.tensor(T * B * S * H) : 0, c: cell.kind === 'lstm' ? arena.tensor(cPrev) : 0, peep: cell.peephole ? arena.tensor(peep) : 0,
      rh: cell.kind === 'gru' ? arena.tensor(B * H) : 0, lens: c.lens ? arena.tensor(c.lens, true) : 0,
    };
    const common = {
      xp: p.xp + 4 * d * GH, xld, whhP: p.whhP, bhh: p.bhh, hPrev: p.hPrev, hNext: p.hNext, out: p.out + 4 * d * H, old, hh: p.hh, hsave: p.hsave, lens: p.lens,
      B, H, T, step: c.step, reverse: c.reverse ? 1 : 0, ...cellFunctionArgs(cell.cell, d),
    };
    if (cell.kind === 'lstm') {
      const args = { ...common, peep: p.peep, c: p.c, save: p.save };
      if (c.via === 'program') runKernel(arena, 'lstmCellForward', args);
      else runShares(arena, 'lstmCellForward', args, 3);
    } else if (cell.kind === 'gru') {
      const args = { ...common, rh: p.rh, save: p.save, linearBeforeReset: cell.linearBeforeReset ? 1 : 0 };
      const phases = cell.linearBeforeReset ? [0] : [0, 1];
      if (c.via === 'program') {
        const program = new Program();
        for (const phase of phases) program.add('gruCellForward', { ...args, phase });
        const enc = program.encode(rt.heap);
        rt.run(enc);
        rt.heap.release(enc.ptr);
        arena.checkCanaries();
      } else for (const phase of phases) runShares(arena, 'gruCellForward', { ...args, phase }, 3);
    } else {
      if (c.via === 'program') runKernel(arena, 'rnnCellForward', common);
      else runShares(arena, 'rnnCellForward', common, 3);
    }

    // The reference on every row, each reading its own time's pre-activations.
    const times = Array.from({ length: B }, (_, b) => rowTime(c, b));
    const xrows = new Float32Array(B * GH);
    times.forEach((t, b) => {
      if (t >= 0) for (let r = 0; r < GH; r++) xrows[b * GH + r] = xp[(t * B + b) * xld + d * GH + r];
    });
    const ref = cell.reference({ batch: B, hidden: H, xproj: xrows, hPrev, cPrev, whh, bhh, peephole: cell.peephole ? peep : null, direction: d });
    const hNext = arena.read(p.hNext, B * H);
    const out = arena.read(p.out, T * B * old);
    const hsave = arena.read(p.hsave, T * B * H);
    const cNow = p.c ? arena.read(p.c, B * H) : null;
    const save = S ? arena.read(p.save, T * B * S * H) : null;
    for (let b = 0; b < B; b++) {
      const t = times[b];
      const row = (a: ArrayLike<number>, start: number, n = H): number[] => Array.from({ length: n }, (_, j) => a[start + j]);
      const slot = t >= 0 ? t : c.step;
      expect(row(hsave, (slot * B + b) * H)).toEqual(row(hPrev, b * H));
      if (t < 0) {
        // Finished: state kept exactly, zeros at output row `step`.
        expect(row(hNext, b * H)).toEqual(row(hPrev, b * H));
        if (cNow) expect(row(cNow, b * H)).toEqual(row(cPrev, b * H));
        expect(row(out, (c.step * B + b) * old + d * H)).toEqual(new Array(H).fill(0));
        continue;
      }
      expectClose(`h row ${b}`, row(hNext, b * H), row(ref.h, b * H));
      expectClose(`out row (${t}, ${b})`, row(out, (t * B + b) * old + d * H), row(ref.h, b * H));
      if (cNow) expectClose(`c row ${b}`, row(cNow, b * H), row(ref.c!, b * H));
      if (save && ref.saved) {
        for (let s = 0; s < S; s++) expectClose(`saved slot ${s} row ${b}`, row(save, (t * B + b) * S * H + s * H), row(ref.saved[s], b * H));
      }
    }
    // Nothing else of out written: the other direction's block, and rows of other times.
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const mine = times[b] === t || (times[b] < 0 && t === c.step);
        for (let j = 0; j < old; j++) {
          const written = mine && j >= d * H && j < (d + 1) * H;
          if (!written) expect(Number.isNaN(out[(t * B + b) * old + j]), `out (${t}, ${b}, ${j}) written`).toBe(true);
        }
      }
    }
  } finally {
    arena.release();
  }
}
