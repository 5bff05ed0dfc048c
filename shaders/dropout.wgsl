// Inverted dropout: y = x ⊙ m over n elements, m_i = scale = 1/(1 − p) where element i is kept
// and 0 where it is dropped. Element i is kept when u = fmix32(fmix32(i + k0) ^ k1) ≥ threshold
// (threshold = ⌊p·2³²⌋; the keys name the mask: src/spec/dropout.ts defines it). The same
// dispatch applies a layer's mask to its output in the forward pass and to the gradient that
// reaches that output in the backward pass. One invocation an element; workgroups fold into y.

struct Params {
  n: u32,
  threshold: u32,
  k0: u32,
  k1: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override WG: u32 = 256u;

// MurmurHash3's 32-bit finalizer.
fn fmix32(h0: u32) -> u32 {
  var h = h0;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.n) { return; }
  let u = fmix32(fmix32(i + p.k0) ^ p.k1);
  // A product rather than a select, so that a NaN stays NaN where it is dropped, as in PyTorch.
  y[i] = x[i] * select(0.0, p.scale, u >= p.threshold);
}
