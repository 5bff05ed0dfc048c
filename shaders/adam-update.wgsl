// Adam and AdamW (PyTorch's torch.optim.Adam / AdamW, amsgrad off), fused with gradient
// clipping; one invocation per parameter element:
//   g = grad * clip[1], then clamp(g, -clipValue, clipValue) when clipValue > 0
//   Adam:  g = g + weightDecay * param        AdamW (decoupled): param *= 1 - lr * weightDecay
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
//   param = param - lr * (m / correction1) / (sqrt(v / correction2) + eps)
// with correction1 = 1 - beta1^t and correction2 = 1 - beta2^t for step t, computed by the
// caller.

struct Params {
  count: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weightDecay: f32,
  decoupled: u32,
  correction1: f32,
  correction2: f32,
  clipValue: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;
@group(0) @binding(5) var<storage, read> clip: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.count) { return; }
  var g = grad[i] * clip[1];
  if (p.clipValue > 0.0) { g = clamp(g, -p.clipValue, p.clipValue); }
  var w = param[i];
  if (p.decoupled != 0u) { w = w * (1.0 - p.lr * p.weightDecay); } else { g += p.weightDecay * w; }
  let m = p.beta1 * m1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * m2[i] + (1.0 - p.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  param[i] = w - p.lr * (m / p.correction1) / (sqrt(v / p.correction2) + p.eps);
}
