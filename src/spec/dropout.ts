/**
 * The masks of dropout between layers: element i of the mask of one (seed, call, boundary) is
 * kept when
 *   u = fmix32(fmix32(i + k0) ^ k1) ≥ threshold,  threshold = ⌊p·2³²⌋,
 * with (k0, k1) = dropoutKeys(seed, call, boundary) and fmix32 the finalizer of MurmurHash3
 * (shifts 16, 13, 16; multipliers 0x85ebca6b, 0xc2b2ae35); a kept element is scaled by
 * 1/(1 − p), a dropped one is 0 (PyTorch's inverted dropout). All arithmetic is on 32-bit
 * unsigned integers, so the WGSL and wasm kernels and the float64 reference draw the same masks.
 */

/** MurmurHash3's 32-bit finalizer: a bijection of u32 whose output bits each depend on every input bit. */
export function fmix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The two keys of the mask of `boundary` (the output of layer `boundary`) in training call `call` of a model seeded `seed`. */
export function dropoutKeys(seed: number, call: number, boundary: number): [number, number] {
  const k0 = fmix32((seed ^ Math.imul(call + 1, 0x9e3779b9)) >>> 0);
  const k1 = fmix32((k0 ^ Math.imul(boundary + 1, 0x632be5ab)) >>> 0);
  return [k0, k1];
}

/** The u32 below which an element is dropped: ⌊p·2³²⌋ (p in [0, 1)). */
export function dropoutThreshold(p: number): number {
  return Math.min(0xffffffff, Math.floor(p * 2 ** 32));
}

/** Whether element `i` is kept. */
export function dropoutKept(i: number, k0: number, k1: number, threshold: number): boolean {
  return fmix32((fmix32((i + k0) >>> 0) ^ k1) >>> 0) >= threshold;
}


/** The uniform of the dropout kernels (shaders/dropout.wgsl's Params) for a mask over n elements. */
export function dropoutUniform(n: number, p: number, keys: readonly [number, number]): { n: number; threshold: number; k0: number; k1: number; scale: number } {
  return { n, threshold: dropoutThreshold(p), k0: keys[0], k1: keys[1], scale: 1 / (1 - p) };
}
