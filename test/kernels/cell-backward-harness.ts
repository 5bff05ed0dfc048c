/**
 * Runs one backward step kernel (one dispatch of the reverse-time sweep) on fresh random
 * buffers laid out as the scheduler lays them out, and compares every written element with
 * the float64 references; outputs start poisoned (NaN) and whatever the dispatch must not
 * write is checked unchanged. Also: central finite differences of the forward references,
 * against which the backward references are checked.
 */
import { expect } from 'vitest';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import type { CellBackwardKernel } from '../../src/kernels/recurrent-step-backward.js';
import type { CellStepShape } from '../../src/kernels/recurrent-step.js';
import type { Random } from '../../src/model/random.js';
import { gradThroughWhh } from '../../src/reference/rnn-cell-backward.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { packWhhT } from './cell-step-harness.js';

/** One unit-row's backward as the reference computes it, for one direction. */
export interface BackwardStepReference {
  /** Random but plausible saved activations, slot by slot ([B, H] each). */
  randomSaved(rng: Random, n: number): Float32Array[];
  /** From saved slots, the whole dh and the carry in: dG, dGrec (if separate), carry out. */
  run(batch: number, hidden: number, saved: Float32Array[], dh: Float64Array, carry: Float32Array): { dG: Float64Array; dGrec?: Float64Array; carry?: Float64Array };
  /** The carry adds to dh (GRU) rather than standing for dc (LSTM). */
  carryIsDh: boolean;
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
  const { batch: B, hidden: H, seqLen: T, numDirections: D, numLayers: L, layer } = shape;
  const G = kernel.gates;
  const GH = G * H;
  const S = kernel.spec.savedSlots;
  const e = kernel.extents(shape);
  // saved, laid out [T, B, D, S·H] from per-(t, d) slot arrays.
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
  const whh = Array.from({ length: D }, () => randomFloats(rng, GH * H, -0.8, 0.8));
  const whhT = packWhhT(whh, H, G);
  const dy = randomFloats(rng, e.dy);
  // gradHN holds the gradient of hN, then each sequence's length.
  const gradHN = randomFloats(rng, e.gradHN);
  const len = (b: number): number => (lengths ? lengths[b] : T);
  for (let b = 0; b < B; b++) gradHN[L * D * B * H + b] = len(b);
  const carry = randomFloats(rng, e.carry || 1);
  const running = (b: number): boolean => step < len(b);
  // Row b's time in this dispatch, and in the previous one.
  const timeOf = (d: number, b: number): number => (d === 0 && running(b) ? len(b) - 1 - step : step);
  const laterOf = (d: number, b: number): number => (d === 0 ? len(b) - step : step - 1);
  // The recurrent-side buffer (dGrec for the GRU, else dG) has slot T for each row's initial step.
  const sep = kernel.spec.recurrentGrad;
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
          if (sep) dGrec[index(t, b, d, q)] = NaN;
        }
      }
      if (step === len(b) - 1) for (let q = 0; q < GH; q++) (sep ? dGrec : dG)[index(T, b, d, q)] = NaN;
    }
  }

  const uniform = createUniformBuffer(ctx, 'backward params', ctx.limits.minUniformBufferOffsetAlignment);
  const data = new ArrayBuffer(kernel.uniformLayout.size);
  kernel.packStep(shape, step, data, 0);
  ctx.device.queue.writeBuffer(uniform, 0, data);
  const buffers = {
    uniform,
    saved: upload(ctx, 'saved', saved),
    whhT: upload(ctx, 'whhT', whhT),
    dy: upload(ctx, 'dy', dy),
    gradHN: upload(ctx, 'gradHN', gradHN),
    dG: upload(ctx, 'dG', dG),
    dh0: poisoned(ctx, 'dh0', e.dh0),
    carry: kernel.spec.carry ? upload(ctx, 'carry', carry) : undefined,
    dGrec: sep ? upload(ctx, 'dGrec', dGrec) : undefined,
  };
  kernel.checkBuffers(shape, buffers);
  await runPass(ctx, (pass) => kernel.encodeStep(pass, kernel.bindGroup(buffers), 0, kernel.workgroups(shape)));
  const got = {
    dG: await download(ctx, buffers.dG, e.dG),
    dh0: await download(ctx, buffers.dh0, e.dh0),
    carry: buffers.carry ? await download(ctx, buffers.carry, e.carry) : null,
    dGrec: buffers.dGrec ? await download(ctx, buffers.dGrec, e.dGrec) : null,
  };

  const want = {
    dG: Float64Array.from(dG),
    dh0: new Float64Array(e.dh0).fill(NaN),
    carry: Float64Array.from(carry.subarray(0, e.carry)),
    dGrec: Float64Array.from(dGrec.subarray(0, e.dGrec)),
  };
  for (let d = 0; d < D; d++) {
    const s0 = (layer * D + d) * B * H;
    // The gradient reaching h_t from later in time, row by row.
    const rec = new Float64Array(B * H);
    const src = sep ? dGrec : dG;
    for (let b = 0; b < B; b++) {
      if (step > len(b)) continue;
      if (step === 0) {
        for (let j = 0; j < H; j++) rec[b * H + j] = gradHN[s0 + b * H + j];
      } else {
        const laterGrad = Float64Array.from({ length: GH }, (_, q) => src[index(laterOf(d, b), b, d, q)]);
        rec.set(gradThroughWhh(1, H, laterGrad, whh[d]), b * H);
      }
      if (ref.carryIsDh) for (let j = 0; j < H; j++) rec[b * H + j] += carry[s0 + b * H + j];
    }
    // Rows at their end form dh0; finished rows zero their slot at t = step.
    for (let b = 0; b < B; b++) {
      if (step === len(b)) for (let j = 0; j < H; j++) want.dh0[s0 + b * H + j] = rec[b * H + j];
      if (!running(b) && step < T && step >= len(b)) {
        for (let q = 0; q < GH; q++) {
          want.dG[index(step, b, d, q)] = 0;
          if (sep) want.dGrec[index(step, b, d, q)] = 0;
        }
      }
    }
    // Running rows: the cell backward at each row's own time.
    const slots = Array.from({ length: S }, () => new Float32Array(B * H));
    const dh = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      if (!running(b)) continue;
      const t = timeOf(d, b);
      for (let slot = 0; slot < S; slot++) slots[slot].set(savedSlots[t][d][slot].subarray(b * H, (b + 1) * H), b * H);
      for (let j = 0; j < H; j++) dh[b * H + j] = dy[(t * B + b) * D * H + d * H + j] + rec[b * H + j];
    }
    const carryIn = carry.subarray(s0, s0 + B * H);
    const r = ref.run(B, H, slots, dh, carryIn);
    for (let b = 0; b < B; b++) {
      if (!running(b)) continue;
      const t = timeOf(d, b);
      for (let q = 0; q < GH; q++) {
        want.dG[index(t, b, d, q)] = r.dG[b * GH + q];
        if (r.dGrec) want.dGrec[index(t, b, d, q)] = r.dGrec[b * GH + q];
        if (step === len(b) - 1) (sep ? want.dGrec : want.dG)[index(T, b, d, q)] = (r.dGrec ?? r.dG)[b * GH + q];
      }
      if (r.carry) for (let j = 0; j < H; j++) want.carry[s0 + b * H + j] = r.carry[b * H + j];
    }
  }
  const close = (name: string, g: Float32Array, w: Float64Array): void => {
    const keep = [...w.keys()].filter((i) => !Number.isNaN(w[i]));
    expectClose(`${label}: ${name}`, keep.map((i) => g[i]), keep.map((i) => w[i]));
    const stray = [...w.keys()].filter((i) => Number.isNaN(w[i]) && !Number.isNaN(g[i]));
    expect(stray, `${label}: ${name} written where it must not be`).toEqual([]);
  };
  close('dG', got.dG, want.dG);
  close('dh0', got.dh0, want.dh0);
  if (got.carry) close('carry', got.carry, want.carry);
  if (got.dGrec) close('dGrec', got.dGrec, want.dGrec);
  for (const b of Object.values(buffers)) b?.destroy();
}

