// The Elman cell's part of the resident forward form (software/step-resident.wgsl), in place
// of rnn-cell-forward.wgsl: h_t = f(xproj_t + b_hh + h_{t-1} W_hh^T) for all the invocation's
// units at once. What a row's step shares (its time, whether it runs, where its xproj and hseq
// are) is worked out once for the RES_U units, b_hh comes from private memory (resBias), and
// hN is written after the row block (residentLastH): on SwiftShader each storage access clamps
// its index with integer divisions lane by lane (docs/performance.md).

@group(0) @binding(2) var<storage, read> whhT: array<f32>;

// The accumulator of the unrolled product and one term of it (residentTerm(wRes[.], sRes[k])):
// the unit's pre-activation, per row (component r with BATCH_TILE).
#if BATCH_TILE
alias ResAcc = vec4f;
fn residentTerm(w: f32, h: vec4f) -> vec4f { return w * h; }
#else
alias ResAcc = f32;
fn residentTerm(w: f32, h: f32) -> f32 { return w * h; }
#endif

// b_hh of the invocation's units u WG + x of its direction (clamped to H - 1 past H): loaded
// once, before the first row block, rather than from storage on every step.
var<private> resBias: array<f32, RES_U>;

fn residentBiases(d: u32, x: u32) {
  for (var u = 0u; u < RES_U; u++) {
    let j = min(u * WG + x, p.hidden - 1u);
    resBias[u] = hhBiasAt(d, j, 1u).x;
  }
}

// One step of the invocation's units in rows b0 .., given their products (element u: unit
// u WG + x).
fn residentStep(acc: array<ResAcc, RES_U>, b0: u32, d: u32, x: u32) {
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
