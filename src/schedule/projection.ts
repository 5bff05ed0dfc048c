/**
 * LSTM layers with a projection (projSize P) on WebGPU: such a layer runs as the LSTM over
 * r_t = o_t ⊙ tanh(c_t) [H] whose recurrent weight is W_hh·W_hr (whhT holds it, packed;
 * spec/parameters.ts), from r_{−1} = 0, in buffers of its own (r0 with the lengths after it,
 * the r sequence, r_N). Around the steps, GEMMs (per direction d):
 *   before   xproj of each row's first step += h0·W_hhᵀ (what W_hh·h_{−1} adds): rows t = 0
 *            at once forward, one row at t = L_b − 1 each in reverse (offsets set per call)
 *   after    the output h = r·W_hrᵀ [T, B, D·P], hN = r_N·W_hrᵀ
 * and in the gradient pass, with the sweep reading dy·W_hr and gradHN·W_hr:
 *   dW_eff = Σ dG_tᵀ·r_{t−1} [G·H, H] (r_{−1} = 0), dW_hh = dW_eff·W_hrᵀ + dG_firstᵀ·h0,
 *   dh0 = dG_first·W_hh, dW_hr = W_hhᵀ·dW_eff + dyᵀ·r + gradHNᵀ·r_N
 * where dG_first is each row's first step's dG, which the sweep copies to dG's slot T. After an
 * optimizer update, whhT = W_hh·W_hr again (one GEMM a direction over the four gates).
 */
import { createStorageBuffer, createUniformBuffer } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import type { MatmulDispatch, MatmulKernel, MatmulShape } from '../kernels/matmul.js';
import { gateCount, packedGateStride, stateOffset, type ModelSpec } from '../spec/spec.js';

/** One GEMM to record: its shape and operands; `perRow` makes its offsets those of row b's first reverse step, per call. */
export interface GemmSpec {
  shape: MatmulShape;
  a: GPUBuffer;
  b: GPUBuffer;
  c: GPUBuffer;
  perRow?: { b: number; at: (length: number) => Partial<MatmulShape> };
}

/** GEMMs with a uniform slot each, encoded in order; those `perRow` rewritten from each call's lengths. */
export class GemmList {
  private readonly uniform: GPUBuffer | null;
  private readonly slot: number;
  private readonly entries: Array<{ spec: GemmSpec; bindGroup: GPUBindGroup; work: MatmulDispatch }> = [];

  constructor(
    private readonly ctx: GpuContext,
    private readonly matmul: MatmulKernel,
    label: string,
    specs: readonly GemmSpec[],
    owned: GPUBuffer[],
  ) {
    const alignment = ctx.limits.minUniformBufferOffsetAlignment;
    this.slot = Math.ceil(matmul.params({ M: 1, N: 1, K: 1 }).byteLength / alignment) * alignment;
    this.uniform = specs.length ? createUniformBuffer(ctx, `webrnn ${label} uniforms`, specs.length * this.slot) : null;
    if (this.uniform) owned.push(this.uniform);
    const data = new ArrayBuffer(Math.max(1, specs.length) * this.slot);
    specs.forEach((spec, i) => {
      const bindings = { uniform: this.uniform!, uniformOffset: i * this.slot, a: spec.a, b: spec.b, bias: spec.a, c: spec.c };
      matmul.checkBuffers(spec.shape, bindings);
      new Uint8Array(data, i * this.slot).set(new Uint8Array(matmul.params(spec.shape)));
      this.entries.push({ spec, bindGroup: matmul.bindGroup(bindings, spec.shape), work: matmul.dispatch(spec.shape) });
    });
    if (this.uniform) ctx.device.queue.writeBuffer(this.uniform, 0, data);
  }

  get length(): number {
    return this.entries.length;
  }

  encode(pass: GPUComputePassEncoder): void {
    for (const e of this.entries) this.matmul.encode(pass, e.bindGroup, e.work);
  }

  /** Rewrite the offsets of the per-row GEMMs from each row's length. */
  setLengths(lengths: ArrayLike<number>): void {
    this.entries.forEach((e, i) => {
      const row = e.spec.perRow;
      if (row) this.ctx.device.queue.writeBuffer(this.uniform!, i * this.slot, this.matmul.params({ ...e.spec.shape, ...row.at(lengths[row.b]) }));
    });
  }
}

/** A projecting layer's sizes: D, H, P, G·H, and where its states start in h0/hN. */
function sizes(spec: ModelSpec, l: number, B: number) {
  const { numDirections: D, hiddenSize: H, projSize: P, kind } = spec.layers[l];
  return { D, H, P, GH: gateCount(kind) * H, state: stateOffset(spec, l, B) };
}

