/**
 * The shape of the persistent forward's cooperative form (shaders/common/step-cooperative.wgsl),
 * which the step wrappers build where CellVariant.cooperative asks for it.
 */

/** Units a pass, slices a unit's sum, invocations a workgroup. */
export interface CooperativeShape {
  units: number;
  split: number;
  workgroup: number;
}

/**
 * The cooperative form's shape for hidden size H (shaders/common/step-cooperative.wgsl): UNITS,
 * the power of two from H, units a pass (all of them); SPLIT slices a unit's sum, a power of two
 * near sqrt(H), which makes a step's chain of H / SPLIT loads plus SPLIT partials shortest; WG
 * = SPLIT * UNITS. null where H does not fit a workgroup of the device (UNITS over its size).
 */
export function cooperativeShape(hidden: number, maxInvocations: number): CooperativeShape | null {
  const units = 2 ** Math.ceil(Math.log2(Math.max(1, hidden)));
  const largest = 2 ** Math.floor(Math.log2(Math.min(maxInvocations, COOPERATIVE_MAX_WORKGROUP)));
  if (units > largest) return null;
  const split = Math.min(largest / units, 2 ** Math.floor(Math.log2(Math.sqrt(Math.max(1, hidden)))));
  return { units, split, workgroup: split * units };
}

/** The cooperative form's largest workgroup: its partial sums and h_{t-1} (20 bytes an invocation) stay within the 16 KiB of workgroup memory every device has. */
export const COOPERATIVE_MAX_WORKGROUP = 512;

/**
 * Words of W_hh one direction holds (whhT's layout, common/step-weights.wgsl): H x H, or for
 * the Elman cell's half pairs H x ceil(H / 2); `gated`, `half` as the kernel reads them.
 */
export function cooperativeWeightWords(hidden: number, gated: boolean, half: boolean): number {
  return hidden * (!gated && half ? Math.ceil(hidden / 2) : hidden);
}

/**
 * Whether the cooperative form keeps a direction's W_hh in workgroup memory (WCACHE): where its
 * words (16 bytes a gated float32 word, 8 a half one, 4 the Elman cell's) fit beside the form's
 * own h_{t-1} and partial sums (20 bytes an invocation, 8 for the Elman cell) within the
 * device's `storageBytes`. Read once before the first step instead of every step; a fit, not a
 * tuned threshold (D12).
 */
export function cooperativeCachesWeights(hidden: number, gated: boolean, half: boolean, workgroup: number, storageBytes: number): boolean {
  // Each workgroup variable counted at a multiple of 16 bytes, as compilers may lay them out.
  const round = (bytes: number): number => Math.ceil(bytes / 16) * 16;
  const wordBytes = gated ? (half ? 8 : 16) : 4;
  const own = round(workgroup * 4) + round(workgroup * (gated ? 16 : 4));
  return round(cooperativeWeightWords(hidden, gated, half) * wordBytes) + own <= storageBytes;
}