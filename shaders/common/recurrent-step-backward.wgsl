// Shared part of the backward step kernels (rnn-, lstm- and gru-cell-backward): the reverse-
// time sweep of backpropagation through time. The loader prepends it to each cell shader.
//
// Dispatch s (0 <= s <= T) of a layer handles both directions in the reverse of their forward
// order. Sequence b runs L_b = seqLen(b) steps (all T without variable lengths): while s < L_b
// direction 0 handles t = L_b-1-s and direction 1 t = s; dispatch s = L_b forms dh0 of the
// row; past that the row is finished and the dispatch zeroes its gate gradients at t = s.
// At its last active dispatch (s = L_b-1, the step whose h_{t-1} is h0) a row also copies its
// recurrent-side gradients to slot T of that buffer, where the dW_hh GEMM pairs them with h0.
// Thread mapping: workgroup (x, y, z) = (block of WG hidden units, batch row b, direction d);
// invocation x owns unit j = x_block * WG + x of row b. With DIRECT the invocation takes four
// units of one row, or of four rows with BATCH_TILE (see DIRECT below).
// Each cell defines unitStep(b, d, j, rec): the step of unit j of row b given rec, the
// gradient reaching h_t[b, j] through W_hh from the later step (0 on the first dispatch);
// the prelude's main forms rec and calls it.
//
// Each dispatch first forms the gradient reaching h_t from later in time:
//   s = 0:  gradHN (the gradient of hN)
//   s > 0:  sum over gates g and units m of dGrec[t_later, b, d, g, m] * W_hh[g*H + m, j]
// (plus, for the GRU, the direct path z * dh kept in `carry`), then adds dy (the gradient of
// this layer's output at t) and turns dh into the gate pre-activation gradients dG of step t.
// The product needs dGrec of every unit, which only the previous dispatch can give: this is
// the backward mirror of the forward kernels reading h_{t-1} from the previous dispatch.
//
// Buffer layouts (f32 elements):
//   saved  [T, B, D, S*H]  activations saved by the training forward (Elman: its output
//                          sequence [T, B, D*H], S = 1)
//   whhT   [D, H, H, P]    as in the forward kernels: element (d, k, j, g) = W_hh[g*H + j, k]
//   dy     [T, B, D*H]     gradient of this layer's output sequence
//   gradHN [L*D, B, H]     gradient of hN; this layer's at stateBase; then, at lengthsOffset,
//                          each sequence's length [B] (as f32)
//   dG     [T, B, D, G*H]  gate pre-activation gradients (input side for the GRU); for the
//                          LSTM and Elman cells one more time slot T (initial steps)
//   dh0    [L*D, B, H]     written by the last dispatch
//   carry  [L*D, B, H]     per-unit state of the sweep (LSTM: dc; GRU: z * dh)

