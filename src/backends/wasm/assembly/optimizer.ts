// What SGD and Adam share: the global-norm clipping factor from grad-norm.ts's parts, and value clipping.

/** min(1, maxNorm / (norm + 1e-6)) where maxNorm > 0, else 1; norm = √Σ partials[0 … count). */
export function clipScale(partials: usize, count: i32, maxNorm: f32): f32 {
  if (!(maxNorm > 0)) return 1;
  let sum: f64 = 0;
  for (let i = 0; i < count; i++) sum += load<f64>(partials + (usize(i) << 3));
  return f32(min<f64>(1, f64(maxNorm) / (Math.sqrt(sum) + 1e-6)));
}

/** g·scale clamped to ±clipValue where clipValue > 0. */
// @ts-ignore: decorator
@inline export function clipGradient(g: f32, scale: f32, clipValue: f32): f32 {
  const v = g * scale;
  return clipValue > 0 ? min(max(v, -clipValue), clipValue) : v;
}
