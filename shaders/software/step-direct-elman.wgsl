// The Elman cell's step in the direct forward form (software/step-direct.wgsl), in place of
// rnn-cell-forward.wgsl: h_t = f(xproj_t + b_hh + h_{t-1} W_hh^T). Invocation jb takes four
// units j0 = 4 jb .. j0 + 3 of its rows (the wrapper dispatches a quarter of the invocations),
// so that every h_{t-1} load serves four units as every W_hh load serves the rows: one gate
// per unit would leave the product with one multiply-add per load.

@group(0) @binding(2) var<storage, read> whhT: array<f32>;

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
