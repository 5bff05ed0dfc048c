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
#elif RESIDENT
// RESIDENT (with RESIDENT_CELLS, which the wrapper defines): residentWalk calls residentCells with
// the products of all the invocation's units (acc[u]: unit u WG + x, component r of a vec4f
// for row b0 + r with BATCH_TILE) instead of cellStep a unit at a time. What a row's step
// shares (its time, whether it runs, where its xproj and hseq are) is worked out once for the
// RES_U units, b_hh comes from private memory (resBias), and hN is written after the row
// block (residentLastH). On SwiftShader, where each storage access clamps its index with integer
// divisions lane by lane, that measured 0.77-0.81x the time of the whole forward at workload B
// (0.84x with hN still written in the step, 0.82x with b_hh still loaded from storage;
// Chromium, alternated in one page).

fn residentCells(acc: array<ResAcc, RES_U>, b0: u32, d: u32, x: u32) {
  let H = p.hidden;
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let on = running(b);
    let t = timeOf(d, b);
    let xb = xprojBase(t, b, d, 1u);
    let hb = hseqIndex(t, b, d, 0u);
    for (var u = 0u; u < RES_U; u++) {
      let j = u * WG + x;
      if (j >= H) { break; }
      var h = 0.0;
      if (on) {
#if BATCH_TILE
        h = actF(xproj[xb + j] + resBias[u] + acc[u][r], d);
#else
        h = actF(xproj[xb + j] + resBias[u] + acc[u], d);
#endif
        keepH(b0, r, d, j, h);
      }
      hseq[hb + j] = h;
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
#endif

