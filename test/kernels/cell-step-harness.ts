/**
 * Runs one fused cell step kernel on fresh random buffers laid out exactly as the scheduler
 * lays them out (several layers in the state buffers, both directions, a middle layer), and
 * compares every written element with the float64 cell reference. Outputs start poisoned
 * (NaN); elements the step must not write are checked to be unchanged.
 */
import { expect } from 'vitest';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { persistentWorkgroup, type CellStepKernel, type CellStepShape } from '../../src/kernels/recurrent-step.js';
import { directProduct } from '../../src/placement/rules.js';
import type { Random } from '../../src/spec/random.js';
import { packWhhTHalf, roundToHalf } from '../../src/spec/half.js';
import { packedGateStride } from '../../src/spec/spec.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { EVERY, FULL_MATRIX, LARGE_RESIDENT, largeResidentRuns, plainRuns, RESIDENT_REGIONS, type Rotation } from './coverage.js';

/**
 * Where layer `layer`'s states sit in state buffers it shares with others, as in a stack of
 * unlike layers: behind `layer` layers of odd sizes (not multiples of D·B·H), with its cell
 * states at another offset than its hidden states, and a layer of odd size after it.
 */
export function layerStates(D: number, B: number, H: number, layer: number): Pick<CellStepShape, 'stateBase' | 'stateFloats' | 'cellBase' | 'cellFloats'> {
  const own = D * B * H;
  const stateBase = layer * (own + 7);
  const cellBase = layer * (own + 3);
  return { stateBase, stateFloats: stateBase + own + 5, cellBase, cellFloats: cellBase + own + 2 };
}

/** One direction's step as the reference sees it (PyTorch layouts). */
export interface ReferenceStepInput {
  batch: number;
  hidden: number;
  xproj: Float32Array; // [B, G·H]
  hPrev: Float32Array; // [B, H]
  cPrev: Float32Array; // [B, H]
  whh: Float32Array; // [G·H, H]
  bhh: Float32Array; // [G·H]
  peephole: Float32Array | null; // [3H], LSTM with peepholes
  direction: number; // 0 forward, 1 reverse: picks the cell functions
}

/**
 * W_hh of each direction ([G·H, H], PyTorch layout) packed as the model packs it: element
 * (d, k, j, g) = W_hh[g·H + j, k], P floats per (k, j), the padding gates zero.
 */
export function packWhhT(whh: readonly Float32Array[], H: number, G: number): Float32Array {
  const P = packedGateStride(G);
  const out = new Float32Array(whh.length * H * H * P);
  whh.forEach((w, d) => {
    for (let k = 0; k < H; k++) {
      for (let j = 0; j < H; j++) for (let g = 0; g < G; g++) out[((d * H + k) * H + j) * P + g] = w[(g * H + j) * H + k];
    }
  });
  return out;
}

/** W_hh as a kernel reads it: rounded to half precision for the HALF forms (the reference then takes the rounded weights). */
function weightsAsRead(kernel: CellStepKernel, whh: Float32Array[]): Float32Array[] {
  return kernel.spec.half ? whh.map((w) => Float32Array.from(w, roundToHalf)) : whh;
}

/** The whhT binding: packWhhT's floats, or for the HALF forms their half-precision words (packWhhTHalf). */
function uploadWhhT(ctx: GpuContext, kernel: CellStepKernel, whh: Float32Array[], H: number): GPUBuffer {
  const packed = packWhhT(whh, H, kernel.gates);
  if (!kernel.spec.half) return upload(ctx, 'whhT', packed);
  const words = packWhhTHalf(packed, whh.length, H, packedGateStride(kernel.gates));
  return upload(ctx, 'whhT (half pairs)', new Float32Array(words.buffer));
}

/** A uniform buffer holding the packed Params of dispatch `step` of `shape`, as the scheduler writes them. */
export function stepUniform(ctx: GpuContext, kernel: { uniformLayout: { size: number }; packStep(shape: CellStepShape, step: number, target: ArrayBuffer, byteOffset: number): void }, shape: CellStepShape, step: number): GPUBuffer {
  const uniform = createUniformBuffer(ctx, 'step params', ctx.limits.minUniformBufferOffsetAlignment);
  const data = new ArrayBuffer(kernel.uniformLayout.size);
  kernel.packStep(shape, step, data, 0);
  ctx.device.queue.writeBuffer(uniform, 0, data);
  return uniform;
}

