import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GpuContext } from '../../src/gpu/device.js';
import { DEFAULT_MATMUL_TILES, DIRECT_MATMUL_TILES, MatmulKernel, matmulExtents, resolveMatmulShape, slabFits, type MatmulShape, type MatmulTiles } from '../../src/kernels/matmul.js';
import { matmulReference } from '../../src/reference/matmul.js';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('matmul');
let ctx: GpuContext;
// The variants an adapter can get by default: staged (GPUs), direct (software adapters) and, on
// software adapters with subgroups of at least 4 lanes, the slab variant (here taking every
// product, where models give it those slabFits takes).
const kernels: Record<'staged' | 'direct' | 'slab', MatmulKernel> = {} as never;
let slabs = false;

beforeAll(async () => {
  ctx = await GpuContext.create();
  kernels.staged = await MatmulKernel.create(ctx, DEFAULT_MATMUL_TILES);
  kernels.direct = await MatmulKernel.create(ctx, DIRECT_MATMUL_TILES, { slab: 'never' });
  slabs = (ctx.info.subgroupMinSize ?? 0) >= 4;
  if (slabs) kernels.slab = await MatmulKernel.create(ctx, DIRECT_MATMUL_TILES, { slab: 'always' });
});
afterAll(() => ctx?.destroy());

/**
 * Run `shape` on fresh random operands. C starts poisoned (NaN), or random when accumulating;
 * elements of C outside the product (row padding, gaps between batch matrices) must come back
 * exactly as they were.
 */
async function check(shape: MatmulShape, kernel: MatmulKernel): Promise<void> {
  const s = resolveMatmulShape(shape);
  const e = matmulExtents(s);
  const a = randomFloats(rng, e.a);
  const b = randomFloats(rng, e.b);
  const bias = randomFloats(rng, Math.max(e.bias, 1));
  const c0 = s.accumulate ? randomFloats(rng, e.c) : new Float32Array(e.c).fill(NaN);
  // Mark the elements the product writes; everything else must survive untouched.
  const written = new Uint8Array(e.c);
  for (let z = 0; z < s.batch; z++) {
    for (let m = 0; m < s.M; m++) for (let n = 0; n < s.N; n++) written[s.offsetC + z * s.strideC + m * s.ldc + n * s.colStrideC] = 1;
  }
  if (s.accumulate) for (let i = 0; i < e.c; i++) if (!written[i]) c0[i] = NaN;

  const uniform = createUniformBuffer(ctx, 'matmul params', kernel.params(shape).byteLength);
  ctx.device.queue.writeBuffer(uniform, 0, kernel.params(shape));
  const bindings = { uniform, a: upload(ctx, 'a', a), b: upload(ctx, 'b', b), bias: upload(ctx, 'bias', bias), c: s.accumulate ? upload(ctx, 'c', c0) : poisoned(ctx, 'c', e.c) };
  kernel.checkBuffers(shape, bindings);
  await runPass(ctx, (pass) => kernel.encode(pass, kernel.bindGroup(bindings, shape), kernel.dispatch(shape)));
  const got = await download(ctx, bindings.c, e.c);
  const ref = matmulReference(s, a, b, bias, Float64Array.from(c0));

  const label = `C of ${JSON.stringify(shape)} (seed ${seed})`;
  const idx = [...written.keys()].filter((i) => written[i]);
  expectClose(label, idx.map((i) => got[i]), idx.map((i) => ref[i]));
  const stray = [...written.keys()].filter((i) => !written[i] && !Number.isNaN(got[i]));
  expect(stray, `${label}: elements outside the product were written`).toEqual([]);
  for (const buf of Object.values(bindings)) buf.destroy();
}

