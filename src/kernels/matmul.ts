/**
 * Wrapper of shaders/matmul.wgsl: C[z] = A'[z]·B'[z]ᵀ (+ bias) (+ C[z]), batched, with
 * transposed operand storage as options. See the shader for the storage conventions.
 */
import source from '../../shaders/matmul.wgsl?raw';
import { LimitError, WebRnnError } from '../errors.js';
import { ShaderStage } from '../gpu/constants.js';
import type { GpuContext } from '../gpu/device.js';
import { packUniform, parseUniformLayout, preprocessWgsl, type UniformLayout } from '../gpu/shader.js';

export const MATMUL = 'matmul';

/** Shape and storage of one (batched) product. Strides and offsets are in f32 elements. */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** Number of matrices in the batch (default 1). */
  batch?: number;
  /** A stored [K, M] instead of [M, K]. */
  transA?: boolean;
  /** B stored [K, N] (so C = A·B) instead of [N, K] (C = A·Bᵀ). */
  transB?: boolean;
  /** Add the product to C instead of overwriting it. */
  accumulate?: boolean;
  /** Add bias[offsetBias + n] to every row. */
  hasBias?: boolean;
  /** Row strides; default: dense rows. */
  lda?: number;
  ldb?: number;
  ldc?: number;
  /** Distance between consecutive matrices of the batch; default: dense. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  offsetA?: number;
  offsetB?: number;
  offsetC?: number;
  offsetBias?: number;
  /** Distance between neighbouring columns of C (default 1). */
  colStrideC?: number;
}

/** A shape with every default filled in, as the shader receives it. */
export type ResolvedMatmulShape = Required<MatmulShape>;

export function resolveMatmulShape(s: MatmulShape): ResolvedMatmulShape {
  const transA = s.transA ?? false;
  const transB = s.transB ?? false;
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number' && (!Number.isInteger(v) || v < 0)) {
      throw new WebRnnError('invalid-option', `matmul: ${k} = ${v} is not a non-negative integer`);
    }
  }
  if (s.M < 1 || s.N < 1 || s.K < 1) throw new WebRnnError('invalid-option', `matmul: M, N, K must be ≥ 1 (got ${s.M}, ${s.N}, ${s.K})`);
  const lda = s.lda ?? (transA ? s.M : s.K);
  const ldb = s.ldb ?? (transB ? s.N : s.K);
  const colStrideC = s.colStrideC ?? 1;
  if (colStrideC < 1) throw new WebRnnError('invalid-option', `matmul: colStrideC must be ≥ 1 (got ${colStrideC})`);
  const ldc = s.ldc ?? s.N * colStrideC;
  return {
    M: s.M,
    N: s.N,
    K: s.K,
    batch: s.batch ?? 1,
    transA,
    transB,
    accumulate: s.accumulate ?? false,
    hasBias: s.hasBias ?? false,
    lda,
    ldb,
    ldc,
    strideA: s.strideA ?? (transA ? s.K * lda : s.M * lda),
    strideB: s.strideB ?? (transB ? s.K * ldb : s.N * ldb),
    strideC: s.strideC ?? s.M * ldc,
    offsetA: s.offsetA ?? 0,
    offsetB: s.offsetB ?? 0,
    offsetC: s.offsetC ?? 0,
    offsetBias: s.offsetBias ?? 0,
    colStrideC: s.colStrideC ?? 1,
  };
}

/** Number of f32 elements each operand must hold for `s` (the last element touched, plus one). */
export function matmulExtents(s: ResolvedMatmulShape): { a: number; b: number; bias: number; c: number } {
  const last = (offset: number, stride: number, rows: number, ld: number, cols: number): number =>
    offset + (s.batch - 1) * stride + (rows - 1) * ld + cols;
  return {
    a: s.transA ? last(s.offsetA, s.strideA, s.K, s.lda, s.M) : last(s.offsetA, s.strideA, s.M, s.lda, s.K),
    b: s.transB ? last(s.offsetB, s.strideB, s.K, s.ldb, s.N) : last(s.offsetB, s.strideB, s.N, s.ldb, s.K),
    bias: s.hasBias ? s.offsetBias + s.N : 0,
    c: last(s.offsetC, s.strideC, s.M, s.ldc, (s.N - 1) * s.colStrideC + 1),
  };
}