export type ReferenceStep = (s: ReferenceStepInput) => { h: Float64Array; c?: Float64Array; saved?: Float64Array[] };

export async function checkCellStep(
  ctx: GpuContext,
  kernel: CellStepKernel,
  reference: ReferenceStep,
  rng: Random,
  shape: CellStepShape,
  step: number,
  label: string,
  lengths: readonly number[] | null = null,
  rowGroups?: number,
): Promise<void> {
  const { batch: B, hidden: H, seqLen: T, numDirections: D, stateBase, stateFloats, cellBase } = shape;
  const G = kernel.gates;
  const GH = G * H;
  const e = kernel.extents(shape);
  const xproj = randomFloats(rng, e.xproj, -2, 2);
  const whh = weightsAsRead(kernel, Array.from({ length: D }, () => randomFloats(rng, GH * H, -0.8, 0.8)));
  const bhh = randomFloats(rng, e.bhh);
  // h0 holds the initial states, then each sequence's length.
  const h0 = randomFloats(rng, e.h0);
  const len = (b: number): number => (lengths ? lengths[b] : T);
  for (let b = 0; b < B; b++) h0[stateFloats + b] = len(b);
  const active = (b: number): boolean => step < len(b);
  // The slot row b of direction d handles: its time, or t = step where the row has finished.
  const timeOf = (d: number, b: number): number => (d === 0 || !active(b) ? step : len(b) - 1 - step);
  const c = randomFloats(rng, e.extra || 1, -2, 2);
  // hseq: random everywhere (previous slots are read), NaN in the slots this step writes.
  const hseq = randomFloats(rng, e.hseq);
  for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) hseq[(timeOf(d, b) * B + b) * D * H + d * H + j] = NaN;

  const uniform = stepUniform(ctx, kernel, shape, step);
  const buffers = {
    uniform,
    xproj: upload(ctx, 'xproj', xproj),
    whhT: uploadWhhT(ctx, kernel, whh, H),
    bhh: upload(ctx, 'bhh', bhh),
    h0: upload(ctx, 'h0', h0),
    hseq: upload(ctx, 'hseq', hseq),
    hN: poisoned(ctx, 'hN', e.hN),
    extra: kernel.spec.extra === 'c' ? upload(ctx, 'c', c) : kernel.spec.extra === 'rh' ? poisoned(ctx, 'rh', e.extra) : undefined,
    saved: kernel.savesActivations ? poisoned(ctx, 'saved', e.saved) : undefined,
  };
  kernel.checkBuffers(shape, buffers);
  await runPass(ctx, (pass) => kernel.encodeStep(pass, kernel.bindGroup(buffers), 0, kernel.workgroups(shape, rowGroups)));
  const gotSeq = await download(ctx, buffers.hseq, e.hseq);
  const gotHN = await download(ctx, buffers.hN, e.hN);
  const gotC = kernel.spec.extra === 'c' ? await download(ctx, buffers.extra!, e.extra) : null;
  const gotSaved = buffers.saved ? await download(ctx, buffers.saved, e.saved) : null;
  const S = kernel.spec.savedSlots;
  const expectSaved = new Float64Array(e.saved).fill(NaN);

  const expectSeq = Float64Array.from(hseq);
  const expectHN = new Float64Array(e.hN).fill(NaN);
  const expectC = Float64Array.from(c.subarray(0, e.extra));
  for (let d = 0; d < D; d++) {
    const s = stateBase + d * B * H;
    const sc = cellBase + d * B * H;
    // Inputs row by row from each row's own time (zeros for finished rows, whose result is unused).
    const hPrev = new Float32Array(B * H);
    const x = new Float32Array(B * GH);
    for (let b = 0; b < B; b++) {
      if (!active(b)) continue;
      const t = timeOf(d, b);
      for (let k = 0; k < H; k++) {
        hPrev[b * H + k] = step === 0 ? h0[s + b * H + k] : hseq[((d === 0 ? t - 1 : t + 1) * B + b) * D * H + d * H + k];
      }
      x.set(xproj.subarray(((t * B + b) * D + d) * GH, ((t * B + b) * D + d + 1) * GH), b * GH);
    }
    const r = reference({
      batch: B,
      hidden: H,
      xproj: x,
      hPrev,
      cPrev: c.subarray(sc, sc + B * H),
      whh: whh[d],
      bhh: bhh.subarray(d * GH, (d + 1) * GH),
      peephole: kernel.spec.extraBias ? bhh.subarray(D * GH + d * 3 * H, D * GH + (d + 1) * 3 * H) : null,
      direction: d,
    });
    for (let b = 0; b < B; b++) {
      const t = timeOf(d, b);
      for (let j = 0; j < H; j++) {
        if (!active(b)) {
          expectSeq[(t * B + b) * D * H + d * H + j] = 0;
          continue;
        }
        expectSeq[(t * B + b) * D * H + d * H + j] = r.h[b * H + j];
        if (step === len(b) - 1) expectHN[s + b * H + j] = r.h[b * H + j];
        if (r.c) expectC[sc + b * H + j] = r.c[b * H + j];
        if (gotSaved) {
          for (let slot = 0; slot < S; slot++) expectSaved[((t * B + b) * D + d) * S * H + slot * H + j] = r.saved![slot][b * H + j];
        }
      }
    }
  }
  const close = (name: string, got: Float32Array, want: Float64Array): void => {
    // Elements the reference leaves NaN are those the kernel must not write.
    const keep = [...want.keys()].filter((i) => !Number.isNaN(want[i]));
    expectClose(`${label}: ${name}`, keep.map((i) => got[i]), keep.map((i) => want[i]));
    const stray = [...want.keys()].filter((i) => Number.isNaN(want[i]) && !Number.isNaN(got[i]));
    expect(stray, `${label}: ${name} written where it must not be`).toEqual([]);
  };
  close('hseq', gotSeq, expectSeq);
  close('hN', gotHN, expectHN);
  if (gotC) close('c', gotC, expectC);
  if (gotSaved) close('saved activations', gotSaved, expectSaved);
  for (const b of Object.values(buffers)) b?.destroy();
}

