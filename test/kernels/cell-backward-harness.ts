/**
 * Runs one backward step kernel (one dispatch of the reverse-time sweep, or the resident
 * form's whole sweep) on fresh random buffers laid out as the scheduler lays them out, and
 * compares every written element with the float64 references; outputs start poisoned (NaN)
 * and whatever the dispatch must not write is checked unchanged. Also: central finite differences of the forward references,
 * against which the backward references are checked.
 */
import { expect } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.js';
import type { CellBackwardKernel } from '../../src/kernels/recurrent-step-backward.js';
import type { CellStepShape } from '../../src/kernels/recurrent-step.js';
import type { Random } from '../../src/spec/random.js';
import { gradThroughWhh } from '../../src/reference/rnn-cell-backward.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { layerStates, packWhhT, stepUniform } from './cell-step-harness.js';
import { EVERY, largeResidentRuns, plainRuns, SWEEP_REGIONS, type Rotation } from './coverage.js';

/** One unit-row's backward as the reference computes it, for one direction. */
export interface BackwardStepReference {
  /** Random but plausible saved activations, slot by slot ([B, H] each). */
  randomSaved(rng: Random, n: number): Float32Array[];
  /** From saved slots, the whole dh and the carry in: dG, dGrec (if separate), carry out. */
  run(batch: number, hidden: number, saved: Float32Array[], dh: Float64Array, carry: Float32Array): { dG: Float64Array; dGrec?: Float64Array; carry?: Float64Array };
  /** The carry adds to dh (GRU) rather than standing for dc (LSTM). */
  carryIsDh: boolean;
}

/** Random inputs of one layer's sweep, laid out as the scheduler lays them out. */
interface SweepInputs {
  shape: CellStepShape;
  G: number;
  S: number;
  /** Saved activations per (t, d, slot) as [B·H] arrays, and packed [T, B, D, S·H]. */
  savedSlots: Float32Array[][][];
  saved: Float32Array;
  whh: Float32Array[];
  dy: Float32Array;
  /** The gradient of hN, then each sequence's length. */
  gradHN: Float32Array;
  len(b: number): number;
  /** The recurrent-side gradients are a buffer of their own (dGrec, the GRU). */
  sep: boolean;
}

/** `whhScale`: W_hh entries are drawn from U(−whhScale, whhScale). */
function sweepInputs(kernel: CellBackwardKernel, ref: BackwardStepReference, rng: Random, shape: CellStepShape, lengths: readonly number[] | null, whhScale = 0.8): SweepInputs {
  const { batch: B, hidden: H, seqLen: T, numDirections: D, stateFloats } = shape;
  const G = kernel.gates;
  const S = kernel.spec.savedSlots;
  const e = kernel.extents(shape);
  const savedSlots: Float32Array[][][] = []; // [t][d][slot] -> [B·H]
  const saved = new Float32Array(e.saved);
  for (let t = 0; t < T; t++) {
    savedSlots.push([]);
    for (let d = 0; d < D; d++) {
      const slots = ref.randomSaved(rng, B * H);
      savedSlots[t].push(slots);
      for (let b = 0; b < B; b++) {
        for (let slot = 0; slot < S; slot++) {
          for (let j = 0; j < H; j++) saved[((t * B + b) * D + d) * S * H + slot * H + j] = slots[slot][b * H + j];
        }
      }
    }
  }
  const whh = Array.from({ length: D }, () => randomFloats(rng, G * H * H, -whhScale, whhScale));
  const dy = randomFloats(rng, e.dy);
  const gradHN = randomFloats(rng, e.gradHN);
  const len = (b: number): number => (lengths ? lengths[b] : T);
  for (let b = 0; b < B; b++) gradHN[stateFloats + b] = len(b);
  return { shape, G, S, savedSlots, saved, whh, dy, gradHN, len, sep: kernel.spec.recurrentGrad };
}

/** What the sweep's buffers hold, in float64: dG, dGrec, carry and dh0 (NaN: not written). */
interface SweepState {
  dG: Float64Array;
  dGrec: Float64Array;
  carry: Float64Array;
  dh0: Float64Array;
}

/**
 * Advance `state` by dispatch `step` of the sweep, as the float64 references compute it: the
 * gradient reaching h_t from later in time (gradHN on the first dispatch, else the later
 * recurrent-side gradients in `state` through W_hh), then the cell backward of each running
 * row at its own time; rows at their end form dh0, finished rows zero their slot at t = step.
 */