export interface MatmulBindings {
  /** Uniform buffer and byte offset of the packed Params. */
  uniform: GPUBuffer;
  uniformOffset?: number;
  a: GPUBuffer;
  b: GPUBuffer;
  /** Any storage buffer when the shape has no bias (it is then not read). */
  bias: GPUBuffer;
  c: GPUBuffer;
}

/**
 * The generated entry points' operand layout for matrix z of the batch: A'(m, k) at
 * aBase + m·aM + k·aK, B'(n, k) at bBase + n·bN + k·bK (the storage order as a pair of strides).
 */
const OPERAND_ORIGINS: readonly string[] = [
  '  let aM = select(p.lda, 1u, p.transA != 0u);',
  '  let aK = select(1u, p.lda, p.transA != 0u);',
  '  let bN = select(p.ldb, 1u, p.transB != 0u);',
  '  let bK = select(1u, p.ldb, p.transB != 0u);',
  '  let aBase = p.offsetA + z * p.strideA;',
  '  let bBase = p.offsetB + z * p.strideB;',
];

/** Rows and columns of C a thread of the direct variant owns (directMatmulMain). */
const DIRECT_BLOCK = 8;

/**
 * The direct variant's entry point, appended to shaders/matmul.wgsl under DIRECT. Thread (x, y)
 * owns the 8 × 8 block of C at rows m = 8 (WG_Y·wid.y + y) .. m + 7 and columns
 * n = 8 (WG_X·wid.x + x) .. n + 7 of matrix wid.z, and walks all of K with no barrier. Rows and
 * columns past the matrix read the last one (clamped; storeC drops their sums), so the loop has
 * no branch; the operands' storage order is a pair of strides (A'(m, k) at m·aM + k·aK).
 * Written out because SwiftShader's speed depends on the form: 64 f32 accumulators and one scalar
 * offset a k added to 16 precomputed ones measured 1.12x faster than four mat4x4f accumulators
 * fed by vec4u index vectors at 1024³, 1.13x at the Elman cell's weight gradients of workload C
 * (512 × 512 and 512 × 128, K = 2048, both operands transposed) and 1.5x at its input
 * projection (2048 × 512, K = 128) in Chromium.
 */
