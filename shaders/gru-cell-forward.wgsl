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
  let b0 = wid.y * ROWS;
  let d = wid.z;
  let t = timeOf(d);

  var acc: array<vec3f, ROWS>;
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b0, d, k0, lid.x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = (d * H + k0 + kk) * GH + j;
        let wv = vec3f(whhT[w], whhT[w + H], whhT[w + 2u * H]);
        for (var r = 0u; r < ROWS; r++) { acc[r] = fma(vec3f(hTile[r * WG + kk]), wv, acc[r]); }
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  let bb = d * GH + j;
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let xb = xprojBase(t, b, d, 3u) + j;
    let rg = sigmoid(xproj[xb] + bhh[bb] + acc[r].x);
    let z = sigmoid(xproj[xb + H] + bhh[bb + H] + acc[r].y);
    let n = tanhSat(xproj[xb + 2u * H] + rg * (acc[r].z + bhh[bb + 2u * H]));
    let h = (1.0 - z) * n + z * prevH(b, d, j);
    hseq[hseqIndex(t, b, d, j)] = h;
    if (p.step + 1u == p.seqLen) { hN[stateIndex(b, d, j)] = h; }
  }
}
#else
@group(0) @binding(7) var<storage, read_write> rh: array<f32>;
// rhTile: [ROWS][WG], like hTile but holding r * h_{t-1}.
var<workgroup> rhTile: array<f32, ROWS * WG>;

fn rhIndex(b: u32, d: u32, j: u32) -> u32 {
  return (d * p.batch + b) * p.hidden + j;
}

@compute @workgroup_size(WG)
fn resetGate(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let H = p.hidden;
  let GH = 3u * H;
  let j = wid.x * WG + lid.x;
  let b0 = wid.y * ROWS;
  let d = wid.z;
  let t = timeOf(d);

  var acc: array<f32, ROWS>;
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b0, d, k0, lid.x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = whhT[(d * H + k0 + kk) * GH + j];
        for (var r = 0u; r < ROWS; r++) { acc[r] = fma(hTile[r * WG + kk], w, acc[r]); }
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let rg = sigmoid(xproj[xprojBase(t, b, d, 3u) + j] + bhh[d * GH + j] + acc[r]);
    rh[rhIndex(b, d, j)] = rg * prevH(b, d, j);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let H = p.hidden;
  let GH = 3u * H;
  let j = wid.x * WG + lid.x;
  let b0 = wid.y * ROWS;
  let d = wid.z;
  let t = timeOf(d);

  var accZ: array<f32, ROWS>;
  var accN: array<f32, ROWS>;
  for (var k0 = 0u; k0 < H; k0 += WG) {
    let k = k0 + lid.x;
    for (var r = 0u; r < ROWS; r++) {
      var v = 0.0;
      if (k < H && b0 + r < p.batch) { v = rh[rhIndex(b0 + r, d, k)]; }
      rhTile[r * WG + lid.x] = v;
    }
    stagePrevH(b0, d, k0, lid.x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = (d * H + k0 + kk) * GH + j;
        let wz = whhT[w + H];
        let wn = whhT[w + 2u * H];
        for (var r = 0u; r < ROWS; r++) {
          accZ[r] = fma(hTile[r * WG + kk], wz, accZ[r]);
          accN[r] = fma(rhTile[r * WG + kk], wn, accN[r]);
        }
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  let bb = d * GH + j;
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let xb = xprojBase(t, b, d, 3u) + j;
    let z = sigmoid(xproj[xb + H] + bhh[bb + H] + accZ[r]);
    let n = tanhSat(xproj[xb + 2u * H] + accN[r] + bhh[bb + 2u * H]);
    let h = (1.0 - z) * n + z * prevH(b, d, j);
    hseq[hseqIndex(t, b, d, j)] = h;
    if (p.step + 1u == p.seqLen) { hN[stateIndex(b, d, j)] = h; }
  }
}
#endif