function expectDispatch(inp: SweepInputs, ref: BackwardStepReference, state: SweepState, step: number): void {
  const { batch: B, hidden: H, seqLen: T, numDirections: D, stateBase, cellBase } = inp.shape;
  const { G, S, sep, len } = inp;
  const GH = G * H;
  const index = (t: number, b: number, d: number, q: number): number => ((t * B + b) * D + d) * GH + q;
  const running = (b: number): boolean => step < len(b);
  // Row b's time in this dispatch, and in the previous one.
  const timeOf = (d: number, b: number): number => (d === 0 && running(b) ? len(b) - 1 - step : step);
  const laterOf = (d: number, b: number): number => (d === 0 ? len(b) - step : step - 1);
  for (let d = 0; d < D; d++) {
    const s0 = stateBase + d * B * H;
    // The carry: the GRU's in the states' layout, the LSTM's in the cell states'.
    const sc = (ref.carryIsDh ? stateBase : cellBase) + d * B * H;
    const rec = new Float64Array(B * H);
    const src = sep ? state.dGrec : state.dG;
    for (let b = 0; b < B; b++) {
      if (step > len(b)) continue;
      if (step === 0) {
        for (let j = 0; j < H; j++) rec[b * H + j] = inp.gradHN[s0 + b * H + j];
      } else {
        const laterGrad = Float64Array.from({ length: GH }, (_, q) => src[index(laterOf(d, b), b, d, q)]);
        rec.set(gradThroughWhh(1, H, laterGrad, inp.whh[d]), b * H);
      }
      if (ref.carryIsDh) for (let j = 0; j < H; j++) rec[b * H + j] += state.carry[sc + b * H + j];
    }
    for (let b = 0; b < B; b++) {
      if (step === len(b)) for (let j = 0; j < H; j++) state.dh0[s0 + b * H + j] = rec[b * H + j];
      if (!running(b) && step < T && step >= len(b)) {
        for (let q = 0; q < GH; q++) {
          state.dG[index(step, b, d, q)] = 0;
          if (sep) state.dGrec[index(step, b, d, q)] = 0;
        }
      }
    }
    const slots = Array.from({ length: S }, () => new Float32Array(B * H));
    const dh = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      if (!running(b)) continue;
      const t = timeOf(d, b);
      for (let slot = 0; slot < S; slot++) slots[slot].set(inp.savedSlots[t][d][slot].subarray(b * H, (b + 1) * H), b * H);
      for (let j = 0; j < H; j++) dh[b * H + j] = inp.dy[(t * B + b) * D * H + d * H + j] + rec[b * H + j];
    }
    const r = ref.run(B, H, slots, dh, Float32Array.from(state.carry.subarray(sc, sc + B * H)));
    for (let b = 0; b < B; b++) {
      if (!running(b)) continue;
      const t = timeOf(d, b);
      for (let q = 0; q < GH; q++) {
        state.dG[index(t, b, d, q)] = r.dG[b * GH + q];
        if (r.dGrec) state.dGrec[index(t, b, d, q)] = r.dGrec[b * GH + q];
        if (step === len(b) - 1) (sep ? state.dGrec : state.dG)[index(T, b, d, q)] = (r.dGrec ?? r.dG)[b * GH + q];
      }
      if (r.carry) for (let j = 0; j < H; j++) state.carry[sc + b * H + j] = r.carry[b * H + j];
    }
  }
}

