/** shaders/embedding-forward.wgsl against its float64 reference. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import { GpuContext } from '../../src/gpu/device.js';
import { createEmbeddingForward, EMBEDDING_WORKGROUP } from '../../src/kernels/embedding-forward.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { embeddingForwardReference } from '../../src/reference/embedding-forward.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('embedding-forward');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createEmbeddingForward(ctx);
});
afterAll(() => ctx?.destroy());

describe('embedding-forward against the float64 reference', () => {
  for (const [V, I, N] of [[1, 1, 1], [37, 5, 23], [1001, 67, 301]]) {
    it(`${N} ids of ${V}, ${I} features`, async () => {
      const weight = randomFloats(rng, V * I);
      const ids = Uint32Array.from({ length: N }, () => Math.floor(rng.uniform() * V));
      const uniform = createUniformBuffer(ctx, 'params', 16);
      ctx.device.queue.writeBuffer(uniform, 0, kernel.params({ rows: N, features: I }));
      const buffers = { ids: upload(ctx, 'ids', new Float32Array(ids.buffer)), weight: upload(ctx, 'weight', weight), x: poisoned(ctx, 'x', N * I + 2) };
      await runPass(ctx, (pass) => kernel.encode(pass, kernel.bindGroup({ buffer: uniform }, buffers), kernel.workgroups1d(N * I, EMBEDDING_WORKGROUP)));
      const got = await download(ctx, buffers.x, N * I + 2);
      expectClose(`embedding-forward V=${V} I=${I} N=${N} (seed ${seed})`, got.subarray(0, N * I), embeddingForwardReference(weight, ids, I));
      expect([...got.subarray(N * I)].every(Number.isNaN), 'nothing written past x').toBe(true);
      for (const b of [uniform, ...Object.values(buffers)]) b.destroy();
    });
  }
});
