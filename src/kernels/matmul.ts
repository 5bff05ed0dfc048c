/**
 * Wrapper of shaders/matmul.wgsl: C[z] = A'[z]·B'[z]ᵀ (+ bias) (+ C[z]), batched, with
 * transposed operand storage as options. See the shader for the storage conventions.
 */
import source from '../../shaders/matmul.wgsl?raw';
import tiledSource from '../../shaders/matmul-tiled.wgsl?raw';
import { LimitError, WebRnnError } from '../errors.js';
import { ShaderStage } from '../gpu/constants.js';
import type { GpuContext } from '../gpu/device.js';
import { packUniform, parseUniformLayout, type UniformLayout } from '../gpu/shader.js';
import { SLAB_COLUMNS, SLAB_LANES, SLAB_PART, slabMatmulMain } from './matmul-slab.js';

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

/** Rows and columns of C a thread of the direct variant owns (shaders/software/matmul-direct.wgsl). */
const DIRECT_BLOCK = 8;

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
 * matrix skips its loop: with N = 1 along x, one invocation in each group does useful work;
 * transposed, the long side fills every group (figures: D8). A bias, added along N, then
 * follows the rows of the transposed product (`biasAlongRows`, the shader's hasBias 2).
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
    // The direct form runs on software adapters only: its source loads with theirs (software-sources.ts).
    const form = defines.DIRECT ? (await import('./software-sources.js')).SOFTWARE_SOURCES.matmulDirect : tiledSource;
    const pipeline = await ctx.pipelines.get({
      name: MATMUL,
      code: `${source}\n${form}`,
      defines,
      // TILE_K is the tiled form's alone.
      constants: { WG_X: tiles.wgX, WG_Y: tiles.wgY, ...(defines.DIRECT ? {} : { TILE_K: tiles.tileK }) },
      layout: layout.pipeline,
      layoutKey: MATMUL,
    });
    const canSlab = (tiles.direct ?? false) && (ctx.info.subgroupMinSize ?? 0) >= 4;
    const slabUse = options.slab ?? (canSlab ? 'auto' : 'never');
    if (!['auto', 'always', 'never'].includes(slabUse)) throw new WebRnnError('invalid-option', `matmul: slab must be 'auto', 'always' or 'never' (got ${String(slabUse)})`);
    if (slabUse !== 'never' && !canSlab) {
      throw new WebRnnError('invalid-option', `matmul: the slab variant needs the direct tiles and subgroups of at least 4 lanes (tiles ${JSON.stringify(tiles)}, subgroupMinSize ${ctx.info.subgroupMinSize ?? 'absent'})`);
    }
    const slab =
      slabUse === 'never'
        ? null
        : () =>
            ctx.pipelines.get({
              name: MATMUL,
              code: `enable subgroups;\n${source}\n${slabMatmulMain()}`,
              defines: {},
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
