// Shared SIMD helpers of the wasm kernels: fused multiply-add where the build has relaxed SIMD,
// and f32x4 exp, sigmoid and tanh. exp follows Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2,
// e^r by its degree-7 Taylor-like minimax polynomial, 2^n put into the exponent bits.

/** a·b + c: relaxed SIMD's fused multiply-add in the relaxed build, a multiply and an add otherwise. */
// @ts-ignore: decorator
@inline export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** e^x, lane by lane; inputs clamped to [−87.3, 88.3] so the result stays finite and normal. */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504089)));
  // r = x − n·ln2 with ln2 split in a part exact in float32 and the rest (Cephes' C1, C2).
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.add(r, f32x4.mul(n, f32x4.splat(2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1.0));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), vexp(f32x4.neg(x))));
}

/** tanh x = 2σ(2x) − 1: one exp and one division (its absolute error near 0 is float32's, ~1e-7). */
// @ts-ignore: decorator
@inline export function vtanh(x: v128): v128 {
  return f32x4.sub(f32x4.div(f32x4.splat(2.0), f32x4.add(f32x4.splat(1.0), vexp(f32x4.mul(x, f32x4.splat(-2.0))))), f32x4.splat(1.0));
}

/**
 * ONNX's cell functions by code (spec/cell-functions.ts numbers them), lane by lane. Sigmoid
 * and tanh, PyTorch's, are inlined where a cell calls this, so that a step's activations
 * interleave; the others are a call.
 */
// @ts-ignore: decorator
@inline export function vact(code: i32, alpha: f32, beta: f32, x: v128): v128 {
  if (code == 0) return vsigmoid(x);
  if (code == 1) return vtanh(x);
  return vactOther(code, alpha, beta, x);
}

function vactOther(code: i32, alpha: f32, beta: f32, x: v128): v128 {
  const a = f32x4.splat(alpha);
  const b = f32x4.splat(beta);
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  switch (code) {
    case 0: return vsigmoid(x);
    case 1: return vtanh(x);
    case 2: return f32x4.max(x, zero);
    case 3: return f32x4.min(one, f32x4.max(zero, f32x4.add(f32x4.mul(a, x), b)));
    case 4: return f32x4.add(f32x4.mul(a, x), b);
    case 5: return v128.bitselect(x, f32x4.mul(a, x), f32x4.ge(x, zero));
    case 6: return v128.and(x, f32x4.gt(x, a));
    case 7: return f32x4.mul(a, vtanh(f32x4.mul(b, x)));
    case 8: return v128.bitselect(x, f32x4.mul(a, f32x4.sub(vexp(x), one)), f32x4.ge(x, zero));
    case 9: return f32x4.div(x, f32x4.add(one, f32x4.abs(x)));
    default: {
      // Softplus: log(1 + e^x) = max(x, 0) + log(1 + e^−|x|), lane by lane.
      const e = vexp(f32x4.neg(f32x4.abs(x)));
      let r = f32x4.splat(0);
      r = f32x4.replace_lane(r, 0, Mathf.log1p(f32x4.extract_lane(e, 0)));
      r = f32x4.replace_lane(r, 1, Mathf.log1p(f32x4.extract_lane(e, 1)));
      r = f32x4.replace_lane(r, 2, Mathf.log1p(f32x4.extract_lane(e, 2)));
      r = f32x4.replace_lane(r, 3, Mathf.log1p(f32x4.extract_lane(e, 3)));
      return f32x4.add(f32x4.max(x, zero), r);
    }
  }
}

/** Clamp to [−clip, clip] where clip > 0 (ONNX's clip on the inputs of f and g). */
// @ts-ignore: decorator
@inline export function vclip(x: v128, clip: f32): v128 {
  if (clip > 0) return f32x4.min(f32x4.max(x, f32x4.splat(-clip)), f32x4.splat(clip));
  return x;
}

/** Load `n` (1…4) floats from p into the low lanes (the others 0). */
// @ts-ignore: decorator
@inline export function load4(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Store the low `n` (1…4) lanes of v at p. */
// @ts-ignore: decorator
@inline export function store4(p: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** The part [begin, end) of `count` items that thread `thread` of `threads` takes, in multiples of `align`. */
// @ts-ignore: decorator
@inline export function share(count: i32, align: i32, thread: i32, threads: i32): i64 {
  const blocks = (count + align - 1) / align;
  const begin = min((blocks * thread) / threads * align, count);
  const end = min((blocks * (thread + 1)) / threads * align, count);
  return (i64(begin) << 32) | i64(end);
}
