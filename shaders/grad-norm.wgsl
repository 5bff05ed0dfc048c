// Global L2 norm of all gradients and the clipping factor, with no readback:
//   `partial`, dispatched once per gradient tensor: workgroup i writes the sum of squares of a
//     grid-strided share of the tensor's `count` elements to partials[slot + i];
//   `finish`, one workgroup: norm = sqrt(sum of partials[0 .. slots)), and
//     scale = min(1, maxNorm / (norm + 1e-6)) when maxNorm > 0, else 1
//   (torch.nn.utils.clip_grad_norm_'s coefficient), written to clip = (norm, scale), which the
//   optimizer kernels multiply the gradients by.
// Both reduce in workgroup memory by halving; WG must be a power of two.

struct Params {
  count: u32,
  slot: u32,
  slots: u32,
  maxNorm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> clip: array<f32>;

override WG: u32 = 256u;
var<workgroup> sums: array<f32, WG>;

fn reduce(x: u32) {
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (x < half) { sums[x] += sums[x + half]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn partial(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var acc = 0.0;
  let stride = nwg.x * WG;
  for (var i = wid.x * WG + lid.x; i < p.count; i += stride) {
    let g = grad[i];
    acc += g * g;
  }
  sums[lid.x] = acc;
  workgroupBarrier();
  reduce(lid.x);
  if (lid.x == 0u) { partials[p.slot + wid.x] = sums[0]; }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_id) lid: vec3u) {
  var acc = 0.0;
  for (var i = lid.x; i < p.slots; i += WG) { acc += partials[i]; }
  sums[lid.x] = acc;
  workgroupBarrier();
  reduce(lid.x);
  if (lid.x == 0u) {
    let norm = sqrt(sums[0]);
    var scale = 1.0;
    if (p.maxNorm > 0.0) { scale = min(1.0, p.maxNorm / (norm + 1e-6)); }
    clip[0] = norm;
    clip[1] = scale;
  }
}
