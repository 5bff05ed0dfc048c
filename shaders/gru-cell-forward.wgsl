// GRU step, fused (gate blocks r, z, n; sigmoid and tanh being the default cell functions f
// and g, common/cell-functions.wgsl), PyTorch's form (ONNX linear_before_reset = 1):
//   r = sigmoid(xr + b_hr + h_{t-1} W_hr^T)
//   z = sigmoid(xz + b_hz + h_{t-1} W_hz^T)
//   n = tanh(xn + r * (h_{t-1} W_hn^T + b_hn))
//   h_t = (1 - z) * n + z * h_{t-1}
// where xr, xz, xn are the blocks of xproj_t (they carry b_ir, b_iz, b_in). One dispatch per
// step; ONNX's default linear_before_reset = 0 is gru-cell-forward-two-phase.wgsl.
// W_hh arrives as one vec4f (r, z, n, 0) per (direction, input unit, unit). The product
// (gatePreactivations) is the form's: common/step-staged.wgsl, software/step-direct.wgsl or
// software/step-resident-gates.wgsl; bindings and layouts in common/step-forward.wgsl.

#if HALF
@group(0) @binding(2) var<storage, read> whhT: array<vec2u>;
#else
@group(0) @binding(2) var<storage, read> whhT: array<vec4f>;
#endif

#if TRAINING
// saved [T, B, D, 5H]: r, z, n, h_{t-1} W_hn^T + b_hn, h_{t-1}.
@group(0) @binding(8) var<storage, read_write> saved: array<f32>;
#endif

// Unit j of rows b0 .. b0 + ROWS - 1, direction d, at step curStep; x is the invocation's
// index in the workgroup. Called in uniform control flow (it holds barriers).
fn cellStep(x: u32, j: u32, b0: u32, d: u32) {
  let H = p.hidden;

  // Column r: the recurrent pre-activations of the gates of row b0 + r.
  let acc = gatePreactivations(b0, d, j, x);
  if (j >= H) { return; }

  let bias = hhBias(d, j, 3u);
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let t = timeOf(d, b);
    if (!running(b)) {
      hseq[hseqIndex(t, b, d, j)] = 0.0;
      continue;
    }
    let xb = xprojBase(t, b, d, 3u) + j;
    let a = acc[r];
    let rg = actF(xproj[xb] + bias.x + a.x, d);
    let z = actF(xproj[xb + H] + bias.y + a.y, d);
    let hn = a.z + bias.z;
    let n = actG(xproj[xb + 2u * H] + rg * hn, d);
    let hp = ownPrevH(b0, r, d, j);
    let h = (1.0 - z) * n + z * hp;
#if TRAINING
    saved[savedIndex(t, b, d, 0u, 5u, j)] = rg;
    saved[savedIndex(t, b, d, 1u, 5u, j)] = z;
    saved[savedIndex(t, b, d, 2u, 5u, j)] = n;
    saved[savedIndex(t, b, d, 3u, 5u, j)] = hn;
    saved[savedIndex(t, b, d, 4u, 5u, j)] = hp;
#endif
    keepH(b0, r, d, j, h);
    hseq[hseqIndex(t, b, d, j)] = h;
  }
}
