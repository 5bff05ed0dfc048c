/**
 * IEEE binary16 and bfloat16 conversions (the safetensors reader and writer, and the models
 * whose recurrent weights are held in half precision), and those weights rounded.
 */
import type { StateDict } from './parameters.js';
import { parameterName, type ModelSpec } from './spec.js';

/** IEEE half → float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/**
 * float → IEEE half, rounded to nearest, ties to even (as a float32 → float16 conversion in
 * hardware or PyTorch's .half()); beyond the largest half (65504 and its rounding interval) → ±Inf.
 */
export function floatToHalf(v: number): number {
  scratch[0] = v;
  const x = scratchBits[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // The exponent re-biased for half (bias 15 instead of 127).
  const e = exp - 112;
  if (e >= 31) return sign | 0x7c00;
  // Keep `keep` high bits of the 24-bit significand m (the implicit 1 included): below half's
  // normal range, the value is (m >> shift) · 2^-24.
  let h: number;
  let shift: number;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    shift = 14 - e;
    h = mant >>> shift;
  } else {
    shift = 13;
    h = (e << 10) | (mant >>> 13);
  }
  const rest = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  // A carry out of the significand moves to the next exponent (or to Inf), as it should.
  if (rest > half || (rest === half && (h & 1) === 1)) h++;
  return sign | h;
}

/** float → bfloat16 (float32's top 16 bits), rounded to nearest, ties to even; NaN stays NaN. */
export function floatToBfloat16(v: number): number {
  scratch[0] = v;
  const x = scratchBits[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** v rounded to the nearest half (ties to even), as a float. */
export function roundToHalf(v: number): number {
  return halfToFloat(floatToHalf(v));
}

/**
 * The parameters as a model of `spec` holds them: with weightPrecision 'f16', each W_hh
 * (weight_hh_l{k}[_reverse]) rounded to half precision in a copy; otherwise `dict` itself.
 */
export function storedParameters(spec: ModelSpec, dict: Readonly<StateDict>): Readonly<StateDict> {
  if (spec.weightPrecision !== 'f16') return dict;
  const out: StateDict = { ...dict };
  spec.layers.forEach((layer, l) => {
    for (let d = 0; d < layer.numDirections; d++) {
      const name = parameterName('weight_hh', l, d);
      out[name] = Float32Array.from(dict[name], roundToHalf);
    }
  });
  return out;
}

/**
 * `values` as half-precision pairs, two to a u32 (element 2i in the low half, as WGSL's
 * unpack2x16float returns it first); an odd count is padded with zero.
 */
export function packHalfPairs(values: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = floatToHalf(values[2 * i]) | ((2 * i + 1 < values.length ? floatToHalf(values[2 * i + 1]) : 0) << 16);
  return out;
}

/**
 * A layer's packed W_hhᵀ (packLayer's whhT: [D, H, H, P] floats) as the half-precision words the
 * GPU's HALF step kernels read (shaders/common/step-weights.wgsl): a gated unit's P = 4 gates in
 * two words; the Elman cell's (P = 1) units two to a word along j, ceil(H / 2) words per (d, k).
 */
export function packWhhTHalf(whhT: Float32Array, D: number, H: number, P: number): Uint32Array {
  if (P !== 1) return packHalfPairs(whhT);
  const row = Math.ceil(H / 2);
  const out = new Uint32Array(D * H * row);
  for (let r = 0; r < D * H; r++) out.set(packHalfPairs(whhT.subarray(r * H, (r + 1) * H)), r * row);
  return out;
}
