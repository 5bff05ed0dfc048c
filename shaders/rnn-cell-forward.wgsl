// Elman RNN step, fused: h_t = f(xproj_t + b_hh + h_{t-1} W_hh^T), one gate (G = 1).
// f is the cell function ACT_F of the common prelude: Tanh, Relu, or Affine(1, 0), the
// identity that makes the linear state-space recurrence h_t = A h_{t-1} + B x_t + c.
// Bindings, layouts and thread mapping: see common/recurrent-step.wgsl.

@group(0) @binding(2) var<storage, read> whhT: array<f32>;

#if DIRECT
// DIRECT (see the prelude): no staging, and invocation jb takes four units j0 = 4 jb ..
// j0 + 3 of its rows (the wrapper dispatches a quarter of the invocations), so that every
// h_{t-1} load serves four units as every W_hh load serves the rows: one gate per unit
// would leave the product with one multiply-add per load.

// The units invocation jb computes, clamped to H - 1 past the end (their results are dropped).
fn unitsOf(jb: u32) -> vec4u {
  return min(vec4u(4u * jb) + vec4u(0u, 1u, 2u, 3u), vec4u(p.hidden - 1u));
}
// W_hh[units, k] of direction d over the units of invocation jb; whh4: column kk for k + kk.
fn whh1(d: u32, k: u32, jb: u32) -> vec4f {
  let i = vec4u((d * p.hidden + k) * p.hidden) + unitsOf(jb);
  return vec4f(whhT[i.x], whhT[i.y], whhT[i.z], whhT[i.w]);
}
fn whh4(d: u32, k: u32, jb: u32) -> mat4x4f {
  return mat4x4f(whh1(d, k, jb), whh1(d, k + 1u, jb), whh1(d, k + 2u, jb), whh1(d, k + 3u, jb));
}

// Units 4 jb .. 4 jb + 3 of rows b0 .. b0 + ROWS - 1, direction d, at step curStep.
fn cellStep(x: u32, jb: u32, b0: u32, d: u32) {
  let H = p.hidden;
  let j0 = 4u * jb;
  if (j0 >= H) { return; }
  // Column r: row b0 + r, component u: unit j0 + u.
  let acc = recurrentProduct(b0, d, jb);
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let t = timeOf(d, b);
    let on = running(b);
    let last = isLast(b);
    let xb = xprojBase(t, b, d, 1u);
    let pre = acc[r];
    for (var u = 0u; u < 4u; u++) {
      let j = j0 + u;
      if (j >= H) { break; }
      var h = 0.0;
      if (on) { h = actF(xproj[xb + j] + bhh[d * H + j] + pre[u], d); }
      hseq[hseqIndex(t, b, d, j)] = h;
      if (on && last) { hN[stateIndex(b, d, j)] = h; }
    }
  }
}
#else
// Unit j of rows b0 .. b0 + ROWS - 1, direction d, at step curStep; x is the invocation's
// index in the workgroup. Called in uniform control flow (it holds barriers).
fn cellStep(x: u32, j: u32, b0: u32, d: u32) {
  let H = p.hidden;

  // Component r: the pre-activation of row b0 + r (only x without BATCH_TILE).
  var acc = vec4f(0.0);
#if RESIDENT
  acc = vec4f(curAcc);
#else
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b0, d, k0, x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = whhT[whhIndex(d, k0 + kk, j)];
#if BATCH_TILE
        acc = fma(hTile[kk], vec4f(w), acc);
#else
        acc.x = fma(hTile[kk], w, acc.x);
#endif
      }
    }
    workgroupBarrier();
  }
#endif
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
    keepH(j, r, h);
    hseq[hseqIndex(t, b, d, j)] = h;
    if (isLast(b)) { hN[stateIndex(b, d, j)] = h; }
  }
}
#endif