for (const variant of ['staged', 'direct', 'slab'] as const) {
  describe(`matmul, ${variant}: C = A·Bᵀ (+ bias) (+ C)`, () => {
    beforeEach(({ skip }) => {
      // The slab variant needs subgroups of 4 lanes or more; SwiftShader, which runs the tests
      // without a GPU, has them (test/gpu/device.test.ts).
      if (variant === 'slab' && !slabs) skip('this device has no subgroups of at least 4 lanes');
    });
    const sizes: Array<[number, number, number]> = [
      [1, 1, 1],
      [7, 13, 5],
      [65, 33, 17],
      [130, 67, 129],
      [3, 200, 31],
      // Fewer columns than a direct thread's block: the direct variant runs Cᵀ (matmulOrientation).
      [97, 1, 45],
      [130, 6, 66],
      // Several slabs of K (64 a slab, its second half run where K reaches it) with a tail, rows
      // past whole blocks of 4, columns past a workgroup's 128.
      [70, 150, 97],
      // K of exactly one half slab, and of exactly one slab.
      [9, 130, 32],
      [68, 136, 64],
    ];
    for (const [M, N, K] of sizes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          it(`M=${M} N=${N} K=${K} transA=${transA} transB=${transB}`, async () => {
            await check({ M, N, K, transA, transB, hasBias: (M + N) % 2 === 0 }, kernels[variant]);
          });
        }
      }
    }

    it('adds the bias to every row', async () => {
      await check({ M: 37, N: 41, K: 19, hasBias: true, offsetBias: 3 }, kernels[variant]);
    });

    it('accumulates into C', async () => {
      await check({ M: 29, N: 71, K: 66, accumulate: true, hasBias: true }, kernels[variant]);
      await check({ M: 5, N: 3, K: 130, accumulate: true, transA: true }, kernels[variant]);
    });

    it('batched, with offsets, padded rows and gaps between matrices', async () => {
      await check({ M: 19, N: 23, K: 11, batch: 3, lda: 13, ldb: 12, ldc: 27, strideA: 19 * 13 + 5, strideB: 23 * 12 + 2, strideC: 19 * 27 + 7, offsetA: 3, offsetB: 1, offsetC: 9 }, kernels[variant]);
      await check({ M: 66, N: 9, K: 70, batch: 2, transA: true, transB: true, hasBias: true, accumulate: true, offsetC: 4, strideC: 66 * 9 + 3 }, kernels[variant]);
    });

    it('thin products (a bias gradient, a one-output read-out) with offsets, padding and accumulation', async () => {
      await check({ M: 75, N: 1, K: 40, transA: true, transB: true, accumulate: true, offsetA: 2, offsetB: 5, offsetC: 3 }, kernels[variant]);
      await check({ M: 33, N: 3, K: 21, batch: 2, lda: 25, ldb: 22, ldc: 5, strideA: 33 * 25 + 1, strideB: 3 * 22 + 4, strideC: 33 * 5 + 2, offsetC: 1 }, kernels[variant]);
      await check({ M: 1, N: 90, K: 50, transA: true }, kernels[variant]);
      // A read-out's bias, which the direct variant adds along the rows of Cᵀ.
      await check({ M: 130, N: 1, K: 67, hasBias: true, offsetBias: 2 }, kernels[variant]);
      await check({ M: 41, N: 5, K: 33, batch: 2, hasBias: true, offsetBias: 1, accumulate: true, transB: true }, kernels[variant]);
    });

    it('interleaves a batch through a column stride of C', async () => {
      // Three matrices written element-interleaved: z at offset z, columns 3 apart.
      await check({ M: 13, N: 17, K: 9, batch: 3, strideA: 0, strideB: 17 * 9, strideC: 1, colStrideC: 3, ldc: 17 * 3, hasBias: true }, kernels[variant]);
      await check({ M: 70, N: 5, K: 33, batch: 4, transA: true, strideC: 1, colStrideC: 4, accumulate: true }, kernels[variant]);
    });

    it('refuses operand buffers too small for the shape', () => {
      const small = upload(ctx, 'small', new Float32Array(4));
      const uniform = createUniformBuffer(ctx, 'u', 128);
      expect(() => kernels[variant].checkBuffers({ M: 3, N: 3, K: 3 }, { uniform, a: small, b: small, bias: small, c: small })).toThrow(/operand a .* holds 4 floats, the shape needs 9/);
      small.destroy();
      uniform.destroy();
    });
  });
}