/** Run `dispatches` of `kernel` over the buffers made from `inp` and the given dG, dGrec, carry; return what they hold after. */
async function runSweep(ctx: GpuContext, kernel: CellBackwardKernel, inp: SweepInputs, start: { dG: Float32Array; dGrec: Float32Array; carry: Float32Array }, step: number, rowGroups?: number): Promise<Record<keyof SweepState, Float32Array | null>> {
  const { shape } = inp;
  const e = kernel.extents(shape);
  const uniform = stepUniform(ctx, kernel, shape, step);
  const buffers = {
    uniform,
    saved: upload(ctx, 'saved', inp.saved),
    whhT: upload(ctx, 'whhT', packWhhT(inp.whh, shape.hidden, inp.G)),
    dy: upload(ctx, 'dy', inp.dy),
    gradHN: upload(ctx, 'gradHN', inp.gradHN),
    dG: upload(ctx, 'dG', start.dG),
    dh0: poisoned(ctx, 'dh0', e.dh0),
    carry: kernel.spec.carry ? upload(ctx, 'carry', start.carry) : undefined,
    dGrec: inp.sep ? upload(ctx, 'dGrec', start.dGrec) : undefined,
  };
  kernel.checkBuffers(shape, buffers);
  await runPass(ctx, (pass) => kernel.encodeStep(pass, kernel.bindGroup(buffers), 0, kernel.workgroups(shape, rowGroups)));
  const got = {
    dG: await download(ctx, buffers.dG, e.dG),
    dh0: await download(ctx, buffers.dh0, e.dh0),
    carry: buffers.carry ? await download(ctx, buffers.carry, e.carry) : null,
    dGrec: buffers.dGrec ? await download(ctx, buffers.dGrec, e.dGrec) : null,
  };
  for (const b of Object.values(buffers)) b?.destroy();
  return got;
}

/** Compare every element `want` defines (not NaN) and check that `got` is NaN elsewhere. */
function compareState(label: string, got: Record<keyof SweepState, Float32Array | null>, want: SweepState): void {
  const close = (name: string, g: Float32Array, w: Float64Array): void => {
    const keep = [...w.keys()].filter((i) => !Number.isNaN(w[i]));
    expectClose(`${label}: ${name}`, keep.map((i) => g[i]), keep.map((i) => w[i]));
    const stray = [...w.keys()].filter((i) => Number.isNaN(w[i]) && !Number.isNaN(g[i]));
    expect(stray, `${label}: ${name} written where it must not be`).toEqual([]);
  };
  close('dG', got.dG!, want.dG);
  close('dh0', got.dh0!, want.dh0);
  if (got.carry) close('carry', got.carry, want.carry);
  if (got.dGrec) close('dGrec', got.dGrec, want.dGrec);
}

export async function checkBackwardStep(
  ctx: GpuContext,
  kernel: CellBackwardKernel,
  ref: BackwardStepReference,
  rng: Random,
  shape: CellStepShape,
  step: number,
  label: string,
  lengths: readonly number[] | null = null,
): Promise<void> {
  const { batch: B, seqLen: T, numDirections: D } = shape;
  const inp = sweepInputs(kernel, ref, rng, shape, lengths);
  const e = kernel.extents(shape);
  const GH = inp.G * shape.hidden;
  const { len } = inp;
  const carry = randomFloats(rng, e.carry || 1);
  const running = (b: number): boolean => step < len(b);
  const timeOf = (d: number, b: number): number => (d === 0 && running(b) ? len(b) - 1 - step : step);
  // dG (and dGrec): random everywhere (later slots are read), NaN where this dispatch writes.
  const dG = randomFloats(rng, e.dG);
  const dGrec = randomFloats(rng, e.dGrec || 1);
  const index = (t: number, b: number, d: number, q: number): number => ((t * B + b) * D + d) * GH + q;
  for (let d = 0; d < D; d++) {
    for (let b = 0; b < B; b++) {
      const slots: number[] = [];
      if (running(b)) slots.push(timeOf(d, b));
      else if (step < T && (!ref.carryIsDh || step >= len(b))) slots.push(step);
      for (const t of slots) {
        for (let q = 0; q < GH; q++) {
          dG[index(t, b, d, q)] = NaN;
          if (inp.sep) dGrec[index(t, b, d, q)] = NaN;
        }
      }
      if (step === len(b) - 1) for (let q = 0; q < GH; q++) (inp.sep ? dGrec : dG)[index(T, b, d, q)] = NaN;
    }
  }
  const got = await runSweep(ctx, kernel, inp, { dG, dGrec, carry }, step);
  const want: SweepState = {
    dG: Float64Array.from(dG),
    dGrec: Float64Array.from(dGrec.subarray(0, e.dGrec)),
    carry: Float64Array.from(carry.subarray(0, e.carry)),
    dh0: new Float64Array(e.dh0).fill(NaN),
  };
  expectDispatch(inp, ref, want, step);
  compareState(label, got, want);
}

/**
 * The persistent (resident) sweep: one dispatch runs every step 0 .. T of the layer. dG, dGrec
 * and dh0 start poisoned; carry holds gradCN for the LSTM and zeros for the GRU, as the
 * scheduler leaves them; the expectation steps the references through every dispatch, each
 * reading the later gradients the one before produced.
 */