/** A projecting layer's forward buffers and GEMMs. */
export class ProjectionForward {
  /** r_{−1} = 0 [D, B, H], then each sequence's length [B]: what the step kernels read as h0. */
  readonly r0: GPUBuffer;
  /** r of every step [T, B, D·H] and the final r [D, B, H]. */
  readonly rseq: GPUBuffer;
  readonly rN: GPUBuffer;
  readonly fold: GemmList;
  readonly output: GemmList;

  constructor(ctx: GpuContext, matmul: MatmulKernel, spec: ModelSpec, l: number, B: number, T: number, x: { xproj: GPUBuffer; h0: GPUBuffer; hN: GPUBuffer; hseq: GPUBuffer; whh: GPUBuffer; whr: GPUBuffer }, owned: GPUBuffer[]) {
    const { D, H, P, GH, state } = sizes(spec, l, B);
    const make = (label: string, floats: number): GPUBuffer => {
      const b = createStorageBuffer(ctx, `webrnn layer ${l} ${label}`, floats);
      owned.push(b);
      return b;
    };
    this.r0 = make('r0 [D,B,H] + lengths [B]', D * B * H + B);
    this.rseq = make('r [T,B,D*H]', T * B * D * H);
    this.rN = make('rN [D,B,H]', D * B * H);
    const fold: GemmSpec[] = [];
    const output: GemmSpec[] = [];
    for (let d = 0; d < D; d++) {
      // xproj[row, d·GH + q] += Σ_p h0[row, p]·W_hh[q, p]: W_hh [GH, P] stored as Bᵀ.
      const f = { N: GH, K: P, lda: P, ldb: P, ldc: D * GH, offsetB: d * GH * P, accumulate: true };
      if (d === 0) fold.push({ shape: { ...f, M: B, offsetA: state, offsetC: 0 }, a: x.h0, b: x.whh, c: x.xproj });
      else {
        for (let b = 0; b < B; b++) {
          const at = (len: number): Partial<MatmulShape> => ({ offsetC: ((len - 1) * B + b) * D * GH + GH });
          fold.push({ shape: { ...f, M: 1, offsetA: state + (B + b) * P, ...at(T) }, a: x.h0, b: x.whh, c: x.xproj, perRow: { b, at } });
        }
      }
      // h = r·W_hrᵀ over every step, and hN = r_N·W_hrᵀ: W_hr [P, H] stored as Bᵀ.
      const o = { N: P, K: H, ldb: H, offsetB: d * P * H };
      output.push({ shape: { ...o, M: T * B, lda: D * H, offsetA: d * H, ldc: D * P, offsetC: d * P }, a: this.rseq, b: x.whr, c: x.hseq });
      output.push({ shape: { ...o, M: B, lda: H, offsetA: d * B * H, ldc: P, offsetC: state + d * B * P }, a: this.rN, b: x.whr, c: x.hN });
    }
    this.fold = new GemmList(ctx, matmul, `layer ${l} projection fold`, fold, owned);
    this.output = new GemmList(ctx, matmul, `layer ${l} projection output`, output, owned);
  }
}

/** A projecting layer's gradient buffers and GEMMs (see the top of this file). */
export class ProjectionGradient {
  /** The gradient reaching r [T, B, D·H] and r_N [D, B, H] (then the lengths [B]), dW_eff [D, G·H, H], and where the sweep's gradient of r_{−1} goes (unused). */
  readonly dyR: GPUBuffer;
  readonly gradHNr: GPUBuffer;
  readonly dWeff: GPUBuffer;
  readonly sink: GPUBuffer;
  /** Before the sweep: dyR and gradHNr. After it: dW_eff, then dW_hh, dh0, dW_hr. */
  readonly before: GemmList;
  readonly after: GemmList;