export function directMatmulMain(): string {
  const B = DIRECT_BLOCK;
  const idx = Array.from({ length: B }, (_, i) => i);
  const lines = [
    '@compute @workgroup_size(WG_X, WG_Y)',
    'fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {',
    `  let m = (wid.y * WG_Y + lid.y) * ${B}u;`,
    `  let n = (wid.x * WG_X + lid.x) * ${B}u;`,
    '  let z = wid.z;',
    // A block wholly past the matrix has nothing to store. SwiftShader runs a group of four
    // neighbouring x as one, so the loader orients thin products (matmulOrientation) to have
    // their long side along x.
    '  if (m >= p.M || n >= p.N) { return; }',
    ...OPERAND_ORIGINS,
    // Where row m + i of A' and column n + j of B' are at k = 0.
    ...idx.map((i) => `  let ar${i} = aBase + min(m + ${i}u, p.M - 1u) * aM;`),
    ...idx.map((j) => `  let bc${j} = bBase + min(n + ${j}u, p.N - 1u) * bN;`),
    '  let cBase = p.offsetC + z * p.strideC;',
    '  let biasLo = biasOf(n);',
    '  let biasHi = biasOf(n + 4u);',
    // One row (a read-out or a bias gradient, run transposed; dW of a one-output read-out): its
    // own loop, one load of A' for 8 multiply-adds, rather than 8 loads of the same element
    // and 64 multiply-adds of which 8 are kept.
    '  if (p.M == 1u) {',
    `    ${idx.map((j) => `var r${j} = 0.0;`).join(' ')}`,
    '    for (var k = 0u; k < p.K; k++) {',
    '      let a0 = a[aBase + k * aK];',
    '      let kb = k * bK;',
    `      ${idx.map((j) => `r${j} += a0 * b[bc${j} + kb];`).join(' ')}`,
    '    }',
    '    storeC(cBase, m, n, vec4f(r0, r1, r2, r3) + biasLo, p.accumulate != 0u);',
    '    storeC(cBase, m, n + 4u, vec4f(r4, r5, r6, r7) + biasHi, p.accumulate != 0u);',
    '    return;',
    '  }',
    ...idx.map((i) => `  ${idx.map((j) => `var c${i}${j} = 0.0;`).join(' ')}`),
    '  for (var k = 0u; k < p.K; k++) {',
    '    let ka = k * aK;',
    '    let kb = k * bK;',
    ...idx.map((i) => `    let a${i} = a[ar${i} + ka];`),
    ...idx.map((j) => `    let b${j} = b[bc${j} + kb];`),
    ...idx.map((i) => `    ${idx.map((j) => `c${i}${j} += a${i} * b${j};`).join(' ')}`),
    '  }',
    ...idx.flatMap((i) => [
      `  storeC(cBase, m + ${i}u, n, vec4f(c${i}0, c${i}1, c${i}2, c${i}3) + biasLo, p.accumulate != 0u);`,
      `  storeC(cBase, m + ${i}u, n + 4u, vec4f(c${i}4, c${i}5, c${i}6, c${i}7) + biasHi, p.accumulate != 0u);`,
    ]),
    '}',
  ];
  return lines.join('\n') + '\n';
}

/**
 * The slab variant's shape: lanes a workgroup, columns a lane, K a slab, and the parts of a slab
 * that run only where K reaches them (slabMatmulMain).
 */
const SLAB_LANES = 8;
const SLAB_COLUMNS = 16;
const SLAB_K = 64;
const SLAB_PART = 32;

/**
 * The slab variant's entry point (software adapters with subgroups of at least 4 lanes; see
 * MatmulKernel.slabFits), appended to shaders/matmul.wgsl with DIRECT (whose helpers it shares)
 * and `enable subgroups`. Lane x of workgroup (x, y, z) owns the 16 columns n = 16 (8·wid.x + x)
 * .. n + 15 of matrix wid.z. K is walked in slabs of 64: the lane gathers B'(n .. n + 15, k0 ..
 * k0 + 63) in a loop into a function variable (bStage), then copies it into private memory
 * (bSlab) at constant indices. It then takes the rows in blocks of 4, m0 = 4 wid.y,
 * 4 (wid.y + num_workgroups.y), ..: each lane of a subgroup loads A'(m0 + lane, k) for the slab's
 * k into aSlab, and for one row r after the other, subgroupBroadcast hands row r's to every lane,
 * 16 sums take the row's products, and they are added to C (the first slab adds the bias, or C's
 * value with accumulate; later slabs add to what the earlier ones left there; each element has
 * one owner, so no other lane touches it in between). The second half of a slab runs only where
 * K reaches it, so that K = 32 (a slab of its own) computes no padding.
 *
 * Why this shape, on SwiftShader (its JIT, disassembled and profiled with perf in Chromium's GPU
 * process): a load from a storage buffer at a run-time index is a branch and a scalar load per
 * lane plus the index clamp of a runtime-sized array (four integer divisions), some 40
 * instructions; a read of private memory at a constant index is one vector load; a
 * subgroupBroadcast some 7 instructions; and sums past the vector registers live on the stack,
 * each multiply-add then loading and storing its sum. So the loop is written out over the slab
 * (every private index a constant), one row's 16 sums are the only ones live while its 1024
 * multiply-adds run, and each multiply-add takes 1/64 of C's read and write, 1/64 of a load of
 * A and 1/16 of a broadcast. The B' slab is gathered in a loop and its copy into bSlab written
 * out: with the gather written out too the product ran at about the same rate and the shader
 * took 3-4 s longer to compile. Measured in Chromium (measureCeilings at 1024³, alternated):
 * 9.8-11.0 GFLOP/s against 5.9-6.9 for the form before (4 × 8 sums, 32, all live through a slab
 * of 32); 7.7-8.7 with 8 columns a lane (16 lanes), 8.6-9.1 with 16 columns and slabs of 32,
 * 6.8-9.5 with 24 columns (longer to compile); an Elman cell's training step at workload C
 * 537 -> 440 ms, its GEMMs 220 -> 135 (page script, parts switched off in turn).
 */