export async function checkBackwardSweep(
  ctx: GpuContext,
  kernel: CellBackwardKernel,
  ref: BackwardStepReference,
  rng: Random,
  shape: CellStepShape,
  label: string,
  lengths: readonly number[] | null = null,
  rowGroups?: number,
): Promise<void> {
  // Chained steps, as in the forward harness's persistent check: W_hh entries of U(−w, w) with
  // w = 1.5/√H (at most 0.8) keep the spectral radius near 1.5/√3 < 1, as initialisers scale
  // them, so that gradients carried back through T steps neither grow nor come from cancelling
  // large terms, and float32 rounding stays inside the tolerance.
  const inp = sweepInputs(kernel, ref, rng, shape, lengths, Math.min(0.8, 1.5 / Math.sqrt(shape.hidden)));
  const e = kernel.extents(shape);
  const carry = ref.carryIsDh ? new Float32Array(e.carry || 1) : randomFloats(rng, e.carry || 1);
  const dG = new Float32Array(e.dG).fill(NaN);
  const dGrec = new Float32Array(e.dGrec || 1).fill(NaN);
  const got = await runSweep(ctx, kernel, inp, { dG, dGrec, carry }, 0, rowGroups);
  const want: SweepState = {
    dG: Float64Array.from(dG),
    dGrec: Float64Array.from(dGrec.subarray(0, e.dGrec)),
    carry: Float64Array.from(carry.subarray(0, e.carry)),
    dh0: new Float64Array(e.dh0).fill(NaN),
  };
  for (let step = 0; step <= shape.seqLen; step++) expectDispatch(inp, ref, want, step);
  compareState(label, got, want);
}

/**
 * Whole-sweep cases for the resident form: odd sizes, one row or batch-tiled, both directions,
 * with and without lengths; at H = 300 and 512 (one row a workgroup, as models run it) the
 * weights spill past private memory into main's and residentWalk's function variables
 * (residentSplit), and a weight array's end falls inside a unit. Row groups are pinned (one at
 * an even batch, two at an odd one) so that the walk over row blocks runs on any machine.
 * `subgroups: false` marks the cases that run the form without subgroup operations (residentLanes).
 * Outside the full matrix the large sizes are those of the covering design for `rotation` (coverage.ts).
 */
export function sweepCases(rotation: Rotation = EVERY): Array<{ shape: CellStepShape; name: string; lengths: number[] | null; batchTile: boolean; rowGroups: number; subgroups?: false }> {
  const out: ReturnType<typeof sweepCases> = [];
  const sizes: Array<[number, number, number, boolean[]]> = [
    [1, 1, 4, [false, true]],
    [3, 7, 5, [false, true]],
    [2, 65, 3, [false, true]],
    [5, 130, 2, [false, true]],
    [4, 300, 2, [false]],
    [3, 512, 2, [false]],
  ];
  for (const [batch, hidden, seqLen, tiles] of sizes) {
    for (const batchTile of tiles) {
      if (!largeResidentRuns(SWEEP_REGIONS, hidden, batchTile, false, false, rotation)) continue;
      for (const numDirections of [1, 2]) {
        for (const lengths of [null, Array.from({ length: batch }, (_, b) => 1 + ((b * 2) % seqLen))]) {
          const rowGroups = batch % 2 === 0 ? 1 : 2;
          // As in the forward cases (persistentCases): the form without subgroups too, at
          // three sizes, both directions with lengths.
          const plainToo = numDirections === 2 && lengths !== null && [7, 65, 300].includes(hidden) && plainRuns(hidden, rotation);
          for (const subgroups of plainToo ? [undefined, false as const] : [undefined]) {
            out.push({
              shape: { batch, hidden, seqLen, numDirections, ...layerStates(numDirections, batch, hidden, 1) },
              lengths,
              batchTile,
              rowGroups,
              ...(subgroups === false ? { subgroups } : {}),
              name: `resident sweep${batchTile ? ', batch-tiled' : ''}: B=${batch} H=${hidden} T=${seqLen} D=${numDirections}${lengths ? `, lengths ${lengths}` : ''}, ${rowGroups} row group${rowGroups > 1 ? 's' : ''}${subgroups === false ? ', no subgroups' : ''}`,
            });
          }
        }
      }
    }
  }
  return out;
}

