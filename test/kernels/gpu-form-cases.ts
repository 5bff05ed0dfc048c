/**
 * Cases of the GPU's newer step forms, for the three cells' forward tests: the persistent
 * kernel's cooperative form, the per-step kernel's tiled form and the forms that read W_hh from
 * half-precision pairs.
 */
import { expect } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.js';
import { persistentWorkgroup, type CellStepKernel, type CellStepShape } from '../../src/kernels/recurrent-step.js';
import type { Random } from '../../src/spec/random.js';
import { checkCellStep, checkPersistentLayer, layerStates, type ReferenceStep } from './cell-step-harness.js';

/**
 * Cases of the persistent kernel's cooperative form (GPUs): H = 1 (one slice), 7 and 37 (4
 * slices of 10 inputs, the last of 7), 130 (256 units, the guaranteed workgroup); both
 * directions, with and without lengths; the training variant with two.
 */
export function cooperativeCases(): Array<{ shape: CellStepShape; training: boolean; lengths: number[] | null; name: string }> {
  const out: ReturnType<typeof cooperativeCases> = [];
  for (const { batch, hidden, seqLen } of [{ batch: 1, hidden: 1, seqLen: 4 }, { batch: 3, hidden: 7, seqLen: 5 }, { batch: 2, hidden: 37, seqLen: 4 }, { batch: 2, hidden: 130, seqLen: 3 }]) {
    for (const numDirections of [1, 2]) {
      for (const lengths of [null, Array.from({ length: batch }, (_, b) => 1 + ((b * 2) % seqLen))]) {
        const training = numDirections === 2;
        out.push({ shape: { batch, hidden, seqLen, numDirections, ...layerStates(numDirections, batch, hidden, 1) }, training, lengths, name: `cooperative, ${training ? 'training, ' : ''}B=${batch} H=${hidden} T=${seqLen} D=${numDirections}${lengths ? `, lengths ${lengths}` : ''}` });
      }
    }
  }
  return out;
}

/**
 * Where a cooperative kernel must and must not keep W_hh in workgroup memory on any device:
 * H <= 7 (at most 784 bytes of weights beside 40 invocations' 800) fits the 16 KiB every device
 * has; H = 130 (270 KiB of gated weights, 68 KiB of the Elman cell's) fits none that WebGPU
 * allows. Sizes between depend on the device's workgroup memory.
 */
export function expectWeightCache(kernel: CellStepKernel, hidden: number): void {
  if (hidden <= 7) expect(kernel.cachesWeights, `H=${hidden}: W_hh in workgroup memory`).toBe(true);
  if (hidden >= 130) expect(kernel.cachesWeights, `H=${hidden}: W_hh read from storage`).toBe(false);
}

/** The kernel options of a cooperative case. */
export function cooperativeVariant(c: { shape: CellStepShape; training: boolean }): { batchTile: false; persistent: true; cooperative: true; hidden: number; training: boolean } {
  return { batchTile: false, persistent: true, cooperative: true, hidden: c.shape.hidden, training: c.training };
}

/**
 * Cases of the per-step kernel's tiled form (GPUs; a workgroup of 16 units by 16 rows, slabs of
 * 16 input units): sizes below, at and across the tile in both (B = 1, 5, 17, 33; H = 1, 7, 17,
 * 37, 130, the last slab partial), the first step (reads h0) and the last (writes hN), both
 * directions, with and without lengths; the training variant with two directions; two cases
 * read W_hh from half-precision pairs (checked against the reference of the rounded weights).
 */
