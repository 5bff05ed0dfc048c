// The resident form of the forward step (software adapters; chosen by placement/rules.ts):
// every step of a layer in one dispatch, W_hh in private memory (software/resident-weights.wgsl).
// On SwiftShader a load whose address is not known when the shader is compiled is emulated
// lane by lane, while one at a constant offset of private memory is a plain load. So each
// invocation copies the weights of its RES_U units x, x + WG, x + 2 WG, .. into private memory
// once, before the first step (units interleaved so that the four lanes of a SIMD group own
// neighbouring units, whose loads and stores SwiftShader can then make one vector access), and
// the product is unrolled over the RES_H = H input units with constant indices: wRes[k RES_U +
// u] from private memory, sRes[k] = h_{t-1}[., k] from the workgroup's copy of the state. A
// read of workgroup memory costs about as much at a constant index as at any other, so each
// read of sRes[k] serves the RES_U units of the invocation, and with SUBGROUPS (residentLanes)
// the four lanes of a subgroup read four elements at once, one each, and pass them on with
// subgroupBroadcast. Those reads, not the multiply-adds, set the pace (docs/performance.md).
//
// Thread mapping: workgroup (0, y, d) of (1, Y, D) takes the row blocks b0 = ROWS y,
// ROWS (y + Y), .. of direction d one after another (residentWalk), so that its copy of the
// weights serves them all; it has at least H / RES_U invocations (residentWorkgroup). ROWS and
// the entry point: software/resident-main.wgsl. The cell's part (software/step-resident-gates.wgsl or
// step-resident-elman.wgsl) defines ResAcc, residentTerm, loadResident's biases
// (residentBiases) and residentStep, the step of all the invocation's units.

#if BATCH_TILE
// sRes[resHalf + k]: h_{t-1}[b0 + r, k], component r (BATCH_TILE) or the one row; RES_HS >=
// RES_H elements a half, whole blocks of the subgroup lanes that share its loads. Two halves,
// read and written on alternate steps, so that one barrier a step will do: the cells' steps
// write h_t into the half the step's product does not read (keepH), and the barrier at the
// start of the next step orders both (at most 2 x 512 vec4f, WebGPU's 16384 bytes).
var<workgroup> sRes: array<vec4f, 2 * RES_HS>;
#else
var<workgroup> sRes: array<f32, 2 * RES_HS>;
#endif
// The half that holds h_{t-1} on this step: 0 or RES_HS (residentWalk flips it after a step).
var<private> resHalf: u32;

// Before the first step: W_hh of the invocation's units (clamped to H - 1 past H, whose
// results are dropped) into private memory and the function variables.
fn loadResident(d: u32, x: u32, w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>) {
  for (var u = 0u; u < RES_U; u++) {
    let jc = min(u * WG + x, p.hidden - 1u);
    for (var k = 0u; k < RES_H; k++) {
      storeWeight(k * RES_U + u, whhT[whhIndex(d, k, jc)], w2, w3);
    }
  }
}

// h0 of the invocation's own units in rows b0 .. b0 + ROWS - 1 into the half of sRes the row
// block's first step reads (resHalf): before that step, once a row block (later steps find h_t
// of the step before there: keepH). Not inside the step loop under a test of the step: on
// SwiftShader a branch no lane takes still runs its loads, each with its index clamp.
fn residentFirstH(b0: u32, d: u32, x: u32) {
  for (var u = 0u; u < RES_U; u++) {
    let j = u * WG + x;
    if (j < p.hidden) {
#if BATCH_TILE
      var v = vec4f(0.0);
      for (var r = 0u; r < ROWS; r++) {
        if (b0 + r < p.batch) { v[r] = prevH(b0 + r, d, j); }
      }
      sRes[resHalf + j] = v;
#else
      sRes[resHalf + j] = prevH(b0, d, j);
#endif
    }
  }
}

// h_{t-1} W_hh^T of the invocation's units for rows b0 .. b0 + ROWS - 1 (element u: unit
// u WG + x): a barrier, and the unrolled product over sRes's half resHalf. Called in uniform
// control flow by every invocation.
fn residentProducts(w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>) -> array<ResAcc, RES_U> {
  // Orders this step's reads of the half after every write of it (keepH, or residentFirstH),
  // and the writes of the other half (keepH, this step) after every read of it (the step
  // before's product): one barrier a step.
  workgroupBarrier();
  return residentProduct(w2, w3, resHalf);
}

// hN of the invocation's units in rows b0 .. b0 + ROWS - 1, after the row block's steps, from
// where keepH left h_t of each row's last step L - 1 in sRes: the half the block's first step
// wrote (RES_HS - half0, half0 being resHalf on that step) for odd L, half0 for even L, the
// halves alternating every step. Each invocation reads only what it wrote itself, so no barrier.
fn residentLastH(b0: u32, d: u32, x: u32, half0: u32) {
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let L = resLens[r];
    // A row of length 0 (not from a model, which asks for 1 or more) keeps the hN it had.
    if (L == 0u) { continue; }
    let half = select(half0, RES_HS - half0, (L & 1u) == 1u);
    for (var u = 0u; u < RES_U; u++) {
      let j = u * WG + x;
      if (j >= p.hidden) { break; }
#if BATCH_TILE
      hN[stateIndex(b, d, j)] = sRes[half + j][r];
#else
      hN[stateIndex(b, d, j)] = sRes[half + j];
#endif
    }
  }
}

// h_t of unit j in row b0 + r of direction d (a running row), kept in the half of sRes this
// step's product does not read, which saves the next step a load from hseq (h_{t-1} of an
// inactive row is never used); hN is written from there once the row block's steps are done
// (residentLastH) rather than tested for on every step.
fn keepH(b0: u32, r: u32, d: u32, j: u32, h: f32) {
#if BATCH_TILE
  sRes[RES_HS - resHalf + j][r] = h;
#else
  sRes[RES_HS - resHalf + j] = h;
#endif
}

// h_{t-1}[b0 + r, j] of direction d for the cell's own use (the GRU's z h_{t-1}), from sRes.
fn ownPrevH(b0: u32, r: u32, d: u32, j: u32) -> f32 {
#if BATCH_TILE
  return sRes[resHalf + j][r];
#else
  return sRes[resHalf + j];
#endif
}

// The dispatch of invocation x of workgroup (0, y, d), `groups` workgroups along the rows: it
// takes row blocks y, y + groups, ... one after another, so that its copy of the weights
// (loadResident, lane by lane on SwiftShader) serves them all. A function of its own, so that
// its function variable adds to main's (w2) for the weights.
fn residentWalk(x: u32, y: u32, d: u32, groups: u32, w2: ptr<function, ResMain>) {
  var wResWalk: ResWalk;
  loadResident(d, x, w2, &wResWalk);
  residentBiases(d, x);
  for (var b0 = y * ROWS; b0 < p.batch; b0 += groups * ROWS) {
    resRow0 = b0;
    for (var r = 0u; r < ROWS; r++) {
      resLens[r] = select(0u, storedLength(b0 + r), b0 + r < p.batch);
    }
    let half0 = resHalf;
    curStep = 0u;
    residentFirstH(b0, d, x);
    for (var s = 0u; s < p.seqLen; s++) {
      curStep = s;
      residentStep(residentProducts(w2, &wResWalk), b0, d, x);
      // Nothing to wait for here: residentProducts' barrier orders the halves of sRes.
      resHalf = RES_HS - resHalf;
    }
    residentLastH(b0, d, x, half0);
  }
}