export function slabMatmulMain(): string {
  const KS = SLAB_K;
  const NB = SLAB_COLUMNS;
  const ks = Array.from({ length: KS }, (_, k) => k);
  const js = Array.from({ length: NB }, (_, j) => j);
  const quads = Array.from({ length: NB / 4 }, (_, q) => q);
  const rows = [0, 1, 2, 3];
  // The part of the slab that k belongs to, and the guard of a part past the first.
  const parts = Array.from({ length: KS / SLAB_PART }, (_, q) => ks.slice(q * SLAB_PART, (q + 1) * SLAB_PART));
  const guarded = (q: number, body: string[]): string[] => (q === 0 ? body : [`      if (k0 + ${q * SLAB_PART}u < p.K) {`, ...body, '      }']);
  const lines = [
    `var<private> bSlab: array<f32, ${KS * NB}>;`,
    `var<private> aSlab: array<f32, ${KS}>;`,
    `@compute @workgroup_size(${SLAB_LANES})`,
    'fn main(@builtin(local_invocation_index) x: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {',
    `  var bStage: array<f32, ${KS * NB}>;`,
    `  let n = (wid.x * ${SLAB_LANES}u + x) * ${NB}u;`,
    '  let z = wid.z;',
    ...OPERAND_ORIGINS,
    '  let cBase = p.offsetC + z * p.strideC;',
    // Columns past N read the last one (the stores below drop their sums).
    ...js.map((j) => `  let bc${j} = bBase + min(n + ${j}u, p.N - 1u) * bN;`),
    ...quads.map((q) => `  let bias${q} = biasOf(n + ${4 * q}u);`),
    `  for (var k0 = 0u; k0 < p.K; k0 += ${KS}u) {`,
    // k past K: zeros on both sides, so that a slab's tail adds nothing.
    `    for (var kk = 0u; kk < ${KS}u; kk++) {`,
    '      let k = k0 + kk;',
    '      let kb = min(k, p.K - 1u) * bK;',
    '      let live = k < p.K;',
    ...js.map((j) => `      bStage[kk * ${NB}u + ${j}u] = select(0.0, b[bc${j} + kb], live);`),
    '    }',
    ...ks.map((k) => `    ${js.map((j) => `bSlab[${k * NB + j}] = bStage[${k * NB + j}];`).join(' ')}`),
    '    let first = k0 == 0u;',
    '    let add = !first || p.accumulate != 0u;',
    ...quads.map((q) => `    let biasF${q} = select(vec4f(), bias${q}, first);`),
    '    for (var m0 = wid.y * 4u; m0 < p.M; m0 += nwg.y * 4u) {',
    // The rows' bias (a product run transposed: matmulOrientation), on the first slab only.
    ...rows.map((r) => `      let rowB${r} = select(0.0, rowBias(m0 + ${r}u), first);`),
    '      let ar = aBase + min(m0 + lane, p.M - 1u) * aM;',
    ...parts.flatMap((part, q) => guarded(q, part.map((k) => `      aSlab[${k}] = select(0.0, a[ar + min(k0 + ${k}u, p.K - 1u) * aK], k0 + ${k}u < p.K);`))),
    ...rows.flatMap((r) => [
      '      {',
      `      ${js.map((j) => `var c${j} = 0.0;`).join(' ')}`,
      ...parts.flatMap((part, q) => guarded(q, part.map((k) => `      { let s = subgroupBroadcast(aSlab[${k}], ${r}u); ${js.map((j) => `c${j} += s * bSlab[${k * NB + j}];`).join(' ')} }`))),
      // Written out rather than through storeC: its loop with early returns, 8 calls a block,
      // measured slower here.
      `      if (m0 + ${r}u < p.M) {`,
      `        let row = cBase + (m0 + ${r}u) * p.ldc;`,
      ...js.map((j) => `        if (n + ${j}u < p.N) { let i = row + (n + ${j}u) * p.colStrideC; c[i] = c${j} + biasF${j >> 2}[${j % 4}] + rowB${r} + select(0.0, c[i], add); }`),
      '      }',
      '      }',
    ]),
    '    }',
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}

/** Rows and columns of C per thread: 4, or DIRECT_BLOCK in the direct variant. */
function blockOf(tiles: MatmulTiles): number {
  return tiles.direct ? DIRECT_BLOCK : 4;
}

/**
 * The shader's tunables: a workgroup of wgX × wgY threads owns a tile of 4·wgY rows by 4·wgX
 * columns of C (8·wgY by 8·wgX in the direct variant) and walks K in slabs of tileK. Every
 * choice computes the same product.
 */
export interface MatmulTiles {
  wgX: number;
  wgY: number;
  tileK: number;
  /**
   * No staging in workgroup memory (the shader's DIRECT variant; tileK is then unused): each
   * thread reads its operands from memory and the kernel has no barrier. Faster on CPU
   * adapters (see {@link defaultMatmulTiles}).
   */
  direct?: boolean;
}

export const DEFAULT_MATMUL_TILES: MatmulTiles = { wgX: 16, wgY: 16, tileK: 16 };

/** The direct variant's tiles: 8 × 8 threads, a 64 × 64 tile of C per workgroup (8 × 8 a thread). */
export const DIRECT_MATMUL_TILES: MatmulTiles = { wgX: 8, wgY: 8, tileK: 1, direct: true };

/**
 * The tiles webrnn uses on `ctx`: the direct variant on a software adapter, the staged 64 × 64
 * tiles on a GPU (decision D8 in docs/decisions.md).
 */
export function defaultMatmulTiles(ctx: GpuContext): MatmulTiles {
  return ctx.info.software ? DIRECT_MATMUL_TILES : DEFAULT_MATMUL_TILES;
}

/** A product as the kernels run it: `biasAlongRows` where it runs transposed with a bias. */
export type OrientedMatmulShape = ResolvedMatmulShape & { biasAlongRows?: boolean };

/**
 * The product the direct variant runs for `s`: `s` itself, or, where C has fewer columns than a
 * thread's 8 × 8 block and more rows (a bias gradient dGᵀ·1), the same product transposed,
 * Cᵀ = B'·A'ᵀ, written through swapped strides of C into the same elements (the bind group
 * swaps the operand buffers to match).
 * SwiftShader runs four neighbouring invocations along x as one group, and a block past the
 * matrix skips its loop: with N = 1 along x, one invocation in each group did useful work (a
 * bias gradient of 1024 columns over 1024 rows took 45 ms in Node, the size of an LSTM B
 * training step's whole dW_ih); transposed, the long side fills every group. A bias, added
 * along N, then follows the rows of the transposed product (`biasAlongRows`, the shader's
 * hasBias 2): the one-output read-out of workload B (1024 × 1, K = 256) took about 3 ms of a
 * 27 ms Elman forward in Chromium untransposed.
 */
export function matmulOrientation(s: ResolvedMatmulShape, tiles: MatmulTiles): OrientedMatmulShape {
  const block = blockOf(tiles);
  if (!tiles.direct || s.N >= block || s.M <= s.N) return s;
  return {
    ...s,
    M: s.N,
    N: s.M,
    transA: s.transB,
    transB: s.transA,
    lda: s.ldb,
    ldb: s.lda,
    strideA: s.strideB,
    strideB: s.strideA,
    offsetA: s.offsetB,
    offsetB: s.offsetA,
    ldc: s.colStrideC,
    colStrideC: s.ldc,
    biasAlongRows: s.hasBias,
  };
}

/**
 * When the slab variant (slabMatmulMain) runs a product: `auto` where it fits (slabFits) once
 * it has compiled, the direct variant serving until then; `always` every product, waiting for
 * it; `never` not at all.
 */
export type SlabUse = 'auto' | 'always' | 'never';

/**
 * What the plans keep of a product to dispatch it: the workgroups of the direct (or staged)
 * variant, and of the slab variant where it may run the product.
 */
export interface MatmulDispatch {
  workgroups: [number, number, number];
  slab: [number, number, number] | null;
}

/**
 * `auto`: whether the slab variant takes a product of M × N (per matrix), K deep: where there are
 * rows enough to share each lane's slab of B' (its copy serves M / 4 blocks of rows over the
 * workgroups along y), columns enough to fill a workgroup's 8 lanes of 16, and K of a part of a
 * slab (32) or more (decision D8 in docs/decisions.md).
 */
export function slabFits(s: { M: number; N: number; K: number }): boolean {
  return s.M >= 64 && s.N >= SLAB_LANES * SLAB_COLUMNS && s.K >= SLAB_PART;
}

export class MatmulKernel {
  static readonly uniformLayout: UniformLayout = parseUniformLayout(source);
  readonly name = MATMUL;
  /** The slab variant's pipeline once it has compiled (null before, and where there is none). */
  private slabPipeline: GPUComputePipeline | null = null;
  /** Settles when the slab variant has compiled (or failed to); null until its compile starts. */
  private slabCompile: Promise<void> | null = null;
  private slabError: unknown = null;

  private constructor(
    private readonly ctx: GpuContext,
    readonly pipeline: GPUComputePipeline,
    readonly bindGroupLayout: GPUBindGroupLayout,
    readonly tiles: MatmulTiles,
    readonly slabUse: SlabUse,
    /** Starts the slab variant's compile; null where there is none. */
    private readonly compileSlab: (() => Promise<GPUComputePipeline>) | null,
  ) {}

  /**
   * Start the slab variant's compile unless it has started (or there is none). It starts when a
   * plan first asks for a product the variant takes ({@link dispatch}) or someone waits for it
   * ({@link whenSlabReady}): a device whose products all stay direct (small models) never spends
   * the seconds of CPU it takes on a software adapter.
   */
  private startSlab(): Promise<void> | null {
    if (!this.slabCompile && this.compileSlab) {
      this.slabCompile = this.compileSlab().then(
        (pipeline) => {
          this.slabPipeline = pipeline;
        },
        (e: unknown) => {
          this.slabError = e;
        },
      );
    }
    return this.slabCompile;
  }

  /**
   * The kernel with `tiles` (default: {@link defaultMatmulTiles} of the adapter) and, with the
   * direct tiles on a device with subgroups of at least 4 lanes, the slab variant (`slab`,
   * default `auto`, which compiles it in the background once a plan needs it; `always` compiles
   * it now and waits for it).
   */
  static async create(ctx: GpuContext, tiles: MatmulTiles = defaultMatmulTiles(ctx), options: { slab?: SlabUse } = {}): Promise<MatmulKernel> {
    const threads = tiles.wgX * tiles.wgY;
    if (![tiles.wgX, tiles.wgY, tiles.tileK].every((v) => Number.isInteger(v) && v >= 1) || threads > ctx.limits.maxComputeInvocationsPerWorkgroup) {
      throw new WebRnnError('invalid-option', `matmul: tiles ${JSON.stringify(tiles)} (at most ${ctx.limits.maxComputeInvocationsPerWorkgroup} threads)`);
    }
    const storage = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: ShaderStage.COMPUTE,
      buffer: { type },
    });
    const layout = ctx.pipelines.layout(MATMUL, [
      { binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      storage(1, 'read-only-storage'),
      storage(2, 'read-only-storage'),
      storage(3, 'read-only-storage'),
      storage(4, 'storage'),
    ]);
    const defines = { DIRECT: tiles.direct ?? false };
    const pipeline = await ctx.pipelines.get({
      name: MATMUL,
      code: preprocessWgsl(source, defines) + (defines.DIRECT ? directMatmulMain() : ''),
      defines,
      constants: { WG_X: tiles.wgX, WG_Y: tiles.wgY, TILE_K: tiles.tileK },
      layout: layout.pipeline,
      layoutKey: MATMUL,
    });
    const canSlab = (tiles.direct ?? false) && (ctx.info.subgroupMinSize ?? 0) >= 4;
    const slabUse = options.slab ?? (canSlab ? 'auto' : 'never');
    if (!['auto', 'always', 'never'].includes(slabUse)) throw new WebRnnError('invalid-option', `matmul: slab must be 'auto', 'always' or 'never' (got ${String(slabUse)})`);
    if (slabUse !== 'never' && !canSlab) {
      throw new WebRnnError('invalid-option', `matmul: the slab variant needs the direct tiles and subgroups of at least 4 lanes (tiles ${JSON.stringify(tiles)}, subgroupMinSize ${ctx.info.subgroupMinSize ?? 'absent'})`);
    }
    // The direct variant's helpers, and the slab variant's main.
    const slabDefines = { DIRECT: true };
    const slab =
      slabUse === 'never'
        ? null
        : () =>
            ctx.pipelines.get({
              name: MATMUL,
              code: 'enable subgroups;\n' + preprocessWgsl(source, slabDefines) + slabMatmulMain(),
              defines: slabDefines,
              constants: {},
              layout: layout.pipeline,
              layoutKey: MATMUL,
            });
    const kernel = new MatmulKernel(ctx, pipeline, layout.bindGroup, tiles, slabUse, slab);
    if (slabUse === 'always') await kernel.whenSlabReady();
    return kernel;
  }

  /**
   * Resolves once the slab variant has compiled (at once where there is none), starting its
   * compile if no plan has; rejects with the reason where it failed, the direct variant then
   * serving every product.
   */
  async whenSlabReady(): Promise<void> {
    await this.startSlab();
    if (this.slabError) throw this.slabError;
  }

  /** Whether the slab variant's compile has started (a plan needed it, or someone waited for it). */
  get slabStarted(): boolean {
    return this.slabCompile !== null;
  }

  /** Whether the slab variant runs the products it may take now (compiled, and not `never`). */
  get slabReady(): boolean {
    return this.slabPipeline !== null;
  }

  /** How the plans dispatch `shape`: {@link workgroups}, and the slab variant's where it may take it (slabUse, slabFits). */
  dispatch(shape: MatmulShape): MatmulDispatch {
    const workgroups = this.workgroups(shape);
    // The product as the kernels see it (both read the same uniform, params()).
    const s = matmulOrientation(resolveMatmulShape(shape), this.tiles);
    const takes = this.slabUse === 'always' || (this.slabUse === 'auto' && slabFits(s));
    if (!takes) return { workgroups, slab: null };
    // Lanes of 16 columns along x; along y, workgroups walking the blocks of 4 rows, as many as
    // the CPU has threads beyond those x and the batch give (a software adapter runs a
    // workgroup on one thread), and no more than there are blocks.
    const x = Math.ceil(s.N / (SLAB_LANES * SLAB_COLUMNS));
    const threads = this.ctx.info.cpuThreads ?? 4;
    const y = Math.max(1, Math.min(Math.ceil(s.M / 4), Math.ceil(threads / (x * s.batch))));
    const slab: [number, number, number] = [x, y, s.batch];
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (slab.some((n) => n > max)) return { workgroups, slab: null };
    void this.startSlab();
    return { workgroups, slab };
  }

  /** Packed uniform for `shape` (validated, defaults filled in). */
  params(shape: MatmulShape): ArrayBuffer {
    // The batch size is not a uniform: it is the workgroup count along z.
    const { batch: _batch, transA, transB, accumulate, hasBias, biasAlongRows, ...sizes } = matmulOrientation(resolveMatmulShape(shape), this.tiles);
    const flag = (b: boolean): number => (b ? 1 : 0);
    return packUniform(MatmulKernel.uniformLayout, {
      ...sizes,
      transA: flag(transA),
      transB: flag(transB),
      accumulate: flag(accumulate),
      // The shader's hasBias: 1 along the columns, 2 along the rows (the product run transposed).
      hasBias: hasBias ? (biasAlongRows ? 2 : 1) : 0,
    });
  }

  /** Workgroup counts for `shape`, checked against maxComputeWorkgroupsPerDimension. */
  workgroups(shape: MatmulShape): [number, number, number] {
    const s = matmulOrientation(resolveMatmulShape(shape), this.tiles);
    const block = blockOf(this.tiles);
    const size: [number, number, number] = [Math.ceil(s.N / (this.tiles.wgX * block)), Math.ceil(s.M / (this.tiles.wgY * block)), s.batch];
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const names = ['N (columns)', 'M (rows)', 'batch'];
    size.forEach((n, i) => {
      if (n > max) throw new LimitError('maxComputeWorkgroupsPerDimension', n, max, `matmul workgroups along ${names[i]}`);
    });
    return size;
  }

  /** Check that every operand buffer holds what `shape` reads or writes. */
  checkBuffers(shape: MatmulShape, b: MatmulBindings): void {
    const e = matmulExtents(resolveMatmulShape(shape));
    const need: Array<[string, GPUBuffer, number]> = [
      ['a', b.a, e.a],
      ['b', b.b, e.b],
      ['bias', b.bias, e.bias],
      ['c', b.c, e.c],
    ];
    for (const [name, buf, floats] of need) {
      if (buf.size < floats * 4) {
        throw new WebRnnError('invalid-option', `matmul: operand ${name} (${buf.label}) holds ${buf.size / 4} floats, the shape needs ${floats}`);
      }
    }
  }

  /** The bind group of `shape`'s operands (swapped where the kernel runs the product transposed: matmulOrientation). */
  bindGroup(b: MatmulBindings, shape: MatmulShape): GPUBindGroup {
    const resolved = resolveMatmulShape(shape);
    const swapped = matmulOrientation(resolved, this.tiles) !== resolved;
    return this.ctx.device.createBindGroup({
      label: MATMUL,
      layout: this.bindGroupLayout,
      entries: [
        { binding: 0, resource: { buffer: b.uniform, offset: b.uniformOffset ?? 0, size: MatmulKernel.uniformLayout.size } },
        { binding: 1, resource: { buffer: swapped ? b.b : b.a } },
        { binding: 2, resource: { buffer: swapped ? b.a : b.b } },
        { binding: 3, resource: { buffer: b.bias } },
        { binding: 4, resource: { buffer: b.c } },
      ],
    });
  }

  /**
   * Record one product: `work` from {@link workgroups} runs the direct (or staged) variant, from
   * {@link dispatch} the slab variant where it may take the product and has compiled. Both read
   * the same uniform and bind group, the product oriented alike (matmulOrientation).
   */
  encode(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, work: readonly [number, number, number] | MatmulDispatch): void {
    const slab = 'slab' in work ? work.slab : null;
    const size = 'slab' in work ? work.workgroups : work;
    if (slab && this.slabPipeline) {
      pass.setPipeline(this.slabPipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(slab[0], slab[1], slab[2]);
      return;
    }
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(size[0], size[1], size[2]);
  }
}