struct Params {
  batch: u32,
  hidden: u32,
  seqLen: u32,
  step: u32,
  numDirections: u32,
  stateBase: u32,
  lengthsOffset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> gradHN: array<f32>;
@group(0) @binding(5) var<storage, read_write> dG: array<f32>;
@group(0) @binding(6) var<storage, read_write> dh0: array<f32>;

// The dispatch being computed (s above): p.step for one dispatch per step, the loop's with
// RESIDENT.
var<private> curStep: u32;

override WG: u32 = 64u;
// gTile[x]: the G recurrent-side gate gradients of unit m0 + x at the later time, one per
// component (zeros past H and past G).
var<workgroup> gTile: array<vec4f, WG>;

fn seqLen(b: u32) -> u32 {
#if RESIDENT
  // The resident sweep's rows are those of the block residentWalk is on, whose lengths it
  // keeps in private memory (resLens), as the forward form does: a unit's dispatch asks for
  // its row's length several times, and each load from storage clamps its index.
  return resLens[min(b - resRow0, 3u)];
#else
  return u32(gradHN[p.lengthsOffset + b]);
#endif
}

fn running(b: u32) -> bool {
  return curStep < seqLen(b);
}

// Time handled by direction d for row b in this dispatch (t = step once the row is finished).
fn timeOf(d: u32, b: u32) -> u32 {
  if (d == 0u && running(b)) { return seqLen(b) - 1u - curStep; }
  return curStep;
}

// Time handled by direction d for row b in the previous dispatch (step > 0, row running then).
fn laterTime(d: u32, b: u32) -> u32 {
  if (d == 0u) { return seqLen(b) - curStep; }
  return curStep - 1u;
}

fn stateIndex(b: u32, d: u32, j: u32) -> u32 {
  return ((p.stateBase + d) * p.batch + b) * p.hidden + j;
}

fn dyIndex(t: u32, b: u32, d: u32, j: u32) -> u32 {
  return (t * p.batch + b) * p.numDirections * p.hidden + d * p.hidden + j;
}

fn gateIndex(t: u32, b: u32, d: u32, g: u32, j: u32) -> u32 {
  return ((t * p.batch + b) * p.numDirections + d) * GATES * p.hidden + g * p.hidden + j;
}

fn savedIndex(t: u32, b: u32, d: u32, slot: u32, slots: u32, j: u32) -> u32 {
  return ((t * p.batch + b) * p.numDirections + d) * slots * p.hidden + slot * p.hidden + j;
}

fn whhIndex(d: u32, k: u32, j: u32) -> u32 {
  return (d * p.hidden + k) * p.hidden + j;
}

// Stages the later step's recurrent-side gradients of units m0 .. m0 + WG in gTile. Called in
// uniform control flow; the caller puts a barrier after its use of the tile.
fn stageLaterGrad(b: u32, d: u32, m0: u32, x: u32) {
  let m = m0 + x;
  var v = vec4f(0.0);
  if (m < p.hidden && curStep <= seqLen(b)) {
    let tl = laterTime(d, b);
    for (var g = 0u; g < GATES; g++) { v[g] = recurrentGrad(gateIndex(tl, b, d, g, m)); }
  }
  gTile[x] = v;
  workgroupBarrier();
}

// Rows an invocation takes with DIRECT or RESIDENT: four with BATCH_TILE, eight with
// WIDE_TILE (DIRECT only, always with BATCH_TILE: it reads its rows four at a time), else one.
#if WIDE_TILE
const ROWS: u32 = 8u;
#elif BATCH_TILE
const ROWS: u32 = 4u;
#else
const ROWS: u32 = 1u;
#endif

#if RESIDENT
// RESIDENT: the whole sweep of a layer in one dispatch on a CPU adapter, the mirror of the
// forward kernels' resident form (see common/recurrent-step.wgsl for why it is fast on
// SwiftShader). Workgroup (0, y, d) of (1, Y, D) takes row blocks b0 = ROWS y, ROWS (y + Y), ..
// of direction d one after another (residentWalk), so that its copy of the weights serves
// them all; invocation x owns units j = x, x + WG, .., x + (RES_U - 1) WG, interleaved as in
// the forward form (the workgroup has at least H / RES_U invocations). Before the first block
// it copies the weights through which the later gradients reach h_t[., j], weight i = m RES_U + u = the gates of W_hh[g*H + m, j]
// (whhGates(d, j, m)): the first RES_WP into private memory (wRes), the next RES_WM into
// main's function variable, the rest into residentWalk's, as the forward form does (WGSL
// bounds each at 8192 bytes; the loader adds RES_H, RES_HS, RES_U, RES_WP, RES_WM, RES_WW and
// residentProduct, with the forward's units, residentSplit). Each step it copies its own
// units' later gradients into sRes (it wrote them itself on the step before), and the product
// over m is unrolled with constant indices. No invocation reads another's storage: only sRes
// is shared, between two barriers. Each term broadcasts G gradients (4 G with BATCH_TILE) from
// workgroup memory where the forward form broadcasts one h, and on SwiftShader those
// broadcasts set the pace, so each serves the RES_U units of the invocation: for the Elman
// cell, eight units an invocation, the sweep measured faster than the per-step kernels at
// every batch; for the gated cells below 8 rows up to H = 256 (autoPersistentSweep). The
// model runs it one row a workgroup.
// GATES3 (the GRU): a weight is its three gates (r, z, n) in three floats, without whhT's
// padding gate, as in the forward form: a quarter fewer multiply-adds and weight loads, and
// more units in the same memory; the generated product reads each as a vec3f.
#if GATES3
var<private> wRes: array<f32, RES_WP * 3>;
alias ResMain = array<f32, max(RES_WM, 1u) * 3u>;
alias ResWalk = array<f32, max(RES_WW, 1u) * 3u>;
#elif GATED
var<private> wRes: array<vec4f, RES_WP>;
alias ResMain = array<vec4f, max(RES_WM, 1u)>;
alias ResWalk = array<vec4f, max(RES_WW, 1u)>;
#else
var<private> wRes: array<f32, RES_WP>;
alias ResMain = array<f32, max(RES_WM, 1u)>;
alias ResWalk = array<f32, max(RES_WW, 1u)>;
#endif
// sRes[m]: the later gradients of unit m, gates in components (the Elman cell: its one gate),
// per row (column r, component r for the Elman cell) with BATCH_TILE; RES_HS >= RES_H elements,
// whole blocks of the subgroup lanes that share its loads (SUBGROUPS, as in the forward form:
// resLane, set by main; not with matrices, which subgroupBroadcast does not take).
#if SUBGROUPS
var<private> resLane: u32;
#endif
// The row block residentWalk is on: its first row, and the lengths of rows resRow0 + r
// (component r; 0 past the batch), which seqLen returns.
var<private> resRow0: u32;
var<private> resLens: vec4u;
#if GATED
#if BATCH_TILE
var<workgroup> sRes: array<mat4x4f, RES_HS>;
alias ResAcc = vec4f;
// Component r: the sum over gates of weight times row r's later gradient.
#if GATES3
fn residentTerm(w: vec3f, g: mat4x4f) -> vec4f { return vec4f(w, 0.0) * g; }
#else
fn residentTerm(w: vec4f, g: mat4x4f) -> vec4f { return w * g; }
#endif
#else
var<workgroup> sRes: array<vec4f, RES_HS>;
alias ResAcc = f32;
#if GATES3
fn residentTerm(w: vec3f, g: vec4f) -> f32 { return dot(w, g.xyz); }
#else
fn residentTerm(w: vec4f, g: vec4f) -> f32 { return dot(w, g); }
#endif
#endif
#else
#if BATCH_TILE
var<workgroup> sRes: array<vec4f, RES_HS>;
alias ResAcc = vec4f;
fn residentTerm(w: f32, g: vec4f) -> vec4f { return w * g; }
#else
var<workgroup> sRes: array<f32, RES_HS>;
alias ResAcc = f32;
fn residentTerm(w: f32, g: f32) -> f32 { return w * g; }
#endif
#endif

// Before the first row block: the weights of the invocation's units (clamped to H - 1 past H,
// whose results are dropped), weight i into wRes, main's variable (w2) or residentWalk's (w3).
fn loadResident(d: u32, x: u32, w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>) {
  for (var u = 0u; u < RES_U; u++) {
    let jc = min(u * WG + x, p.hidden - 1u);
    for (var m = 0u; m < RES_H; m++) {
      let i = m * RES_U + u;
#if GATES3
      let w = whhGates(d, jc, m);
      for (var g = 0u; g < 3u; g++) {
        if (i < RES_WP) { wRes[3u * i + g] = w[g]; } else if (i < RES_WP + RES_WM) { (*w2)[3u * (i - RES_WP) + g] = w[g]; } else { (*w3)[3u * (i - RES_WP - RES_WM) + g] = w[g]; }
      }
#else
#if GATED
      let w = whhGates(d, jc, m);
#else
      let w = whhGates(d, jc, m).x;
#endif
      if (i < RES_WP) { wRes[i] = w; } else if (i < RES_WP + RES_WM) { (*w2)[i - RES_WP] = w; } else { (*w3)[i - RES_WP - RES_WM] = w; }
#endif
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

// Unit j's later gradients of rows b0 .., into sRes[j].
fn stageOwnLater(b0: u32, d: u32, j: u32) {
  if (j >= p.hidden) { return; }
#if GATED
#if BATCH_TILE
  sRes[j] = mat4x4f(ownLaterGrads(b0, d, j), ownLaterGrads(b0 + 1u, d, j), ownLaterGrads(b0 + 2u, d, j), ownLaterGrads(b0 + 3u, d, j));
#else
  sRes[j] = ownLaterGrads(b0, d, j);
#endif
#else
#if BATCH_TILE
  sRes[j] = vec4f(ownLaterGrads(b0, d, j).x, ownLaterGrads(b0 + 1u, d, j).x, ownLaterGrads(b0 + 2u, d, j).x, ownLaterGrads(b0 + 3u, d, j).x);
#else
  sRes[j] = ownLaterGrads(b0, d, j).x;
#endif
#endif
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
      resLens[r] = select(0u, u32(gradHN[p.lengthsOffset + b0 + r]), b0 + r < p.batch);
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

@compute @workgroup_size(WG)
#if SUBGROUPS
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  resLane = lane;
#else
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
#endif
  var wResMain: ResMain;
  residentWalk(lid.x, wid.y, wid.z, nwg.y, &wResMain);
}
#elif DIRECT
// DIRECT (see the forward prelude): the later gradients read straight from memory, no staging
// and no barrier. Invocation jb takes four units j0 = 4 jb .. j0 + 3 of ROWS rows b0 ..
// (four with BATCH_TILE, else one), so that each later-gradient load serves four units and
// each W_hh load the rows: one unit of one row would leave a multiply-add per load.

// Gate g's later gradients of units m .. m + 3 in the row whose gates start at `base`.
fn laterGrad4(base: u32, g: u32, m: u32) -> vec4f {
  let i = base + g * p.hidden + m;
  return vec4f(recurrentGrad(i), recurrentGrad(i + 1u), recurrentGrad(i + 2u), recurrentGrad(i + 3u));
}

// Column g: laterGrad4 of gate g (zero past GATES). GATES is a constant: the tests on it fold
// away (a dynamically indexed component costs more than the whole product on SwiftShader).
fn laterGrads(base: u32, m: u32) -> mat4x4f {
  var gm = mat4x4f();
  gm[0] = laterGrad4(base, 0u, m);
  if (GATES > 1u) { gm[1] = laterGrad4(base, 1u, m); }
  if (GATES > 2u) { gm[2] = laterGrad4(base, 2u, m); }
  if (GATES > 3u) { gm[3] = laterGrad4(base, 3u, m); }
  return gm;
}

// Column g: gate g of W_hh for (k = j, m .. m + 3), i.e. W_hh[g*H + m + mm, j] in component mm.
fn unitWeights(d: u32, j: u32, m: u32) -> mat4x4f {
  return transpose(mat4x4f(whhGates(d, j, m), whhGates(d, j, m + 1u), whhGates(d, j, m + 2u), whhGates(d, j, m + 3u)));
}

// Sum over gates and the four units m of weight times later gradient.
fn pairTerm(wt: mat4x4f, gm: mat4x4f) -> f32 {
  var e = wt[0] * gm[0];
  if (GATES > 1u) { e += wt[1] * gm[1]; }
  if (GATES > 2u) { e += wt[2] * gm[2]; }
  if (GATES > 3u) { e += wt[3] * gm[3]; }
  return e.x + e.y + e.z + e.w;
}

// pairTerm of one unit's weights with each row's gradients, component r for row b0 + r.
fn rowsTerm(wt: mat4x4f, g0: mat4x4f, g1: mat4x4f, g2: mat4x4f, g3: mat4x4f) -> vec4f {
#if BATCH_TILE
  return vec4f(pairTerm(wt, g0), pairTerm(wt, g1), pairTerm(wt, g2), pairTerm(wt, g3));
#else
  return vec4f(pairTerm(wt, g0), 0.0, 0.0, 0.0);
#endif
}

// Where row b's later gradients start, and whether the row has any (it exists and still runs,
// or forms dh0, in this dispatch); a row without reads row 0 and is masked.
fn laterBase(b: u32, d: u32) -> u32 {
  if (b >= p.batch || curStep > seqLen(b)) { return 0u; }
  return gateIndex(laterTime(d, b), b, d, 0u, 0u);
}
fn hasLater(b: u32) -> f32 {
  return select(0.0, 1.0, b < p.batch && curStep <= seqLen(b));
}

// The gradient reaching h_t[b0 + r, j0 + u] through W_hh from the later step, column r and
// component u: the sum over m and g of W_hh[g*H + m, j0 + u] * later dG[b0 + r, g, m], four
// units m at a time and the H mod 4 last ones one at a time. Zero on the first dispatch
// (there is no later step). Units past H repeat the last one (their results are dropped).
fn laterGradThroughWhhTile(b0: u32, d: u32, j0: u32) -> mat4x4f {
  let H = p.hidden;
  if (curStep == 0u) { return mat4x4f(); }
#if BATCH_TILE
  let base = vec4u(laterBase(b0, d), laterBase(b0 + 1u, d), laterBase(b0 + 2u, d), laterBase(b0 + 3u, d));
  let mask = vec4f(hasLater(b0), hasLater(b0 + 1u), hasLater(b0 + 2u), hasLater(b0 + 3u));
#else
  let base = vec4u(laterBase(b0, d), 0u, 0u, 0u);
  let mask = vec4f(hasLater(b0), 0.0, 0.0, 0.0);
#endif
  let units = min(vec4u(j0) + vec4u(0u, 1u, 2u, 3u), vec4u(H - 1u));
  let H4 = H & ~3u;
  // Column u: unit j0 + u, component r: row b0 + r.
  var acc = mat4x4f();
  for (var m = 0u; m < H4; m += 4u) {
    let g0 = laterGrads(base.x, m);
#if BATCH_TILE
    let g1 = laterGrads(base.y, m);
    let g2 = laterGrads(base.z, m);
    let g3 = laterGrads(base.w, m);
#else
    let g1 = g0;
    let g2 = g0;
    let g3 = g0;
#endif
    acc[0] += rowsTerm(unitWeights(d, units.x, m), g0, g1, g2, g3);
    acc[1] += rowsTerm(unitWeights(d, units.y, m), g0, g1, g2, g3);
    acc[2] += rowsTerm(unitWeights(d, units.z, m), g0, g1, g2, g3);
    acc[3] += rowsTerm(unitWeights(d, units.w, m), g0, g1, g2, g3);
  }
  for (var m = H4; m < H; m++) {
    for (var g = 0u; g < GATES; g++) {
      let i = g * H + m;
      let later = vec4f(recurrentGrad(base.x + i), recurrentGrad(base.y + i), recurrentGrad(base.z + i), recurrentGrad(base.w + i));
      for (var u = 0u; u < 4u; u++) { acc[u] += whhGates(d, units[u], m)[g] * later; }
    }
  }
  return transpose(mat4x4f(acc[0] * mask, acc[1] * mask, acc[2] * mask, acc[3] * mask));
}

#if WIDE_TILE
// WIDE_TILE (batches of 8 or more): invocation jb takes eight units j0 = 8 jb .. j0 + 7 of
// eight rows b0 .. b0 + 7, as four quarters of the 4 x 4 tile above that share their loads:
// each m loads the later gradients of 8 rows and the weights of 8 units for 64 (unit, row)
// pairs, 4 multiply-adds a load against 2 for the 4 x 4 tile (the GEMM's 8 x 8 blocks, for
// the same reason: SwiftShader emulates these loads lane by lane). The weights are loaded one
// unit at a time, so that only the gradients and the accumulators stay live; the eight units
// are written out so that every accumulator column has a constant index (a dynamically
// indexed column costs more than the product on SwiftShader, as noted at laterGrads).
// Element [2 R + U]: rows b0 + 4 R .., units j0 + 4 U .., column r row, component u unit.
fn laterGradThroughWhhWide(b0: u32, d: u32, j0: u32) -> array<mat4x4f, 4> {
  var out: array<mat4x4f, 4>;
  let H = p.hidden;
  if (p.step == 0u) { return out; }
  let lanes = vec4u(0u, 1u, 2u, 3u);
  let baseL = vec4u(laterBase(b0, d), laterBase(b0 + 1u, d), laterBase(b0 + 2u, d), laterBase(b0 + 3u, d));
  let baseH = vec4u(laterBase(b0 + 4u, d), laterBase(b0 + 5u, d), laterBase(b0 + 6u, d), laterBase(b0 + 7u, d));
  let maskL = vec4f(hasLater(b0), hasLater(b0 + 1u), hasLater(b0 + 2u), hasLater(b0 + 3u));
  let maskH = vec4f(hasLater(b0 + 4u), hasLater(b0 + 5u), hasLater(b0 + 6u), hasLater(b0 + 7u));
  let unitsL = min(vec4u(j0) + lanes, vec4u(H - 1u));
  let unitsH = min(vec4u(j0 + 4u) + lanes, vec4u(H - 1u));
  let H4 = H & ~3u;
  // accRU: rows R, units U; column u: unit, component r: row (transposed at the end).
  var accLL = mat4x4f();
  var accLH = mat4x4f();
  var accHL = mat4x4f();
  var accHH = mat4x4f();
  for (var m = 0u; m < H4; m += 4u) {
    let g0 = laterGrads(baseL.x, m);
    let g1 = laterGrads(baseL.y, m);
    let g2 = laterGrads(baseL.z, m);
    let g3 = laterGrads(baseL.w, m);
    let g4 = laterGrads(baseH.x, m);
    let g5 = laterGrads(baseH.y, m);
    let g6 = laterGrads(baseH.z, m);
    let g7 = laterGrads(baseH.w, m);
    var w = unitWeights(d, unitsL.x, m);
    accLL[0] += rowsTerm(w, g0, g1, g2, g3);
    accHL[0] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsL.y, m);
    accLL[1] += rowsTerm(w, g0, g1, g2, g3);
    accHL[1] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsL.z, m);
    accLL[2] += rowsTerm(w, g0, g1, g2, g3);
    accHL[2] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsL.w, m);
    accLL[3] += rowsTerm(w, g0, g1, g2, g3);
    accHL[3] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.x, m);
    accLH[0] += rowsTerm(w, g0, g1, g2, g3);
    accHH[0] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.y, m);
    accLH[1] += rowsTerm(w, g0, g1, g2, g3);
    accHH[1] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.z, m);
    accLH[2] += rowsTerm(w, g0, g1, g2, g3);
    accHH[2] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.w, m);
    accLH[3] += rowsTerm(w, g0, g1, g2, g3);
    accHH[3] += rowsTerm(w, g4, g5, g6, g7);
  }
  for (var m = H4; m < H; m++) {
    for (var g = 0u; g < GATES; g++) {
      let i = g * H + m;
      let laterL = vec4f(recurrentGrad(baseL.x + i), recurrentGrad(baseL.y + i), recurrentGrad(baseL.z + i), recurrentGrad(baseL.w + i));
      let laterH = vec4f(recurrentGrad(baseH.x + i), recurrentGrad(baseH.y + i), recurrentGrad(baseH.z + i), recurrentGrad(baseH.w + i));
      for (var u = 0u; u < 4u; u++) {
        let wl = whhGates(d, unitsL[u], m)[g];
        let wh = whhGates(d, unitsH[u], m)[g];
        accLL[u] += wl * laterL;
        accHL[u] += wl * laterH;
        accLH[u] += wh * laterL;
        accHH[u] += wh * laterH;
      }
    }
  }
  out[0] = transpose(mat4x4f(accLL[0] * maskL, accLL[1] * maskL, accLL[2] * maskL, accLL[3] * maskL));
  out[1] = transpose(mat4x4f(accLH[0] * maskL, accLH[1] * maskL, accLH[2] * maskL, accLH[3] * maskL));
  out[2] = transpose(mat4x4f(accHL[0] * maskH, accHL[1] * maskH, accHL[2] * maskH, accHL[3] * maskH));
  out[3] = transpose(mat4x4f(accHH[0] * maskH, accHH[1] * maskH, accHH[2] * maskH, accHH[3] * maskH));
  return out;
}

