// GRU step, fused (gate blocks r, z, n):
//   r = sigmoid(xr + b_hr + h_{t-1} W_hr^T)
//   z = sigmoid(xz + b_hz + h_{t-1} W_hz^T)
//   h_t = (1 - z) * n + z * h_{t-1}
// where xr, xz, xn are the blocks of xproj_t (they carry b_ir, b_iz, b_in), and n is
//   LINEAR_BEFORE_RESET (PyTorch; ONNX linear_before_reset = 1):
//     n = tanh(xn + r * (h_{t-1} W_hn^T + b_hn))            one dispatch per step
//   otherwise (ONNX linear_before_reset = 0, the ONNX default):
//     n = tanh(xn + (r * h_{t-1}) W_hn^T + b_hn)            two dispatches per step:
//   the product needs r of every unit of the row, which only a finished dispatch can give,
//   so `resetGate` writes r * h_{t-1} to `rh` [D, B, H] and `main` then reads it.
// Bindings, layouts and thread mapping: see common/recurrent-step.wgsl.

#if LINEAR_BEFORE_RESET
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let H = p.hidden;
  let GH = 3u * H;
  let j = wid.x * WG + lid.x;
  let b = wid.y;
  let d = wid.z;
  let t = timeOf(d);

  var acc = vec3f(0.0);
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b, d, k0, lid.x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = (d * H + k0 + kk) * GH + j;
        acc = fma(vec3f(hTile[kk]), vec3f(whhT[w], whhT[w + H], whhT[w + 2u * H]), acc);
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  let xb = xprojBase(t, b, d, 3u) + j;
  let bb = d * GH + j;
  let r = sigmoid(xproj[xb] + bhh[bb] + acc.x);
  let z = sigmoid(xproj[xb + H] + bhh[bb + H] + acc.y);
  let n = tanhSat(xproj[xb + 2u * H] + r * (acc.z + bhh[bb + 2u * H]));
  let h = (1.0 - z) * n + z * prevH(b, d, j);
  hseq[hseqIndex(t, b, d, j)] = h;
  if (p.step + 1u == p.seqLen) { hN[stateIndex(b, d, j)] = h; }
}
#else
@group(0) @binding(7) var<storage, read_write> rh: array<f32>;
var<workgroup> rhTile: array<f32, WG>;

fn rhIndex(b: u32, d: u32, j: u32) -> u32 {
  return (d * p.batch + b) * p.hidden + j;
}

@compute @workgroup_size(WG)
fn resetGate(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let H = p.hidden;
  let GH = 3u * H;
  let j = wid.x * WG + lid.x;
  let b = wid.y;
  let d = wid.z;
  let t = timeOf(d);

  var acc = 0.0;
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b, d, k0, lid.x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        acc = fma(hTile[kk], whhT[(d * H + k0 + kk) * GH + j], acc);
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  let r = sigmoid(xproj[xprojBase(t, b, d, 3u) + j] + bhh[d * GH + j] + acc);
  rh[rhIndex(b, d, j)] = r * prevH(b, d, j);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let H = p.hidden;
  let GH = 3u * H;
  let j = wid.x * WG + lid.x;
  let b = wid.y;
  let d = wid.z;
  let t = timeOf(d);

  var accZ = 0.0;
  var accN = 0.0;
  for (var k0 = 0u; k0 < H; k0 += WG) {
    let k = k0 + lid.x;
    var v = 0.0;
    if (k < H) { v = rh[rhIndex(b, d, k)]; }
    rhTile[lid.x] = v;
    stagePrevH(b, d, k0, lid.x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = (d * H + k0 + kk) * GH + j;
        accZ = fma(hTile[kk], whhT[w + H], accZ);
        accN = fma(rhTile[kk], whhT[w + 2u * H], accN);
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  let xb = xprojBase(t, b, d, 3u) + j;
  let bb = d * GH + j;
  let z = sigmoid(xproj[xb + H] + bhh[bb + H] + accZ);
  let n = tanhSat(xproj[xb + 2u * H] + accN + bhh[bb + 2u * H]);
  let h = (1.0 - z) * n + z * prevH(b, d, j);
  hseq[hseqIndex(t, b, d, j)] = h;
  if (p.step + 1u == p.seqLen) { hN[stateIndex(b, d, j)] = h; }
}
#endif