describe('matmul with other tiles: every workgroup shape and K slab computes the same product', () => {
  const variants: MatmulTiles[] = [
    { wgX: 8, wgY: 8, tileK: 8 },
    { wgX: 16, wgY: 8, tileK: 32 },
    { wgX: 8, wgY: 16, tileK: 4 },
    { wgX: 4, wgY: 16, tileK: 1, direct: true },
    { wgX: 16, wgY: 2, tileK: 1, direct: true },
  ];
  for (const tiles of variants) {
    for (const [M, N, K] of [
      [7, 13, 5],
      [65, 33, 17],
      [130, 67, 129],
    ] as const) {
      it(`${JSON.stringify(tiles)}: M=${M} N=${N} K=${K}`, async () => {
        const kernel = await MatmulKernel.create(ctx, tiles);
        await check({ M, N, K, transA: M % 2 === 0, transB: N % 2 === 1, hasBias: true }, kernel);
        await check({ M, N, K, batch: 2, accumulate: true }, kernel);
      });
    }
  }
  it('refuses tiles the device cannot run', async () => {
    await expect(MatmulKernel.create(ctx, { wgX: 32, wgY: 32, tileK: 16 })).rejects.toThrow(/at most \d+ threads/);
  });
});

describe('matmul, the slab variant under auto (what models get on a software adapter)', () => {
  it('takes the products slabFits takes once compiled, the direct variant serving until then', async ({ skip }) => {
    if (!slabs) skip('this device has no subgroups of at least 4 lanes');
    const kernel = await MatmulKernel.create(ctx, DIRECT_MATMUL_TILES);
    expect(kernel.slabUse).toBe('auto');
    // An Elman cell's bias gradient at workload C (one column) and narrow products stay direct,
    // and leave the slab variant uncompiled.
    expect(kernel.dispatch({ M: 512, N: 1, K: 2048, transA: true, transB: true }).slab).toBeNull();
    expect(kernel.dispatch({ M: 40, N: 300, K: 64 }).slab).toBeNull();
    expect(kernel.dispatch({ M: 512, N: 64, K: 1024, transA: true, transB: true }).slab).toBeNull();
    expect(kernel.slabStarted).toBe(false);
    // The cell's dW_ih: the first product the slab variant takes starts its compile.
    expect(kernel.dispatch({ M: 512, N: 128, K: 2048, transA: true, transB: true }).slab).toEqual([1, expect.any(Number), 1]);
    expect(kernel.slabStarted).toBe(true);
    await kernel.whenSlabReady();
    expect(kernel.slabReady).toBe(true);
    await check({ M: 100, N: 130, K: 45, transA: true, transB: true, accumulate: true }, kernel);
    await check({ M: 64, N: 140, K: 100, batch: 2, hasBias: true }, kernel);
  });

  it('slabFits: rows enough to share a lane\'s slab of B, columns enough to fill a workgroup\'s lanes, K a slab', () => {
    expect(slabFits({ M: 512, N: 512, K: 2048 })).toBe(true);
    expect(slabFits({ M: 2048, N: 512, K: 128 })).toBe(true);
    expect(slabFits({ M: 63, N: 512, K: 128 })).toBe(false);
    expect(slabFits({ M: 512, N: 128, K: 32 })).toBe(true);
    expect(slabFits({ M: 512, N: 127, K: 128 })).toBe(false);
    expect(slabFits({ M: 512, N: 512, K: 31 })).toBe(false);
  });

  it('refuses the slab variant off the direct tiles or without subgroups, and unknown uses', async () => {
    await expect(MatmulKernel.create(ctx, DEFAULT_MATMUL_TILES, { slab: 'always' })).rejects.toThrow(/needs the direct tiles and subgroups/);
    await expect(MatmulKernel.create(ctx, DIRECT_MATMUL_TILES, { slab: 'sometimes' as never })).rejects.toThrow(/slab must be 'auto', 'always' or 'never'/);
    expect((await MatmulKernel.create(ctx, DEFAULT_MATMUL_TILES)).slabUse).toBe('never');
  });
});