/**
 * Odd sizes: a single unit, sizes below, at and across the 64-unit workgroup; batches below,
 * at and across the 4-row batch tile.
 */
export const CELL_SIZES: ReadonlyArray<{ batch: number; hidden: number }> = [
  { batch: 1, hidden: 1 },
  { batch: 3, hidden: 7 },
  { batch: 2, hidden: 65 },
  { batch: 5, hidden: 130 },
  { batch: 9, hidden: 33 },
];

export interface CellCase {
  shape: CellStepShape;
  step: number;
  batchTile: boolean;
  /** The DIRECT recurrent product (h_{t-1} read from memory) instead of the staged one. */
  direct: boolean;
  training: boolean;
  /** Per-row sequence lengths (null: all run every step). */
  lengths: number[] | null;
  name: string;
}

/**
 * (variant, shape, step) cases: every kernel variant (one row or batch-tiled; staged or direct
 * recurrent product; inference or, with `trainingVariant`, training), the first step (reads h0), a middle step, the last step
 * (writes hN).
 */
export function cellCases(trainingVariant = true): CellCase[] {
  const out: CellCase[] = [];
  const variants = trainingVariant ? [false, true] : [false];
  for (const training of variants) {
    for (const [batchTile, direct] of [[false, false], [true, false], [false, true], [true, true]]) {
      for (const { batch, hidden } of CELL_SIZES) {
        for (const numDirections of [1, 2]) {
          const seqLen = 3;
          for (const step of [0, 1, 2]) {
            // Lengths cycling 1, 2, 3: at every step some rows run and (past step 0) some have finished.
            for (const lengths of [null, Array.from({ length: batch }, (_, b) => 1 + ((b + step) % seqLen))]) {
              out.push({
                shape: { batch, hidden, seqLen, numDirections, ...layerStates(numDirections, batch, hidden, step % 2) },
                step,
                batchTile,
                direct,
                training,
                lengths,
                name: `${training ? 'training, ' : ''}${direct ? 'direct, ' : ''}${batchTile ? 'batch-tiled' : 'one row'}: B=${batch} H=${hidden} D=${numDirections} step ${step} of ${seqLen}${lengths ? `, lengths ${lengths}` : ''}`,
              });
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * The persistent variant: one dispatch runs every step of a layer. Fresh random inputs laid out
 * as the scheduler lays them out; hseq, hN (and saved) start poisoned; the expectation steps the
 * float64 cell reference through time, each row with its own length and each direction in its
 * own time order, the finished rows keeping their state and their outputs zero.
 */
export async function checkPersistentLayer(
  ctx: GpuContext,
  kernel: CellStepKernel,
  reference: ReferenceStep,
  rng: Random,
  shape: CellStepShape,
  label: string,
  lengths: readonly number[] | null = null,
  rowGroups?: number,
): Promise<void> {
  const { batch: B, hidden: H, seqLen: T, numDirections: D, stateBase, stateFloats, cellBase } = shape;
  const G = kernel.gates;
  const GH = G * H;
  const e = kernel.extents(shape);
  const xproj = randomFloats(rng, e.xproj, -2, 2);
  // Several steps chained: W_hh entries of U(−w, w) with w = 1.5/√H (at most 0.8) keep the
  // spectral radius near 1.5/√3 < 1, as initialisers scale them, so that the identity cell's
  // linear recurrence does not explode and float32 rounding carried from step to step stays
  // inside the tolerance (with ±0.8 at H = 65 the states grow ~4× per step and values near 0
  // come from cancelling terms of size 50).
  const w = Math.min(0.8, 1.5 / Math.sqrt(H));
  const whh = weightsAsRead(kernel, Array.from({ length: D }, () => randomFloats(rng, GH * H, -w, w)));
  const bhh = randomFloats(rng, e.bhh);
  const h0 = randomFloats(rng, e.h0);
  const len = (b: number): number => (lengths ? lengths[b] : T);
  for (let b = 0; b < B; b++) h0[stateFloats + b] = len(b);
  const c = randomFloats(rng, e.extra || 1, -2, 2);

  const uniform = stepUniform(ctx, kernel, shape, 0);
  const buffers = {
    uniform,
    xproj: upload(ctx, 'xproj', xproj),
    whhT: uploadWhhT(ctx, kernel, whh, H),
    bhh: upload(ctx, 'bhh', bhh),
    h0: upload(ctx, 'h0', h0),
    hseq: poisoned(ctx, 'hseq', e.hseq),
    hN: poisoned(ctx, 'hN', e.hN),
    extra: kernel.spec.extra === 'c' ? upload(ctx, 'c', c) : kernel.spec.extra === 'rh' ? poisoned(ctx, 'rh', e.extra) : undefined,
    saved: kernel.savesActivations ? poisoned(ctx, 'saved', e.saved) : undefined,
  };
  kernel.checkBuffers(shape, buffers);
  await runPass(ctx, (pass) => kernel.encodeStep(pass, kernel.bindGroup(buffers), 0, kernel.workgroups(shape, rowGroups)));
  const gotSeq = await download(ctx, buffers.hseq, e.hseq);
  const gotHN = await download(ctx, buffers.hN, e.hN);
  const gotC = kernel.spec.extra === 'c' ? await download(ctx, buffers.extra!, e.extra) : null;
  const gotSaved = buffers.saved ? await download(ctx, buffers.saved, e.saved) : null;

  const S = kernel.spec.savedSlots;
  const expectSeq = new Float64Array(e.hseq).fill(NaN);
  const expectHN = new Float64Array(e.hN).fill(NaN);
  const expectC = Float64Array.from(c.subarray(0, e.extra));
  const expectSaved = new Float64Array(e.saved).fill(NaN);
  for (let d = 0; d < D; d++) {
    const s0 = stateBase + d * B * H;
    const sc0 = cellBase + d * B * H;
    // Each row's state in this direction, advanced through its own steps.
    const h = Float64Array.from(h0.subarray(s0, s0 + B * H));
    const cs = Float64Array.from(c.subarray(sc0, sc0 + B * H));
    for (let step = 0; step < T; step++) {
      const active = (b: number): boolean => step < len(b);
      const timeOf = (b: number): number => (d === 0 || !active(b) ? step : len(b) - 1 - step);
      const x = new Float32Array(B * GH);
      for (let b = 0; b < B; b++) if (active(b)) x.set(xproj.subarray(((timeOf(b) * B + b) * D + d) * GH, ((timeOf(b) * B + b) * D + d + 1) * GH), b * GH);
      const r = reference({
        batch: B,
        hidden: H,
        xproj: x,
        hPrev: Float32Array.from(h),
        cPrev: Float32Array.from(cs),
        whh: whh[d],
        bhh: bhh.subarray(d * GH, (d + 1) * GH),
        peephole: kernel.spec.extraBias ? bhh.subarray(D * GH + d * 3 * H, D * GH + (d + 1) * 3 * H) : null,
        direction: d,
      });
      for (let b = 0; b < B; b++) {
        const t = timeOf(b);
        for (let j = 0; j < H; j++) {
          const at = (t * B + b) * D * H + d * H + j;
          if (!active(b)) {
            expectSeq[at] = 0;
            continue;
          }
          h[b * H + j] = r.h[b * H + j];
          if (r.c) cs[b * H + j] = r.c[b * H + j];
          expectSeq[at] = r.h[b * H + j];
          if (step === len(b) - 1) expectHN[s0 + b * H + j] = r.h[b * H + j];
          if (gotSaved) for (let slot = 0; slot < S; slot++) expectSaved[((t * B + b) * D + d) * S * H + slot * H + j] = r.saved![slot][b * H + j];
        }
      }
    }
    if (kernel.spec.extra === 'c') expectC.set(cs, sc0);
  }
  const close = (name: string, got: Float32Array, want: Float64Array): void => {
    const keep = [...want.keys()].filter((i) => !Number.isNaN(want[i]));
    expectClose(`${label}: ${name}`, keep.map((i) => got[i]), keep.map((i) => want[i]));
    const stray = [...want.keys()].filter((i) => Number.isNaN(want[i]) && !Number.isNaN(got[i]));
    expect(stray, `${label}: ${name} written where it must not be`).toEqual([]);
  };
  close('hseq', gotSeq, expectSeq);
  close('hN', gotHN, expectHN);
  if (gotC) close('c', gotC, expectC);
  if (gotSaved) close('saved activations', gotSaved, expectSaved);
  for (const b of Object.values(buffers)) b?.destroy();
}

/**
 * Whole-layer cases for the persistent variant: one row or batch-tiled, inference or training,
 * odd sizes (hidden sizes below, at and across one workgroup of units and several units per
 * invocation), both directions, with and without per-row lengths. Outside the full matrix the
 * resident form's large sizes are those of the covering design for `rotation` (coverage.ts).
 */
export function persistentCases(trainingVariant = true, rotation: Rotation = EVERY): Array<{ shape: CellStepShape; batchTile: boolean; training: boolean; direct: boolean; lengths: number[] | null; rowGroups?: number; subgroups?: false; name: string }> {
  const out: ReturnType<typeof persistentCases> = [];
  const sizes = [
    { batch: 1, hidden: 1, seqLen: 4 },
    { batch: 3, hidden: 7, seqLen: 5 },
    { batch: 5, hidden: 65, seqLen: 3 },
    { batch: 6, hidden: 130, seqLen: 2 },
    { batch: 5, hidden: 200, seqLen: 2 },
    { batch: 4, hidden: 256, seqLen: 2 },
    { batch: 2, hidden: 300, seqLen: 3 },
    { batch: 3, hidden: 512, seqLen: 2 },
  ];
  // direct: the resident form (W_hh in private memory, the product unrolled over H), built
  // for every cell and size here (residentFits). Its units an invocation (residentSplit) and
  // where their weights live vary over H = 65 .. 512: in private memory alone up to H = 130
  // (the LSTM's 4 and 3 units at H = 65 and 130), partly in main's function variable at
  // H = 200 (the LSTM's 3 units, the GRU's 4), 256 and 300 (those and the Elman cell's 8), and
  // in residentWalk's too at H = 512 (the LSTM's 2, the GRU's 3, the Elman cell's 8), each
  // boundary falling inside a unit's weights. The staged form's sizes end at 65 and take
  // H = 300 (several units an invocation).
  for (const [training, batchTile, direct] of variantGrid(trainingVariant)) {
    for (const { batch, hidden, seqLen } of sizes) {
      if (!direct && ((hidden >= 130 && hidden <= 256) || hidden > 300)) continue;
      if (direct && !largeResidentRuns(RESIDENT_REGIONS, hidden, batchTile, training, trainingVariant, rotation)) continue;
      for (const numDirections of [1, 2]) {
        for (const lengths of [null, Array.from({ length: batch }, (_, b) => 1 + ((b * 2) % seqLen))]) {
          // The resident form's workgroups along the rows (residentRowGroups picks them by the
          // CPU's threads): one walking every row block at even batches, two at odd ones.
          const rowGroups = direct ? (batch % 2 === 0 ? 1 : 2) : undefined;
          // The resident form shares its loads of h_{t-1} across subgroups where the device
          // has them (residentLanes); its form without subgroups, what other devices run, is
          // checked too at three sizes, both directions with lengths (the covering design's
          // large one in its first region, one row).
          const plainSizes = FULL_MATRIX ? [7, 65, 300] : [7, 65, RESIDENT_REGIONS[0]];
          const plainToo = direct && numDirections === 2 && lengths !== null && plainSizes.includes(hidden) && plainRuns(hidden, rotation) && (FULL_MATRIX || hidden < LARGE_RESIDENT || !batchTile);
          for (const subgroups of plainToo ? [undefined, false as const] : [undefined]) {
            out.push({
              shape: { batch, hidden, seqLen, numDirections, ...layerStates(numDirections, batch, hidden, 1) },
              batchTile,
              training,
              direct,
              lengths,
              rowGroups,
              ...(subgroups === false ? { subgroups } : {}),
              name: `persistent, ${training ? 'training, ' : ''}${direct ? `resident (${rowGroups} row group${rowGroups === 1 ? '' : 's'}${subgroups === false ? ', no subgroups' : ''}), ` : ''}${batchTile ? 'batch-tiled' : 'one row'}: B=${batch} H=${hidden} T=${seqLen} D=${numDirections}${lengths ? `, lengths ${lengths}` : ''}`,
            });
          }
        }
      }
    }
  }
  return out;
}

/** (training, batchTile, direct) for every persistent variant; training only with `trainingVariant`. */
function variantGrid(trainingVariant: boolean): Array<[boolean, boolean, boolean]> {
  const out: Array<[boolean, boolean, boolean]> = [];
  for (const training of trainingVariant ? [false, true] : [false]) {
    for (const batchTile of [false, true]) for (const direct of [false, true]) out.push([training, batchTile, direct]);
  }
  return out;
}

/**
 * Skips a resident case (`direct`) off software adapters: a model takes the direct product, and
 * so the resident form, only on a software adapter (directProduct). On a GPU the form is out of
 * reach, and NVIDIA's Vulkan driver failed to build its largest inference pipelines (the gated
 * cells at H = 130 with the 4-row tile: VK_ERROR_UNKNOWN); the other resident cases passed there.
 */
export function skipResidentOffSoftware(ctx: GpuContext, c: { direct: boolean }, skip: (note: string) => void): void {
  if (c.direct && !directProduct(ctx)) skip('the resident form is built for software adapters, and a model selects it only there');
}

/** The persistent kernel options of case `c`: its workgroup, and for the direct (resident) form its hidden size. */
export function persistentVariant(c: { shape: CellStepShape; batchTile: boolean; direct: boolean; subgroups?: false }): { batchTile: boolean; persistent: true; direct: boolean; workgroup: number; hidden: number; subgroups?: false } {
  return { batchTile: c.batchTile, persistent: true, direct: c.direct, workgroup: persistentWorkgroup(c.shape.hidden), hidden: c.shape.hidden, ...(c.subgroups === false ? { subgroups: false as const } : {}) };
}
