import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import { GpuContext } from '../../src/gpu/device.js';
import { createGradNorm, gradNormWorkgroups } from '../../src/kernels/grad-norm.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { gradNormReference } from '../../src/reference/grad-norm.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('grad-norm');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createGradNorm(ctx);
});
afterAll(() => ctx?.destroy());

/** Norm and clipping factor of several tensors in one pass, as the trainer records them. */
async function check(sizes: number[], maxNorm: number, spread: number, limit = 64): Promise<void> {
  const grads = sizes.map((n) => randomFloats(rng, n, -spread, spread));
  const slotsOf = sizes.map((n) => gradNormWorkgroups(n, limit));
  const slots = slotsOf.reduce((a, b) => a + b, 0);
  const slot = 256;
  const uniform = createUniformBuffer(ctx, 'norm params', slot * (sizes.length + 1));
  const data = new ArrayBuffer(slot * (sizes.length + 1));
  let first = 0;
  sizes.forEach((count, i) => {
    kernel.params({ count, slot: first, slots, maxNorm }, data, i * slot);
    first += slotsOf[i];
  });
  kernel.params({ count: 0, slot: 0, slots, maxNorm }, data, sizes.length * slot);
  ctx.device.queue.writeBuffer(uniform, 0, data);
  const partials = poisoned(ctx, 'partials', slots);
  const clip = poisoned(ctx, 'clip', 2);
  const gradBuffers = grads.map((g, i) => upload(ctx, `grad ${i}`, g));
  await runPass(ctx, (pass) => {
    gradBuffers.forEach((grad, i) => kernel.encode(pass, kernel.bindGroup({ buffer: uniform }, { grad, partials, clip }), [slotsOf[i], 1, 1], 'partial', i * slot));
    kernel.encode(pass, kernel.bindGroup({ buffer: uniform }, { grad: gradBuffers[0], partials, clip }), [1, 1, 1], 'finish', sizes.length * slot);
  });
  const got = await download(ctx, clip, 2);
  const ref = gradNormReference(grads, maxNorm);
  expectClose(`norm of ${sizes} (seed ${seed})`, [got[0]], [ref.norm]);
  expectClose(`scale of ${sizes} (seed ${seed})`, [got[1]], [ref.scale]);
  for (const b of [...gradBuffers, partials, clip, uniform]) b.destroy();
}

describe('grad-norm against the float64 reference', () => {
  it('one small tensor', () => check([1], 1, 1));
  it('several tensors of odd sizes, clipping active', () => check([7, 300, 65, 16411], 0.5, 1));
  it('clipping inactive: scale 1', () => check([13, 257], 1e6, 0.1));
  it('maxNorm 0 means no clipping', () => check([1000], 0, 1));
  it('a tensor spread over the most workgroups', async () => {
    expect(gradNormWorkgroups(1e6)).toBe(64);
    await check([200_003], 2, 0.01);
  });
  it("at most two workgroups a tensor (a software adapter's limit): each invocation sums many elements", async () => {
    expect(gradNormWorkgroups(1e6, 2)).toBe(2);
    expect(gradNormWorkgroups(100, 2)).toBe(1);
    await check([7, 200_003, 513], 2, 0.01, 2);
  });
});
