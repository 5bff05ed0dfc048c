/** shaders/embedding-backward.wgsl against its float64 reference, over the rows embeddingRows lists. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import { GpuContext } from '../../src/gpu/device.js';
import { createEmbeddingBackward, EMBEDDING_BACKWARD_WORKGROUP } from '../../src/kernels/embedding-backward.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { embeddingRows, embeddingRowsWords } from '../../src/spec/embedding.js';
import { embeddingBackwardReference } from '../../src/reference/embedding-backward.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('embedding-backward');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createEmbeddingBackward(ctx);
});
afterAll(() => ctx?.destroy());

describe('embedding-backward against the float64 reference', () => {
  // Few ids drawn from many rows, and many positions on few rows (repeats), with and without a padding row.
  for (const [V, I, N, pad] of [[1, 1, 1, null], [53, 5, 17, null], [9, 7, 301, 0], [257, 33, 129, 4]] as const) {
    it(`${N} positions over ${V} rows, ${I} features, padding ${pad}`, async () => {
      const ids = Uint32Array.from({ length: N }, () => Math.floor(rng.uniform() * V));
      if (pad !== null) ids[N >> 1] = pad;
      const dx = randomFloats(rng, N * I);
      const { slot, starts, order } = embeddingRows(ids, V, pad);
      const layout = embeddingRowsWords(V, N);
      const words = new Uint32Array(layout.words);
      words.set(slot);
      words.set(starts, layout.startsAt);
      words.set(order, layout.orderAt);
      const uniform = createUniformBuffer(ctx, 'params', 16);
      ctx.device.queue.writeBuffer(uniform, 0, kernel.params({ numEmbeddings: V, features: I, startsAt: layout.startsAt, orderAt: layout.orderAt }));
      const buffers = { rows: upload(ctx, 'rows', new Float32Array(words.buffer)), dx: upload(ctx, 'dx', dx), dE: poisoned(ctx, 'dE', V * I + 2) };
      await runPass(ctx, (pass) => kernel.encode(pass, kernel.bindGroup({ buffer: uniform }, buffers), kernel.workgroups1d(V * I, EMBEDDING_BACKWARD_WORKGROUP)));
      const got = await download(ctx, buffers.dE, V * I + 2);
      expectClose(`embedding-backward V=${V} I=${I} N=${N} (seed ${seed})`, got.subarray(0, V * I), embeddingBackwardReference(dx, ids, V, I, pad));
      expect([...got.subarray(V * I)].every(Number.isNaN), 'nothing written past dE').toBe(true);
      for (const b of [uniform, ...Object.values(buffers)]) b.destroy();
    });
  }

  it('embeddingRows lists each row read once, its positions in order, and leaves out the padding row', () => {
    const ids = [3, 1, 3, 0, 3, 1];
    const { slot, starts, order } = embeddingRows(ids, 5, 0);
    expect([...slot]).toEqual([0xffffffff, 0, 0xffffffff, 1, 0xffffffff]);
    expect([...starts.subarray(0, 3)]).toEqual([0, 2, 5]);
    expect([...order.subarray(0, 5)]).toEqual([1, 5, 0, 2, 4]);
  });
});