  constructor(
    ctx: GpuContext,
    matmul: MatmulKernel,
    spec: ModelSpec,
    l: number,
    B: number,
    T: number,
    x: { fwd: ProjectionForward; dy: GPUBuffer; gradHN: GPUBuffer; dG: GPUBuffer; h0: GPUBuffer; dh0: GPUBuffer; whh: GPUBuffer; whr: GPUBuffer; dWhh: GPUBuffer; dWhr: GPUBuffer },
    owned: GPUBuffer[],
  ) {
    const { D, H, P, GH, state } = sizes(spec, l, B);
    const make = (label: string, floats: number): GPUBuffer => {
      const b = createStorageBuffer(ctx, `webrnn layer ${l} ${label}`, floats);
      owned.push(b);
      return b;
    };
    this.dyR = make('dr [T,B,D*H]', T * B * D * H);
    this.gradHNr = make('drN [D,B,H] + lengths [B]', D * B * H + B);
    this.dWeff = make('dW_eff [D,G*H,H]', D * GH * H);
    this.sink = make('dr0 [D,B,H] (unused)', D * B * H);
    const before: GemmSpec[] = [];
    const after: GemmSpec[] = [];
    const slotT = T * B * D * GH;
    for (let d = 0; d < D; d++) {
      // dr = dh·W_hr: W_hr [P, H] stored as B.
      const back = { N: H, K: P, transB: true, ldb: H, offsetB: d * P * H };
      before.push({ shape: { ...back, M: T * B, lda: D * P, offsetA: d * P, ldc: D * H, offsetC: d * H }, a: x.dy, b: x.whr, c: this.dyR });
      before.push({ shape: { ...back, M: B, lda: P, offsetA: state + d * B * P, ldc: H, offsetC: d * B * H }, a: x.gradHN, b: x.whr, c: this.gradHNr });
      // dW_eff[d] = Σ dG_tᵀ·r_{t−1}: forward pairs step t with r at t − 1, reverse with t + 1.
      const eff = { M: GH, N: H, transA: true, transB: true, lda: D * GH, ldb: D * H, ldc: H, offsetC: d * GH * H };
      if (T > 1) after.push({ shape: { ...eff, K: (T - 1) * B, offsetA: (d === 0 ? B : 0) * D * GH + d * GH, offsetB: (d === 0 ? 0 : B) * D * H + d * H }, a: x.dG, b: x.fwd.rseq, c: this.dWeff });
      // dW_hh = dW_eff·W_hrᵀ + dG_firstᵀ·h0.
      after.push({ shape: { M: GH, N: P, K: H, lda: H, offsetA: d * GH * H, ldb: H, offsetB: d * P * H, ldc: P, offsetC: d * GH * P }, a: this.dWeff, b: x.whr, c: x.dWhh });
      after.push({ shape: { M: GH, N: P, K: B, transA: true, lda: D * GH, offsetA: slotT + d * GH, transB: true, ldb: P, offsetB: state + d * B * P, ldc: P, offsetC: d * GH * P, accumulate: true }, a: x.dG, b: x.h0, c: x.dWhh });
      // dh0 = dG_first·W_hh: W_hh [GH, P] stored as B.
      after.push({ shape: { M: B, N: P, K: GH, lda: D * GH, offsetA: slotT + d * GH, transB: true, ldb: P, offsetB: d * GH * P, ldc: P, offsetC: state + d * B * P }, a: x.dG, b: x.whh, c: x.dh0 });
      // dW_hr = W_hhᵀ·dW_eff + dyᵀ·r + gradHNᵀ·r_N.
      const hr = { M: P, N: H, transA: true, transB: true, ldc: H, offsetC: d * P * H };
      after.push({ shape: { ...hr, K: GH, lda: P, offsetA: d * GH * P, ldb: H, offsetB: d * GH * H }, a: x.whh, b: this.dWeff, c: x.dWhr });
      after.push({ shape: { ...hr, K: T * B, lda: D * P, offsetA: d * P, ldb: D * H, offsetB: d * H, accumulate: true }, a: x.dy, b: x.fwd.rseq, c: x.dWhr });
      after.push({ shape: { ...hr, K: B, lda: P, offsetA: state + d * B * P, ldb: H, offsetB: d * B * H, accumulate: true }, a: x.gradHN, b: x.fwd.rN, c: x.dWhr });
    }
    this.before = new GemmList(ctx, matmul, `layer ${l} projection backward`, before, owned);
    this.after = new GemmList(ctx, matmul, `layer ${l} projection gradients`, after, owned);
  }
}

/** After an update: whhT [D, H, H, 4] = (W_hh·W_hr)ᵀ packed, one GEMM a direction batched over the G gates. */
export function recurrenceGemms(spec: ModelSpec, l: number, x: { whh: GPUBuffer; whr: GPUBuffer; whhT: GPUBuffer }): GemmSpec[] {
  const { numDirections: D, hiddenSize: H, projSize: P, kind } = spec.layers[l];
  const G = gateCount(kind);
  const S = packedGateStride(G);
  // Gate g: whhT[d, k, j, g] = Σ_p W_hr[p, k]·W_hh[g·H + j, p].
  return Array.from({ length: D }, (_, d) => ({
    shape: { M: H, N: H, K: P, batch: G, transA: true, lda: H, offsetA: d * P * H, strideA: 0, ldb: P, offsetB: d * G * H * P, strideB: H * P, ldc: H * S, colStrideC: S, strideC: 1, offsetC: d * H * H * S },
    a: x.whr,
    b: x.whh,
    c: x.whhT,
  }));
}