// The unit steps of one quarter: rows b0 .., units j0 .., rec column r row, component u unit.
fn quarterSteps(b0: u32, d: u32, j0: u32, rec: mat4x4f) {
  for (var r = 0u; r < 4u; r++) {
    if (b0 + r >= p.batch) { break; }
    let rr = rec[r];
    for (var u = 0u; u < 4u; u++) {
      if (j0 + u >= p.hidden) { break; }
      unitStep(b0 + r, d, j0 + u, rr[u]);
    }
  }
}

// Workgroup (x, y, z) = (block of 8 WG units, block of 8 rows, direction d).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  let j0 = 8u * (wid.x * WG + lid.x);
  let d = wid.z;
  if (j0 >= p.hidden) { return; }
  let b0 = wid.y * ROWS;
  let rec = laterGradThroughWhhWide(b0, d, j0);
  quarterSteps(b0, d, j0, rec[0]);
  quarterSteps(b0, d, j0 + 4u, rec[1]);
  quarterSteps(b0 + 4u, d, j0, rec[2]);
  quarterSteps(b0 + 4u, d, j0 + 4u, rec[3]);
}
#else
// Workgroup (x, y, z) = (block of 4 WG units, block of ROWS rows, direction d).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  let j0 = 4u * (wid.x * WG + lid.x);
  let d = wid.z;
  if (j0 >= p.hidden) { return; }
  let b0 = wid.y * ROWS;
  let rec = laterGradThroughWhhTile(b0, d, j0);
  for (var r = 0u; r < ROWS; r++) {
    if (b0 + r >= p.batch) { break; }
    let rr = rec[r];
    for (var u = 0u; u < 4u; u++) {
      if (j0 + u >= p.hidden) { break; }
      unitStep(b0 + r, d, j0 + u, rr[u]);
    }
  }
}
#endif
#else
// Sum over m of dot(W_hh gates of (k = j, m), gTile): the gradient reaching h_t[b, j] through
// W_hh from the later step. Every invocation calls it (it holds barriers); those past H get 0.
fn laterGradThroughWhh(b: u32, d: u32, j: u32, x: u32) -> f32 {
  var acc = 0.0;
  // p.step, not curStep (the same here): the barriers below need a uniform condition.
  if (p.step == 0u) { return acc; }
  for (var m0 = 0u; m0 < p.hidden; m0 += WG) {
    stageLaterGrad(b, d, m0, x);
    if (j < p.hidden) {
      let n = min(WG, p.hidden - m0);
      for (var mm = 0u; mm < n; mm++) { acc += dot(whhGates(d, j, m0 + mm), gTile[mm]); }
    }
    workgroupBarrier();
  }
  return acc;
}

// Workgroup (x, y, z) = (block of WG units, row b, direction d).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  let j = wid.x * WG + lid.x;
  let rec = laterGradThroughWhh(wid.y, wid.z, j, lid.x);
  if (j >= p.hidden) { return; }
  unitStep(wid.y, wid.z, j, rec);
}
#endif

// tanh through one exponential (see the forward prelude's tanhSat).
fn tanhSat(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * ((1.0 - e) / (1.0 + e));
}
