// The resident form of the backward sweep (software adapters; chosen by placement/rules.ts):
// the whole sweep of a layer in one dispatch, the mirror of the forward's resident form
// (software/step-resident.wgsl for why it is fast on SwiftShader; the weights as
// software/resident-weights.wgsl keeps them).
// Thread mapping: workgroup (0, y, d) of (1, Y, D) takes row blocks b0 = ROWS y, ROWS (y + Y),
// .. of direction d one after another (residentWalk), so that its copy of the weights serves
// them all; invocation x owns units j = x, x + WG, .., x + (RES_U - 1) WG, interleaved as in
// the forward form (the workgroup has at least H / RES_U invocations); ROWS and the entry point
// are software/resident-main.wgsl's. Before the first block it copies the weights through which the later
// gradients reach h_t[., j], weight i = m RES_U + u = the gates of W_hh[g*H + m, j]
// (whhGates(d, j, m)). Each step it copies its own units' later gradients into sRes (it wrote
// them itself on the step before), and the product over m is unrolled with constant indices.
// No invocation reads another's storage: only sRes is shared, between two barriers. Each term
// broadcasts G gradients (4 G with BATCH_TILE) from workgroup memory where the forward form
// broadcasts one h, so each serves the RES_U units of the invocation (decision D5).
// The cell's part (software/sweep-resident-gates.wgsl or sweep-resident-elman.wgsl) defines
// sRes, ResAcc, residentTerm and stageOwnLater.

// Before the first row block: the weights of the invocation's units (clamped to H - 1 past H,
// whose results are dropped).
fn loadResident(d: u32, x: u32, w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>) {
  for (var u = 0u; u < RES_U; u++) {
    let jc = min(u * WG + x, p.hidden - 1u);
    for (var m = 0u; m < RES_H; m++) {
      storeWeight(m * RES_U + u, weightOf(whhGates(d, jc, m)), w2, w3);
    }
  }
}

// The later gradients of unit j in row b, gates in components (zeros where the row has none:
// on the first dispatch, past the batch, or once finished). Constant gate indices, as below.
fn ownLaterGrads(b: u32, d: u32, j: u32) -> vec4f {
  var v = vec4f();
  if (curStep == 0u || b >= p.batch || curStep > seqLen(b)) { return v; }
  let base = gateIndex(laterTime(d, b), b, d, 0u, j);
  v.x = recurrentGrad(base);
  if (GATES > 1u) { v.y = recurrentGrad(base + p.hidden); }
  if (GATES > 2u) { v.z = recurrentGrad(base + 2u * p.hidden); }
  if (GATES > 3u) { v.w = recurrentGrad(base + 3u * p.hidden); }
  return v;
}

// The gradients reaching h_t[b0 + r, j] through W_hh from the later step for the invocation's
// units (element u: unit u WG + x; component r of vec4f(element): row b0 + r, the one row
// without BATCH_TILE). Called in uniform control flow by every invocation.
fn residentLaterGrads(b0: u32, d: u32, x: u32, w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>) -> array<ResAcc, RES_U> {
  for (var u = 0u; u < RES_U; u++) { stageOwnLater(b0, d, u * WG + x); }
  workgroupBarrier();
  let acc = residentProduct(w2, w3);
  workgroupBarrier();
  return acc;
}

// The whole sweep of invocation x of workgroup (0, y, d), `groups` workgroups along the rows:
// row blocks y, y + groups, .. one after another, every dispatch-step s = 0 .. T of each. A
// function of its own, so that its function variable adds to main's (w2) for the weights.
fn residentWalk(x: u32, y: u32, d: u32, groups: u32, w2: ptr<function, ResMain>) {
  var wResWalk: ResWalk;
  loadResident(d, x, w2, &wResWalk);
  for (var b0 = y * ROWS; b0 < p.batch; b0 += groups * ROWS) {
    resRow0 = b0;
    for (var r = 0u; r < ROWS; r++) {
      resLens[r] = select(0u, storedLength(b0 + r), b0 + r < p.batch);
    }
    for (var s = 0u; s <= p.seqLen; s++) {
      curStep = s;
      let accs = residentLaterGrads(b0, d, x, w2, &wResWalk);
      for (var u = 0u; u < RES_U; u++) {
        let j = u * WG + x;
        if (j >= p.hidden) { break; }
        let rec = vec4f(accs[u]);
        for (var r = 0u; r < ROWS; r++) {
          if (b0 + r >= p.batch) { break; }
          unitStep(b0 + r, d, j, rec[r]);
        }
      }
    }
  }
}
