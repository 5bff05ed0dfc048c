// Elman RNN step, fused: h_t = f(xproj_t + b_hh + h_{t-1} W_hh^T), one gate (G = 1).
// f is the cell function ACT_F of the common prelude: Tanh, Relu, or Affine(1, 0), the
// identity that makes the linear state-space recurrence h_t = A h_{t-1} + B x_t + c.
// Bindings, layouts and thread mapping: see common/recurrent-step.wgsl.

@group(0) @binding(2) var<storage, read> whhT: array<f32>;

#if DIRECT
// W_hh[j, k .. k + 3] of direction d.
fn unitW4(d: u32, k: u32, j: u32) -> vec4f {
  let H = p.hidden;
  let wi = whhIndex(d, k, j);
  return vec4f(whhT[wi], whhT[wi + H], whhT[wi + 2u * H], whhT[wi + 3u * H]);
}
#endif

// Unit j of rows b0 .. b0 + ROWS - 1, direction d, at step curStep; x is the invocation's
// index in the workgroup. Called in uniform control flow (it holds barriers).
fn cellStep(x: u32, j: u32, b0: u32, d: u32) {
  let H = p.hidden;

  // Component r: the pre-activation of row b0 + r (only x without BATCH_TILE).
  var acc = vec4f(0.0);
#if DIRECT
  // Four input units at a time (see DIRECT in the prelude): w4 holds W_hh[j, k .. k + 3],
  // w4 * (column r: h_{t-1}[b0 + r, k .. k + 3]) is row b0 + r's share of those inputs.
  if (j < H) {
    let base = prevHBases(b0, d);
    let H4 = H & ~3u;
    if (curStep == 0u) {
      for (var k = 0u; k < H4; k += 4u) {
#if BATCH_TILE
        acc += unitW4(d, k, j) * firstHRows(base, k);
#else
        acc.x += dot(unitW4(d, k, j), firstH4(base.x, k));
#endif
      }
    } else {
      for (var k = 0u; k < H4; k += 4u) {
#if BATCH_TILE
        acc += unitW4(d, k, j) * prevHRows(base, k);
#else
        acc.x += dot(unitW4(d, k, j), prevH4(base.x, k));
#endif
      }
    }
    for (var k = H4; k < H; k++) {
      acc = fma(prevHColumn(base, k), vec4f(whhT[whhIndex(d, k, j)]), acc);
    }
  }
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
    hseq[hseqIndex(t, b, d, j)] = h;
    if (isLast(b)) { hN[stateIndex(b, d, j)] = h; }
  }
}

