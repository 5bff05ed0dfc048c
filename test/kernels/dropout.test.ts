/**
 * shaders/dropout.wgsl against its float64 reference (src/reference/dropout.ts), and the masks
 * that reference defines: the kept fraction within the binomial spread of 1 − p, masks of other
 * calls and boundaries unlike each other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import { GpuContext } from '../../src/gpu/device.js';
import { createDropout, DROPOUT_WORKGROUP } from '../../src/kernels/dropout.js';
import { dropoutUniform } from '../../src/spec/dropout.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { dropoutKeys, dropoutMask, dropoutReference } from '../../src/reference/dropout.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('dropout');
let ctx: GpuContext;
let kernel: Kernel;
beforeAll(async () => {
  ctx = await GpuContext.create();
  kernel = await createDropout(ctx);
});
afterAll(() => ctx?.destroy());

async function check(n: number, p: number, keys: [number, number]): Promise<void> {
  const x = randomFloats(rng, n, -3, 3);
  x[n >> 1] = NaN;
  const uniform = createUniformBuffer(ctx, 'dropout params', 256);
  ctx.device.queue.writeBuffer(uniform, 0, kernel.params(dropoutUniform(n, p, keys)));
  const xb = upload(ctx, 'x', x);
  const y = poisoned(ctx, 'y', n + 3);
  await runPass(ctx, (pass) => kernel.encode(pass, kernel.bindGroup({ buffer: uniform }, { x: xb, y }), kernel.workgroups1d(n, DROPOUT_WORKGROUP), 'main', 0));
  const got = await download(ctx, y, n + 3);
  const ref = dropoutReference(x, p, keys);
  expect(Number.isNaN(got[n >> 1]), 'a NaN stays NaN, kept or dropped').toBe(true);
  got[n >> 1] = ref[n >> 1] = 0;
  expectClose(`dropout n=${n} p=${p} (seed ${seed})`, got.subarray(0, n), ref);
  // Past n nothing is written: the poison stays.
  expect([...got.subarray(n)].every(Number.isNaN)).toBe(true);
  for (const b of [uniform, xb, y]) b.destroy();
}

describe('dropout against the float64 reference', () => {
  const key = (): [number, number] => dropoutKeys(Math.floor(rng.uniform() * 2 ** 32), Math.floor(rng.uniform() * 1000), Math.floor(rng.uniform() * 4));
  it('one element', () => check(1, 0.5, key()));
  it('odd sizes and several rates', async () => {
    for (const [n, p] of [[257, 0.1], [1001, 0.5], [65_537, 0.9], [3, 0.999]] as const) await check(n, p, key());
  });
  it('p = 0 keeps everything (scale 1)', () => check(777, 0, key()));
});

describe('the masks', () => {
  it('keep a fraction 1 − p within four binomial standard deviations', () => {
    const n = 200_003;
    for (const p of [0.05, 0.3, 0.5, 0.8]) {
      const m = dropoutMask(n, p, dropoutKeys(seed, 3, 1));
      const kept = m.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
      const sd = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(kept - n * (1 - p)), `p=${p}: kept ${kept} of ${n}`).toBeLessThan(4 * sd);
      for (const v of m) if (v !== 0) expect(v).toBe(1 / (1 - p));
    }
  });

  it('of other calls, boundaries and seeds agree only as often as chance says', () => {
    const n = 100_000;
    const p = 0.5;
    const base = dropoutMask(n, p, dropoutKeys(seed, 0, 0));
    for (const keys of [dropoutKeys(seed, 1, 0), dropoutKeys(seed, 0, 1), dropoutKeys(seed + 1, 0, 0)]) {
      const other = dropoutMask(n, p, keys);
      let same = 0;
      for (let i = 0; i < n; i++) if ((base[i] > 0) === (other[i] > 0)) same++;
      // Independent masks agree on half the elements, within four standard deviations (√n / 2 each).
      expect(Math.abs(same - n / 2)).toBeLessThan(4 * Math.sqrt(n) / 2);
    }
    // Neighbouring elements are no more alike than others.
    let runs = 0;
    for (let i = 1; i < n; i++) if ((base[i] > 0) === (base[i - 1] > 0)) runs++;
    expect(Math.abs(runs - (n - 1) / 2)).toBeLessThan(4 * Math.sqrt(n) / 2);
  });
});
