// Mean squared error over the rows of a read-out, with a weight (mask) per row:
//   loss = scale * sum_r w_r * sum_o (y[r, o] - targets[r, o])^2,   scale = 1 / (O * sum_r w_r)
// (PyTorch's MSELoss with reduction 'mean' over the rows whose weight is 1), and its gradient
//   dY[r, o] = 2 * scale * w_r * (y[r, o] - targets[r, o]).
// lossRows[r] receives row r's share of the loss; the caller sums it (in float64) when it
// wants the value. Row r of y starts at yOffset + r * O (targets and dY start at 0). One
// invocation per row.

struct Params {
  rows: u32,
  outputs: u32,
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
  let w = mask[r];
  var acc = 0.0;
  for (var o = 0u; o < p.outputs; o++) {
    let i = r * p.outputs + o;
    let diff = y[p.yOffset + i] - targets[i];
    acc += diff * diff;
    dY[i] = 2.0 * p.scale * w * diff;
  }
  lossRows[r] = p.scale * w * acc;
}
