// SGD with momentum, Nesterov and weight decay (PyTorch's torch.optim.SGD, dampening 0), fused
// with gradient clipping; one invocation per parameter element:
//   g = grad * clip[1]                          (the global-norm factor of grad-norm)
//   g = clamp(g, -clipValue, clipValue)         when clipValue > 0
//   g = g + weightDecay * param
//   v = g on the first step, else momentum * v + g        (when momentum != 0)
//   g = g + momentum * v (nesterov) or v
//   param = param - lr * g

struct Params {
  count: u32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
  nesterov: u32,
  clipValue: f32,
  first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(4) var<storage, read> clip: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.count) { return; }
  var g = grad[i] * clip[1];
  if (p.clipValue > 0.0) { g = clamp(g, -p.clipValue, p.clipValue); }
  g += p.weightDecay * param[i];
  if (p.momentum != 0.0) {
    var v = g;
    if (p.first == 0u) { v = p.momentum * velocity[i] + g; }
    velocity[i] = v;
    if (p.nesterov != 0u) { g = g + p.momentum * v; } else { g = v; }
  }
  param[i] -= p.lr * g;
}
