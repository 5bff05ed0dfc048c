// W_hh as the staged and cooperative products read it: whhT's element (d, k, j) (layouts in
// common/step-forward.wgsl), from float32 words or, with HALF, from half-precision pairs
// (RecurrentOptions.weightPrecision 'f16'): the gated cells' four gates in a vec2u, the Elman
// cell's units two to a word along j, ceil(H / 2) words per (d, k).

#if GATED
fn gateWeights(d: u32, k: u32, j: u32) -> vec4f {
#if HALF
  let w = whhT[whhIndex(d, k, j)];
  return vec4f(unpack2x16float(w.x), unpack2x16float(w.y));
#else
  return whhT[whhIndex(d, k, j)];
#endif
}
#else
fn elmanWeight(d: u32, k: u32, j: u32) -> f32 {
#if HALF
  let pair = unpack2x16float(whhT[(d * p.hidden + k) * ((p.hidden + 1u) / 2u) + j / 2u]);
  return pair[j % 2u];
#else
  return whhT[whhIndex(d, k, j)];
#endif
}
#endif