export function tiledCases(): Array<{ shape: CellStepShape; step: number; training: boolean; half: boolean; lengths: number[] | null; name: string }> {
  const out: ReturnType<typeof tiledCases> = [];
  const sizes = [{ batch: 1, hidden: 1 }, { batch: 5, hidden: 17 }, { batch: 17, hidden: 37 }, { batch: 33, hidden: 130 }, { batch: 16, hidden: 7 }];
  const add = (batch: number, hidden: number, numDirections: number, step: number, withLengths: boolean, half: boolean): void => {
    const seqLen = 3;
    const lengths = withLengths ? Array.from({ length: batch }, (_, b) => 1 + ((b + step) % seqLen)) : null;
    const training = numDirections === 2;
    const shape = { batch, hidden, seqLen, numDirections, ...layerStates(numDirections, batch, hidden, step % 2) };
    out.push({ shape, step, training, half, lengths, name: `tiled, ${half ? 'half W_hh, ' : ''}${training ? 'training, ' : ''}B=${batch} H=${hidden} D=${numDirections} step ${step} of ${seqLen}${lengths ? `, lengths ${lengths}` : ''}` });
  };
  for (const { batch, hidden } of sizes) {
    for (const numDirections of [1, 2]) {
      for (const step of [0, 2]) {
        for (const withLengths of [false, true]) add(batch, hidden, numDirections, step, withLengths, false);
      }
    }
  }
  add(6, 37, 2, 1, true, true);
  add(17, 7, 1, 0, false, true);
  return out;
}

/** The kernel options of a tiled case. */
export function tiledVariant(c: ReturnType<typeof tiledCases>[number]): { batchTile: true; tiled: true; training: boolean; half: boolean } {
  return { batchTile: true, tiled: true, training: c.training, half: c.half };
}

/**
 * Cases of the HALF forms (W_hh from half-precision pairs; GPUs): the per-step staged kernel
 * with and without the batch tile, the persistent staged one and the cooperative one, at odd
 * H (the Elman cell's rows end in a padded half word). `step` is set for the per-step cases.
 */
export function halfCases(): Array<{ shape: CellStepShape; step?: number; persistent: boolean; cooperative: boolean; batchTile: boolean; training: boolean; lengths: number[] | null; name: string }> {
  const shape = (batch: number, hidden: number, seqLen: number, numDirections: number): CellStepShape => ({ batch, hidden, seqLen, numDirections, ...layerStates(numDirections, batch, hidden, 1) });
  const forms = [
    { shape: shape(3, 7, 4, 2), step: 1, persistent: false, cooperative: false, batchTile: false, training: false, lengths: [4, 2, 3] },
    { shape: shape(5, 65, 3, 1), step: 0, persistent: false, cooperative: false, batchTile: true, training: true, lengths: null },
    { shape: shape(5, 37, 3, 2), persistent: true, cooperative: false, batchTile: true, training: true, lengths: [3, 1, 2, 3, 2] },
    { shape: shape(2, 65, 4, 2), persistent: true, cooperative: true, batchTile: false, training: false, lengths: [4, 3] },
    { shape: shape(1, 37, 5, 1), persistent: true, cooperative: true, batchTile: false, training: true, lengths: null },
  ];
  return forms.map((f) => ({ ...f, name: `half W_hh, ${f.cooperative ? 'cooperative' : f.persistent ? 'persistent' : 'per step'}, ${f.training ? 'training, ' : ''}${f.batchTile ? 'batch-tiled' : 'one row'}: B=${f.shape.batch} H=${f.shape.hidden} T=${f.shape.seqLen} D=${f.shape.numDirections}${f.lengths ? `, lengths ${f.lengths}` : ''}` }));
}

/** The kernel options of a HALF case. */
export function halfVariant(c: ReturnType<typeof halfCases>[number]): { batchTile: boolean; persistent: boolean; cooperative: boolean; hidden: number; workgroup: number; training: boolean; half: true } {
  return { batchTile: c.batchTile, persistent: c.persistent, cooperative: c.cooperative, hidden: c.shape.hidden, workgroup: persistentWorkgroup(c.shape.hidden), training: c.training, half: true };
}

/** Run a HALF case of `kernel` against `reference` (one step, or the whole layer where persistent). */
export async function checkHalfCase(ctx: GpuContext, kernel: CellStepKernel, reference: ReferenceStep, rng: Random, c: ReturnType<typeof halfCases>[number], label: string): Promise<void> {
  if (c.step === undefined) await checkPersistentLayer(ctx, kernel, reference, rng, c.shape, label, c.lengths);
  else await checkCellStep(ctx, kernel, reference, rng, c.shape, c.step, label, c.lengths);
}