/**
 * Dispatches to test: the first (from gradHN), a middle one, the last step, and the dh0 pass;
 * all rows running all steps, or rows of lengths 1, 2, 3 (finished, at their end, running);
 * each with the staged product, the direct one and the direct one with the batch tile.
 */
export function backwardCases(): Array<{ shape: CellStepShape; step: number; name: string; lengths: number[] | null; direct: boolean; batchTile: boolean }> {
  const out: ReturnType<typeof backwardCases> = [];
  for (const [direct, batchTile] of [[false, false], [true, false], [true, true]]) {
    for (const [batch, hidden] of [
      [1, 1],
      [3, 7],
      [2, 65],
      [4, 130],
      [6, 33],
    ]) {
      for (const numDirections of [1, 2]) {
        const seqLen = 3;
        for (const step of [0, 1, 2, 3]) {
          for (const lengths of [null, Array.from({ length: batch }, (_, b) => 1 + ((b + step) % seqLen))]) {
            out.push({
              shape: { batch, hidden, seqLen, numDirections, numLayers: 2, layer: step % 2 },
              step,
              lengths,
              direct,
              batchTile,
              name: `${direct ? `direct${batchTile ? ', batch-tiled' : ''}, ` : ''}B=${batch} H=${hidden} D=${numDirections} dispatch ${step} of ${seqLen + 1}${lengths ? `, lengths ${lengths}` : ''}`,
            });
          }
        }
      }
    }
  }
  return out;
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