/**
 * Dispatches to test: the first (from gradHN), a middle one, the last step, and the dh0 pass;
 * all rows running all steps, or rows of lengths 1, 2, 3 (finished, at their end, running);
 * each with the staged product, the direct one, the direct one with the batch tile, the direct
 * one with the wide tile (8 units of 8 rows; batches of 8 or more, across a second block of
 * rows and units past H), and the staged product's tiled form (16 units of 16 rows a
 * workgroup, slabs of 16 units: sizes below, at and across the tile).
 */
export function backwardCases(): Array<{ shape: CellStepShape; step: number; name: string; lengths: number[] | null; direct: boolean; batchTile: boolean; wideTile: boolean; tiled: boolean }> {
  const out: ReturnType<typeof backwardCases> = [];
  const sizes = [
    [1, 1],
    [3, 7],
    [2, 65],
    [4, 130],
    [6, 33],
  ];
  const wideSizes = [
    [8, 1],
    [9, 7],
    [10, 130],
    [17, 33],
  ];
  const tiledSizes = [
    [1, 1],
    [5, 17],
    [17, 37],
    [33, 130],
    [16, 7],
  ];
  for (const [direct, batchTile, wideTile, tiled] of [[false, false, false, false], [true, false, false, false], [true, true, false, false], [true, false, true, false], [false, false, false, true]]) {
    for (const [batch, hidden] of wideTile ? wideSizes : tiled ? tiledSizes : sizes) {
      for (const numDirections of [1, 2]) {
        const seqLen = 3;
        for (const step of [0, 1, 2, 3]) {
          for (const lengths of [null, Array.from({ length: batch }, (_, b) => 1 + ((b + step) % seqLen))]) {
            out.push({
              shape: { batch, hidden, seqLen, numDirections, ...layerStates(numDirections, batch, hidden, step % 2) },
              step,
              lengths,
              direct,
              batchTile,
              wideTile,
              tiled,
              name: `${direct ? `direct${batchTile ? ', batch-tiled' : ''}${wideTile ? ', wide tile' : ''}, ` : ''}${tiled ? 'tiled, ' : ''}B=${batch} H=${hidden} D=${numDirections} dispatch ${step} of ${seqLen + 1}${lengths ? `, lengths ${lengths}` : ''}`,
            });
          }
        }
      }
    }
  }
  return out;
}

/** The kernel variants a backward case runs, by name. */
export const BACKWARD_VARIANTS = {
  staged: {},
  direct: { direct: true },
  tile: { direct: true, batchTile: true },
  wide: { direct: true, wideTile: true },
  tiled: { tiled: true },
} as const;

/** Which of BACKWARD_VARIANTS runs case `c`. */
export function backwardVariant(c: { direct: boolean; batchTile: boolean; wideTile: boolean; tiled: boolean }): keyof typeof BACKWARD_VARIANTS {
  return c.tiled ? 'tiled' : c.wideTile ? 'wide' : c.direct ? (c.batchTile ? 'tile' : 'direct') : 'staged';
}

/** ∂f/∂x[i] for every i by central differences (float64), with x restored afterwards. */
export function centralDifferences(f: () => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + eps;
    const up = f();
    x[i] = v - eps;
    const down = f();
    x[i] = v;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

/** Weight gradients of one step from its gate gradients: dW_hh = dGrecᵀ·hPrev. */
export function whhGradient(batch: number, hidden: number, dGrec: ArrayLike<number>, hPrev: ArrayLike<number>): Float64Array {
  const GH = dGrec.length / batch;
  const out = new Float64Array(GH * hidden);
  for (let r = 0; r < GH; r++) {
    for (let k = 0; k < hidden; k++) {
      let acc = 0;
      for (let b = 0; b < batch; b++) acc += dGrec[b * GH + r] * hPrev[b * hidden + k];
      out[r * hidden + k] = acc;
    }
  }
  return out;
}

/** Uniform random float64s in [lo, hi). */
export function random64(rng: Random, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from({ length: n }, () => rng.range(lo, hi));
}

/** Σ a ⊙ w: a scalar loss whose gradient with respect to a is w. */
export function dotLoss(a: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * w[i];
  return s;
}

/** Finite-difference comparison: float64 central differences are good to about 1e-9 here. */
export function expectMatchesDifferences(name: string, analytic: ArrayLike<number>, numeric: ArrayLike<number>): void {
  expectClose(name, analytic, numeric, 1e-7, 1e-6);
}
