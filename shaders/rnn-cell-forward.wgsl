// Elman RNN step, fused: h_t = f(xproj_t + b_hh + h_{t-1} W_hh^T), one gate (G = 1).
// f is the cell function ACT_F (common/cell-functions.wgsl): Tanh, Relu, or Affine(1, 0), the
// identity that makes the linear state-space recurrence h_t = A h_{t-1} + B x_t + c.
// This is the step of the staged and cooperative forms, whose product is elmanPreactivation
// (common/step-staged.wgsl, common/step-cooperative.wgsl; bindings and layouts in
// common/step-forward.wgsl); the software forms have their own: software/step-direct-elman.wgsl
// and software/step-resident-elman.wgsl.

#if HALF
@group(0) @binding(2) var<storage, read> whhT: array<u32>;
#else
@group(0) @binding(2) var<storage, read> whhT: array<f32>;
#endif

// Unit j of rows b0 .. b0 + ROWS - 1, direction d, at step curStep; x is the invocation's
// index in the workgroup. Called in uniform control flow (it holds barriers).
fn cellStep(x: u32, j: u32, b0: u32, d: u32) {
  let H = p.hidden;

  // Component r: the pre-activation of row b0 + r (only x without BATCH_TILE).
  let acc = elmanPreactivation(b0, d, j, x);
  if (j >= H) { return; }
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let t = timeOf(d, b);
    if (!running(b)) {
      hseq[hseqIndex(t, b, d, j)] = 0.0;
      continue;
    }
    let h = actF(xproj[xprojBase(t, b, d, 1u) + j] + bhh[d * H + j] + acc[r], d);
    keepH(b0, r, d, j, h);
    hseq[hseqIndex(t, b, d, j)] = h;
  }
}
