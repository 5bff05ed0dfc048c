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
    '  let aM = select(p.lda, 1u, p.transA != 0u);',
    '  let aK = select(1u, p.lda, p.transA != 0u);',
    '  let bN = select(p.ldb, 1u, p.transB != 0u);',
    '  let bK = select(1u, p.ldb, p.transB != 0u);',
    '  let aBase = p.offsetA + z * p.strideA;',
    '  let bBase = p.offsetB + z * p.strideB;',
    // Where row m + i of A' and column n + j of B' are at k = 0.
    ...idx.map((i) => `  let ar${i} = aBase + min(m + ${i}u, p.M - 1u) * aM;`),
    ...idx.map((j) => `  let bc${j} = bBase + min(n + ${j}u, p.N - 1u) * bN;`),
    ...idx.map((i) => `  ${idx.map((j) => `var c${i}${j} = 0.0;`).join(' ')}`),
    '  for (var k = 0u; k < p.K; k++) {',
    '    let ka = k * aK;',
    '    let kb = k * bK;',
    ...idx.map((i) => `    let a${i} = a[ar${i} + ka];`),
    ...idx.map((j) => `    let b${j} = b[bc${j} + kb];`),
    ...idx.map((i) => `    ${idx.map((j) => `c${i}${j} += a${i} * b${j};`).join(' ')}`),
    '  }',
    '  let cBase = p.offsetC + z * p.strideC;',
    '  let biasLo = biasOf(n);',
    '  let biasHi = biasOf(n + 4u);',
    ...idx.flatMap((i) => [
      `  storeC(cBase, m + ${i}u, n, vec4f(c${i}0, c${i}1, c${i}2, c${i}3) + biasLo);`,
      `  storeC(cBase, m + ${i}u, n + 4u, vec4f(c${i}4, c${i}5, c${i}6, c${i}7) + biasHi);`,
    ]),
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
 * The tiles webrnn uses on `ctx`: the direct variant on a software adapter, where it measured
 * about twice as fast as the staged one (SwiftShader, README); the staged 64 × 64 tiles on a GPU.
 */
export function defaultMatmulTiles(ctx: GpuContext): MatmulTiles {
  return ctx.info.software ? DIRECT_MATMUL_TILES : DEFAULT_MATMUL_TILES;
}

/**
 * The product the direct variant runs for `s`: `s` itself, or, where C has fewer columns than a
 * thread's 8 × 8 block and more rows (a bias gradient dGᵀ·1), the same product transposed,
 * Cᵀ = B'·A'ᵀ, written through swapped strides of C into the same elements (the bind group
 * swaps the operand buffers to match).
 * SwiftShader runs four neighbouring invocations along x as one group, and a block past the
 * matrix skips its loop: with N = 1 along x, one invocation in each group did useful work (a
 * bias gradient of 1024 columns over 1024 rows took 45 ms in Node, the size of an LSTM B
 * training step's whole dW_ih); transposed, the long side fills every group. Not with a bias,
 * which is added along N.
 */
export function matmulOrientation(s: ResolvedMatmulShape, tiles: MatmulTiles): ResolvedMatmulShape {
  const block = blockOf(tiles);
  if (!tiles.direct || s.hasBias || s.N >= block || s.M <= s.N) return s;
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
  };
}

export class MatmulKernel {
  static readonly uniformLayout: UniformLayout = parseUniformLayout(source);
  readonly name = MATMUL;

  private constructor(
    private readonly ctx: GpuContext,
    readonly pipeline: GPUComputePipeline,
    readonly bindGroupLayout: GPUBindGroupLayout,
    readonly tiles: MatmulTiles,
  ) {}

  /** The kernel with `tiles` (default: {@link defaultMatmulTiles} of the adapter). */
  static async create(ctx: GpuContext, tiles: MatmulTiles = defaultMatmulTiles(ctx)): Promise<MatmulKernel> {
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
    return new MatmulKernel(ctx, pipeline, layout.bindGroup, tiles);
  }

  /** Packed uniform for `shape` (validated, defaults filled in). */
  params(shape: MatmulShape): ArrayBuffer {
    // The batch size is not a uniform: it is the workgroup count along z.
    const { batch: _batch, transA, transB, accumulate, hasBias, ...sizes } = matmulOrientation(resolveMatmulShape(shape), this.tiles);
    const flag = (b: boolean): number => (b ? 1 : 0);
    return packUniform(MatmulKernel.uniformLayout, {
      ...sizes,
      transA: flag(transA),
      transB: flag(transB),
      accumulate: flag(accumulate),
      hasBias: flag(hasBias),
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

  encode(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, workgroups: readonly [number, number, number]): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
  }
}
