// The gated cells' part of the resident forward form (software/step-resident.wgsl): the
// product's accumulator and terms, the biases kept in private memory, and the step, which
// hands each unit's gate sums to the cell's cellStep (lstm- or gru-cell-forward.wgsl) one
// unit at a time. GATES3 (the GRU): three gates a weight (software/resident-weights.wgsl).

// The accumulator of the unrolled product and one term of it (residentTerm(wRes[.], sRes[k])):
// the gates of a unit, per row (column r with BATCH_TILE).
#if GATES3
#if BATCH_TILE
alias ResAcc = mat4x3f;
fn residentTerm(w: vec3f, h: vec4f) -> mat4x3f { return mat4x3f(w * h.x, w * h.y, w * h.z, w * h.w); }
#else
alias ResAcc = vec3f;
fn residentTerm(w: vec3f, h: f32) -> vec3f { return w * h; }
#endif
#else
#if BATCH_TILE
alias ResAcc = mat4x4f;
fn residentTerm(w: vec4f, h: vec4f) -> mat4x4f { return mat4x4f(w * h.x, w * h.y, w * h.z, w * h.w); }
#else
alias ResAcc = vec4f;
fn residentTerm(w: vec4f, h: f32) -> vec4f { return w * h; }
#endif
#endif

// The product of the unit cellStep is called for, and that unit's u (unit u WG + x):
// residentStep sets them before each call.
var<private> curAcc: ResAcc;
var<private> curUnit: u32;

// b_hh of the invocation's units u WG + x of its direction (clamped to H - 1 past H), gates in
// components: loaded once, before the first row block, rather than from storage on every step.
var<private> resBias: array<vec4f, RES_U>;

fn residentBiases(d: u32, x: u32) {
  for (var u = 0u; u < RES_U; u++) {
    let j = min(u * WG + x, p.hidden - 1u);
#if GATES3
    resBias[u] = hhBiasAt(d, j, 3u);
#else
    resBias[u] = hhBiasAt(d, j, 4u);
#endif
  }
}

// What cellStep adds of b_hh: that of the unit residentStep is on.
fn hhBias(d: u32, j: u32, gates: u32) -> vec4f {
  return vec4f(resBias[curUnit]);
}

// The product residentStep computed for this unit (curAcc; GATES3: with the padding gate's 0
// added), column r holding row b0 + r's gates.
fn gatePreactivations(b0: u32, d: u32, j: u32, x: u32) -> mat4x4f {
#if GATES3
#if BATCH_TILE
  return mat4x4f(vec4f(curAcc[0], 0.0), vec4f(curAcc[1], 0.0), vec4f(curAcc[2], 0.0), vec4f(curAcc[3], 0.0));
#else
  return mat4x4f(vec4f(curAcc, 0.0), vec4f(), vec4f(), vec4f());
#endif
#elif BATCH_TILE
  return curAcc;
#else
  return mat4x4f(curAcc, vec4f(), vec4f(), vec4f());
#endif
}

// One step of the invocation's units in rows b0 .., given their products (element u: unit
// u WG + x).
fn residentStep(acc: array<ResAcc, RES_U>, b0: u32, d: u32, x: u32) {
  for (var u = 0u; u < RES_U; u++) {
    curAcc = acc[u];
    curUnit = u;
    cellStep(x, u * WG + x, b0, d);
  }
}
