// The embedding's forward: x [rows, I] = weight[ids] ([V, I] row per id), the vectors the first
// layer reads. One invocation per element of x; workgroups fold into y.

struct Params {
  rows: u32,
  features: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.rows * p.features) { return; }
  let r = i / p.features;
  let k = i - r * p.features;
  x[i] = weight[ids[r] * p.features + k];
}
