// Softmax cross-entropy over the rows of a read-out (logits), a class index per row and a
// weight (mask) per row:
//   loss = scale * sum_r w_r * (logsumexp(y[r, :]) - y[r, target_r]),   scale = 1 / sum_r w_r
// (PyTorch's CrossEntropyLoss with reduction 'mean' over the rows whose weight is 1), and
//   dY[r, c] = scale * w_r * (softmax(y[r, :])_c - [c == target_r]).
// Targets are class indices stored as f32 (exact below 2^24). lossRows[r] receives row r's
// share of the loss. Row r of y starts at yOffset + r * C (targets and dY start at 0). One
// invocation per row; the maximum is subtracted before exponentiating.

struct Params {
  rows: u32,
  classes: u32,
  scale: f32,
  yOffset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> lossRows: array<f32>;
@group(0) @binding(5) var<storage, read_write> dY: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let base = p.yOffset + r * p.classes;
  var m = y[base];
  for (var c = 1u; c < p.classes; c++) { m = max(m, y[base + c]); }
  var s = 0.0;
  for (var c = 0u; c < p.classes; c++) { s += exp(y[base + c] - m); }
  let t = u32(targets[r]);
  let w = p.scale * mask[r];
  for (var c = 0u; c < p.classes; c++) {
    let q = exp(y[base + c] - m) / s;
    dY[r * p.classes + c] = w * (q - select(0.0, 1.0, c == t));
  }
  lossRows[r] = w * (m + log(s) - y[base + t]);
}
