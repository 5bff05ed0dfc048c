/** Shared check of the two loss kernels against their references and finite differences. */
import { expect } from 'vitest';
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { LOSS_WORKGROUP } from '../../src/kernels/mse-loss.js';
import type { Random } from '../../src/spec/random.js';
import { expectClose } from '../helpers/compare.js';
import { download, poisoned, randomFloats, runPass, upload } from '../helpers/gpu.js';
import { centralDifferences, expectMatchesDifferences } from './cell-backward-harness.js';

type LossReference = (s: { rows: number; outputs: number; scale: number; y: ArrayLike<number>; target: ArrayLike<number>; mask: ArrayLike<number> }) => {
  lossRows: Float64Array;
  dY: Float64Array;
};

/** Random masks with some rows off (never all off). */
export function randomMask(rng: Random, rows: number): Float32Array {
  const m = Float32Array.from({ length: rows }, () => (rng.uniform() < 0.3 ? 0 : 1));
  m[0] = 1;
  return m;
}

export async function checkLossKernel(
  ctx: GpuContext,
  kernel: Kernel,
  reference: LossReference,
  rng: Random,
  rows: number,
  outputs: number,
  target: Float32Array,
  crossEntropy: boolean,
  label: string,
): Promise<void> {
  // y has a few rows before the ones the loss reads, as the last-step loss has.
  const yOffset = 3 * outputs;
  const yAll = randomFloats(rng, yOffset + rows * outputs, -3, 3);
  const y = yAll.subarray(yOffset);
  const mask = randomMask(rng, rows);
  const count = mask.reduce((a, b) => a + b, 0);
  const scale = crossEntropy ? 1 / count : 1 / (count * outputs);
  const uniform = createUniformBuffer(ctx, 'loss params', 256);
  const sizeKey = crossEntropy ? 'classes' : 'outputs';
  ctx.device.queue.writeBuffer(uniform, 0, kernel.params({ rows, [sizeKey]: outputs, scale, yOffset }));
  const buffers = { y: upload(ctx, 'y', yAll), targets: upload(ctx, 'targets', target), mask: upload(ctx, 'mask', mask), lossRows: poisoned(ctx, 'lossRows', rows), dY: poisoned(ctx, 'dY', rows * outputs) };
  await runPass(ctx, (pass) => kernel.encode(pass, kernel.bindGroup({ buffer: uniform }, buffers), kernel.workgroups1d(rows, LOSS_WORKGROUP)));
  const ref = reference({ rows, outputs, scale, y, target, mask });
  expectClose(`${label}: lossRows`, await download(ctx, buffers.lossRows, rows), ref.lossRows);
  expectClose(`${label}: dY`, await download(ctx, buffers.dY, rows * outputs), ref.dY);
  for (const b of [...Object.values(buffers), uniform]) b.destroy();

  // The reference gradient against central differences of the reference loss.
  const y64 = Float64Array.from(y);
  const total = (): number => reference({ rows, outputs, scale, y: y64, target, mask }).lossRows.reduce((a, b) => a + b, 0);
  expectMatchesDifferences(`${label}: reference dY`, reference({ rows, outputs, scale, y: y64, target, mask }).dY, centralDifferences(total, y64));
  expect(count).toBeGreaterThan(0);
}
