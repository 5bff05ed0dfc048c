// Shared part of the fused recurrent step kernels (rnn-, lstm- and gru-cell-forward): the
// uniform, the bindings every cell has, the index maps and the staging of h_{t-1}.
// The loader prepends it to each cell shader; it is not a kernel of its own.
//
// One dispatch advances every batch row and both directions of one layer by one step.
// Thread mapping: workgroup (x, y, z) = (block of WG hidden units, block of ROWS batch rows,
// direction d); invocation x of the block owns hidden unit j = x_block * WG + x for the ROWS
// rows b0 .. b0 + ROWS - 1 and computes all G gates of that unit, so no gate buffer makes a
// round trip through memory, and each W_hh load serves ROWS rows. Direction 0 processes
// time t = step, direction 1 time t = T - 1 - step.
// PERSISTENT: one dispatch runs every step of the layer instead. Workgroup (0, y, d) owns all
// H units of its rows, invocation x taking units x, x + WG, x + 2 WG, ...; between steps a
// storage barrier makes the h_t it wrote to hseq visible to the whole workgroup, which is the
// only reader of its rows. The step number is then the loop's, not the uniform's (curStep).
// The resident form (RESIDENT, below) has each workgroup walk several row blocks in turn.
// ROWS is 4 with BATCH_TILE (batches of 4 or more), else 1. With BATCH_TILE the staged
// h_{t-1} tile holds the 4 rows of a unit in one vec4f and the gated cells accumulate in a
// mat4x4f (column r: the gates of row b0 + r), so no accumulator is an indexed array.
//
// Buffer layouts (f32 elements, G gates per unit, L layers, D directions):
//   xproj [T, B, D, G*H]  the input projection X W_ih^T + b_ih of this layer, all steps
//   whhT  [D, H, H, P]    W_hh transposed: element (d, k, j, g) is W_hh[g*H + j, k] of
//                         direction d, with the P = 4 gates of a unit (zero-padded for the
//                         GRU) in one vec4f; P = 1 for the Elman cell. Neighbouring units
//                         read neighbouring words. Each cell shader declares this binding.
//   bhh   [D, G*H]        b_hh (zeros for a model without bias)
//   h0    [L*D, B, H]     initial states of every layer; this layer's start at stateBase;
//                         then, at lengthsOffset, each sequence's length [B] (as f32)
//   hseq  [T, B, D*H]     this layer's output sequence; h_{t-1} is read from the previous slot
//   hN    [L*D, B, H]     written on the last step only
//   saved [T, B, D, S*H]  TRAINING only (LSTM, GRU): the S activations of each step that
//                         the backward sweep needs, slot-major per unit (savedIndex)

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
@group(0) @binding(1) var<storage, read> xproj: array<f32>;
@group(0) @binding(3) var<storage, read> bhh: array<f32>;
@group(0) @binding(4) var<storage, read> h0: array<f32>;
@group(0) @binding(5) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(6) var<storage, read_write> hN: array<f32>;

// The step being computed: p.step for one dispatch per step, the loop's step with PERSISTENT.
var<private> curStep: u32;

// PERSISTENT: the end of a step. h_t (and the GRU's r * h_{t-1}) are in storage; the barrier
// makes them visible to every invocation of the workgroup before the next phase reads them.
fn phaseBarrier() {
  storageBarrier();
  workgroupBarrier();
}

override WG: u32 = 64u;
// hTile[x]: h_{t-1}[b0 + r, k0 + x], component r (BATCH_TILE) or the one row.
#if BATCH_TILE
const ROWS: u32 = 4u;
var<workgroup> hTile: array<vec4f, WG>;
#else
const ROWS: u32 = 1u;
var<workgroup> hTile: array<f32, WG>;
#endif

// Variable lengths (PyTorch's packed sequences, ONNX's sequence_lens): sequence b runs for
// L_b = seqLen(b) steps. Direction 0 handles t = step, direction 1 t = L_b - 1 - step, so the
// reverse direction starts at the sequence's own last step. Once step >= L_b the row is
// inactive: its state stays as it is, and the dispatch zeroes the output at t = step (over the
// inactive steps that covers t = L_b .. T - 1 in both directions).
fn seqLen(b: u32) -> u32 {
#if RESIDENT
  // The resident form's rows are those of the block residentWalk is on, whose lengths it
  // keeps in private memory (resLens): one load a row block instead of several a unit and step.
  return resLens[min(b - resRow0, 3u)];
#else
  return u32(h0[p.lengthsOffset + b]);
#endif
}

fn running(b: u32) -> bool {
  return curStep < seqLen(b);
}

// The last step of sequence b: the one that writes hN.
fn isLast(b: u32) -> bool {
  return curStep + 1u == seqLen(b);
}

fn timeOf(d: u32, b: u32) -> u32 {
  if (d == 0u || !running(b)) { return curStep; }
  return seqLen(b) - 1u - curStep;
}

fn stateIndex(b: u32, d: u32, j: u32) -> u32 {
  return ((p.stateBase + d) * p.batch + b) * p.hidden + j;
}

fn hseqIndex(t: u32, b: u32, d: u32, j: u32) -> u32 {
  return (t * p.batch + b) * p.numDirections * p.hidden + d * p.hidden + j;
}

// Element (t, b, d, slot, j) of the training buffer `saved` with `slots` slots per unit.
fn savedIndex(t: u32, b: u32, d: u32, slot: u32, slots: u32, j: u32) -> u32 {
  return ((t * p.batch + b) * p.numDirections + d) * slots * p.hidden + slot * p.hidden + j;
}

// Start of the G*H gate block of (t, b, d) in xproj.
fn xprojBase(t: u32, b: u32, d: u32, gates: u32) -> u32 {
  return ((t * p.batch + b) * p.numDirections + d) * gates * p.hidden;
}

// h_{t-1}[b, k] of direction d: h0 on the first step, else the neighbouring slot of hseq
// (0 for an inactive row, whose result is not used).
fn prevH(b: u32, d: u32, k: u32) -> f32 {
  if (!running(b)) { return 0.0; }
  if (curStep == 0u) { return h0[stateIndex(b, d, k)]; }
  let t = timeOf(d, b);
  var tp = t - 1u;
  if (d == 1u) { tp = t + 1u; }
  return hseq[hseqIndex(tp, b, d, k)];
}

// Stages h_{t-1}[b0 + r, k0 .. k0 + WG) in hTile (zeros past H and past the batch). Called in
// uniform control flow by every invocation of the workgroup; the caller puts a barrier after
// its use of the tile.
fn stagePrevH(b0: u32, d: u32, k0: u32, x: u32) {
  let k = k0 + x;
#if BATCH_TILE
  var v = vec4f(0.0);
  for (var r = 0u; r < ROWS; r++) {
    if (k < p.hidden && b0 + r < p.batch) { v[r] = prevH(b0 + r, d, k); }
  }
  hTile[x] = v;
#else
  var v = 0.0;
  if (k < p.hidden && b0 < p.batch) { v = prevH(b0, d, k); }
  hTile[x] = v;
#endif
  workgroupBarrier();
}

// Index of the W_hh element (or vec4f of gates) of direction d, input unit k, unit j.
fn whhIndex(d: u32, k: u32, j: u32) -> u32 {
  return (d * p.hidden + k) * p.hidden + j;
}

#if DIRECT
// DIRECT: the recurrent product reads h_{t-1} straight from h0 or hseq instead of staging it
// in workgroup memory, so a step has no barrier. On a CPU adapter (SwiftShader) workgroup
// memory is ordinary memory and every barrier switches between the workgroup's invocations,
// which costs more than the loads it saves (measured 1.4x faster per LSTM step at B and C).
// recurrentProduct walks the input units four at a time, reading h_{t-1}[b, k .. k + 3] of
// each row as a vec4f; the H mod 4 last ones one at a time (prevHAt). h0 and hseq being
// different buffers, it has one loop per buffer under a uniform branch: a buffer choice
// inside the loop costs as much as the whole gain on SwiftShader.

// Index of h_{t-1}[b, d, 0] in h0 on the first step, in hseq after it; 0 (a valid row whose
// product is not used) for a row past the batch or not running.
fn prevHBase(b: u32, d: u32) -> u32 {
  if (b >= p.batch || !running(b)) { return 0u; }
  if (curStep == 0u) { return stateIndex(b, d, 0u); }
  let t = timeOf(d, b);
  var tp = t - 1u;
  if (d == 1u) { tp = t + 1u; }
  return hseqIndex(tp, b, d, 0u);
}

// The row bases of rows b0 .. b0 + 3 (b0 alone without BATCH_TILE).
fn prevHBases(b0: u32, d: u32) -> vec4u {
#if BATCH_TILE
  return vec4u(prevHBase(b0, d), prevHBase(b0 + 1u, d), prevHBase(b0 + 2u, d), prevHBase(b0 + 3u, d));
#else
  return vec4u(prevHBase(b0, d), 0u, 0u, 0u);
#endif
}

// Element i of the buffer that holds h_{t-1} (prevHBase's).
fn prevHAt(i: u32) -> f32 {
  if (curStep == 0u) { return h0[i]; }
  return hseq[i];
}

// h_{t-1}[k .. k + 3] of the rows at `base`, column r for row r: from hseq (firstH4: h0).
fn prevH4(base: u32, k: u32) -> vec4f {
  return vec4f(hseq[base + k], hseq[base + k + 1u], hseq[base + k + 2u], hseq[base + k + 3u]);
}
fn firstH4(base: u32, k: u32) -> vec4f {
  return vec4f(h0[base + k], h0[base + k + 1u], h0[base + k + 2u], h0[base + k + 3u]);
}
fn prevHRows(base: vec4u, k: u32) -> mat4x4f {
  return mat4x4f(prevH4(base.x, k), prevH4(base.y, k), prevH4(base.z, k), prevH4(base.w, k));
}
fn firstHRows(base: vec4u, k: u32) -> mat4x4f {
  return mat4x4f(firstH4(base.x, k), firstH4(base.y, k), firstH4(base.z, k), firstH4(base.w, k));
}
// h_{t-1}[b, k] of the rows at `base` as a vec4f over rows.
fn prevHColumn(base: vec4u, k: u32) -> vec4f {
  return vec4f(prevHAt(base.x + k), prevHAt(base.y + k), prevHAt(base.z + k), prevHAt(base.w + k));
}

// GATES3 (the GRU): the product runs over the three gates of a unit, not whhT's padding gate
// (a quarter fewer loads and multiply-adds); the fourth component is added back as 0.
#if GATES3
alias DirectAcc = mat4x3f;
fn widenAcc(a: mat4x3f) -> mat4x4f { return mat4x4f(vec4f(a[0], 0.0), vec4f(a[1], 0.0), vec4f(a[2], 0.0), vec4f(a[3], 0.0)); }
#else
alias DirectAcc = mat4x4f;
fn widenAcc(a: mat4x4f) -> mat4x4f { return a; }
#endif

// h_{t-1} W_hh^T for what invocation j computes, in rows b0 .. b0 + ROWS - 1: column r holds
// row b0 + r (only column 0 without BATCH_TILE), its components four outputs of the
// invocation (the gated cells: the gates of unit j; the Elman cell: units 4j .. 4j + 3).
// Each cell defines whh4(d, k, j), whose column kk holds those outputs' weights for input
// unit k + kk, and whh1(d, k, j), the weights for input unit k alone; whh4 * (column r:
// h_{t-1}[b0 + r, k .. k + 3]) adds four input units to row r.
fn recurrentProduct(b0: u32, d: u32, j: u32) -> mat4x4f {
  let H = p.hidden;
  let base = prevHBases(b0, d);
  let H4 = H & ~3u;
  var acc = DirectAcc();
  if (curStep == 0u) {
    for (var k = 0u; k < H4; k += 4u) {
#if BATCH_TILE
      acc += whh4(d, k, j) * firstHRows(base, k);
#else
      acc[0] += whh4(d, k, j) * firstH4(base.x, k);
#endif
    }
  } else {
    for (var k = 0u; k < H4; k += 4u) {
#if BATCH_TILE
      acc += whh4(d, k, j) * prevHRows(base, k);
#else
      acc[0] += whh4(d, k, j) * prevH4(base.x, k);
#endif
    }
  }
  for (var k = H4; k < H; k++) {
    let w = whh1(d, k, j);
    let hv = prevHColumn(base, k);
    acc += DirectAcc(w * hv.x, w * hv.y, w * hv.z, w * hv.w);
  }
  return widenAcc(acc);
}
#endif

#if RESIDENT
// RESIDENT: the persistent kernel's form on a CPU adapter (SwiftShader). There a load whose
// address is not known when the shader is compiled is emulated lane by lane, while one at a
// constant offset of private memory is a plain load. So each invocation copies the W_hh
// weights of its RES_U units x, x + WG, x + 2 WG, .. into private memory once, before the
// first step (units interleaved so that the four lanes of a SIMD group own neighbouring units,
// whose loads and stores SwiftShader can then make one vector access: the Elman RNN's and the
// GRU's inference at workload B 0.96x and 0.95x against units x RES_U .. x RES_U + RES_U - 1,
// the Elman RNN's at C 0.97x, A even, in Chromium, alternated in one page), and
// the product is unrolled over the RES_H = H input units with constant indices: wRes[k RES_U
// + u] from private memory, sRes[k] = h_{t-1}[., k] from the workgroup's copy of the state.
// A read of workgroup memory costs about as much at a constant index as at any other (in a
// standalone kernel on SwiftShader, as much as a load at a run-time address), so each read of
// sRes[k] serves the RES_U units of the
// invocation, and with SUBGROUPS (residentLanes) the four lanes of a subgroup read four
// elements at once, one each, and pass them on with subgroupBroadcast. Those reads, not the
// multiply-adds, set the pace (one unit an invocation measured 3x faster per step than the
// per-step dispatches at batch 1, H = 128; docs/performance.md). The loader adds `const RES_H`,
// `RES_HS`, `const RES_U`, `RES_WP`, `RES_WM`, `RES_WW` and the unrolled residentProduct(), and
// picks RES_U (residentSplit) so
// that the weights fit WGSL's 8192 bytes of private variables and, past those, its 8192 bytes
// of function variables a function, in main and in residentWalk; the workgroup has at least
// H / RES_U invocations. Past H = 128 and below 8 rows a model runs it one row a workgroup
// (forwardBatchTile).
// GATES3 (the GRU): wRes holds a unit's three gates (r, z, n) in three floats an input unit,
// without whhT's padding gate, so the product has 3/4 of the multiply-adds and of the weight
// loads, and more units fit in private memory; the generated product reads them as a vec3f.
// The weights in order i = k RES_U + u (input unit k, unit u): the first RES_WP in wRes, the
// next RES_WM in main's function variable (ResMain), the last RES_WW in residentWalk's
// (ResWalk), each of those at least one element long (WGSL has no empty arrays).
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
// sRes[resHalf + k]: h_{t-1}[b0 + r, k], component r (BATCH_TILE) or the one row; RES_HS >=
// RES_H elements a half, whole blocks of the subgroup lanes that share its loads. Two halves,
// read and written on alternate steps, so that one barrier a step will do: the cells' steps
// write h_t into the half the step's product does not read (keepH), and the barrier at the
// start of the next step orders both (at most 2 x 512 vec4f, WebGPU's 16384 bytes).
#if BATCH_TILE
var<workgroup> sRes: array<vec4f, 2 * RES_HS>;
#else
var<workgroup> sRes: array<f32, 2 * RES_HS>;
#endif
// The half that holds h_{t-1} on this step: 0 or RES_HS (residentWalk flips it after a step).
var<private> resHalf: u32;
#if SUBGROUPS
// SUBGROUPS: the invocation's lane in its subgroup, which loads element k0 + resLane of each
// block of sRes for the product to broadcast to the other lanes (residentLanes; main sets it).
var<private> resLane: u32;
#endif

// The accumulator of the unrolled product and one term of it (residentTerm(wRes[.], sRes[k])).
// Gated: the gates of a unit (a vec4f), per row (mat4x4f column r with BATCH_TILE); Elman: the
// unit's pre-activation, per row (vec4f component r with BATCH_TILE).
#if GATES3
#if BATCH_TILE
alias ResAcc = mat4x3f;
fn residentTerm(w: vec3f, h: vec4f) -> mat4x3f { return mat4x3f(w * h.x, w * h.y, w * h.z, w * h.w); }
#else
alias ResAcc = vec3f;
fn residentTerm(w: vec3f, h: f32) -> vec3f { return w * h; }
#endif
#elif GATED
#if BATCH_TILE
alias ResAcc = mat4x4f;
fn residentTerm(w: vec4f, h: vec4f) -> mat4x4f { return mat4x4f(w * h.x, w * h.y, w * h.z, w * h.w); }
#else
alias ResAcc = vec4f;
fn residentTerm(w: vec4f, h: f32) -> vec4f { return w * h; }
#endif
#else
#if BATCH_TILE
alias ResAcc = vec4f;
fn residentTerm(w: f32, h: vec4f) -> vec4f { return w * h; }
#else
alias ResAcc = f32;
fn residentTerm(w: f32, h: f32) -> f32 { return w * h; }
#endif
#endif

#if RESIDENT_CELLS
#else
// The product of the unit cellStep is called for, and that unit's u (unit u WG + x):
// residentWalk sets them before each call.
var<private> curAcc: ResAcc;
var<private> curUnit: u32;
#endif

// b_hh of the invocation's units u WG + x of its direction (clamped to H - 1 past H), gates in
// components (the Elman cell: its one gate): loaded once, before the first row block
// (residentBiases), rather than from storage on every step (hhBias).
#if GATED
var<private> resBias: array<vec4f, RES_U>;
#else
var<private> resBias: array<f32, RES_U>;
#endif

fn residentBiases(d: u32, x: u32) {
  for (var u = 0u; u < RES_U; u++) {
    let j = min(u * WG + x, p.hidden - 1u);
#if GATES3
    resBias[u] = hhBiasAt(d, j, 3u);
#elif GATED
    resBias[u] = hhBiasAt(d, j, 4u);
#else
    resBias[u] = hhBiasAt(d, j, 1u).x;
#endif
  }
}
// The row block residentWalk is on: its first row, and the lengths of rows resRow0 + r
// (component r; 0 past the batch), which seqLen returns.
var<private> resRow0: u32;
var<private> resLens: vec4u;

// Before the first step: W_hh of the invocation's units (clamped to H - 1 past H, whose
// results are dropped) into private memory.
fn loadResident(d: u32, x: u32, w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>) {
  for (var u = 0u; u < RES_U; u++) {
    let jc = min(u * WG + x, p.hidden - 1u);
    for (var k = 0u; k < RES_H; k++) {
      let w = whhT[whhIndex(d, k, jc)];
      let i = k * RES_U + u;
#if GATES3
      // Weight i is floats 3i .. 3i + 2 of its array.
      if (i < RES_WP) {
        wRes[3u * i] = w.x;
        wRes[3u * i + 1u] = w.y;
        wRes[3u * i + 2u] = w.z;
      } else if (i < RES_WP + RES_WM) {
        let e = 3u * (i - RES_WP);
        (*w2)[e] = w.x;
        (*w2)[e + 1u] = w.y;
        (*w2)[e + 2u] = w.z;
      } else {
        let e = 3u * (i - RES_WP - RES_WM);
        (*w3)[e] = w.x;
        (*w3)[e + 1u] = w.y;
        (*w3)[e + 2u] = w.z;
      }
#else
      if (i < RES_WP) {
        wRes[i] = w;
      } else if (i < RES_WP + RES_WM) {
        (*w2)[i - RES_WP] = w;
      } else {
        (*w3)[i - RES_WP - RES_WM] = w;
      }
#endif
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
#endif

// h_t of unit j in row b0 + r of direction d (a running row), where it goes besides hseq.
// RESIDENT keeps it in the half of sRes this step's product does not read, which saves the next
// step a load from hseq (h_{t-1} of an inactive row is never used), and writes hN from there
// once the row block's steps are done (residentLastH) rather than test every step for the last.
// Elsewhere hN on the row's last step.
fn keepH(b0: u32, r: u32, d: u32, j: u32, h: f32) {
#if RESIDENT
#if BATCH_TILE
  sRes[RES_HS - resHalf + j][r] = h;
#else
  sRes[RES_HS - resHalf + j] = h;
#endif
#else
  if (isLast(b0 + r)) { hN[stateIndex(b0 + r, d, j)] = h; }
#endif
}

// b_hh of unit j of direction d for a cell of `gates` gates (bhh [D, gates H]), gate g in
// component g (zeros past the cell's gates).
fn hhBiasAt(d: u32, j: u32, gates: u32) -> vec4f {
  let H = p.hidden;
  let bb = d * gates * H + j;
  var v = vec4f(bhh[bb], 0.0, 0.0, 0.0);
  if (gates > 1u) { v.y = bhh[bb + H]; }
  if (gates > 2u) { v.z = bhh[bb + 2u * H]; }
  if (gates > 3u) { v.w = bhh[bb + 3u * H]; }
  return v;
}

// What cellStep adds of b_hh for unit j: RESIDENT from private memory (resBias, for the unit
// residentWalk is on), elsewhere from bhh.
fn hhBias(d: u32, j: u32, gates: u32) -> vec4f {
#if RESIDENT_CELLS
  return hhBiasAt(d, j, gates);
#elif RESIDENT
  return vec4f(resBias[curUnit]);
#else
  return hhBiasAt(d, j, gates);
#endif
}

// h_{t-1}[b0 + r, j] of direction d for the cell's own use (the GRU's z h_{t-1}): RESIDENT
// from sRes (keepH), elsewhere from h0 or hseq.
fn ownPrevH(b0: u32, r: u32, d: u32, j: u32) -> f32 {
#if RESIDENT
#if BATCH_TILE
  return sRes[resHalf + j][r];
#else
  return sRes[resHalf + j];
#endif
#else
  return prevH(b0 + r, d, j);
#endif
}

#if GATED
// The gated cells (LSTM, GRU; whhT holds a vec4f of gates per unit): h_{t-1} W_hh^T for unit j
// of rows b0 .. b0 + ROWS - 1, column r holding row b0 + r's gates (only column 0 without
// BATCH_TILE). Called in uniform control flow by every invocation (it may hold barriers).
#if RESIDENT
// The product main computed for this unit (curAcc; GATES3: with the padding gate's 0 added).
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
#elif DIRECT
// The gates of unit j for input units k .. k + 3 (columns), and for input unit k.
#if GATES3
// r, z, n alone, each a component load of whhT's vec4f.
fn whh3At(i: u32) -> vec3f {
  return vec3f(whhT[i].x, whhT[i].y, whhT[i].z);
}
fn whh4(d: u32, k: u32, j: u32) -> mat4x3f {
  let H = p.hidden;
  let wi = whhIndex(d, k, j);
  return mat4x3f(whh3At(wi), whh3At(wi + H), whh3At(wi + 2u * H), whh3At(wi + 3u * H));
}
fn whh1(d: u32, k: u32, j: u32) -> vec3f {
  return whh3At(whhIndex(d, k, j));
}
#else
fn whh4(d: u32, k: u32, j: u32) -> mat4x4f {
  let H = p.hidden;
  let wi = whhIndex(d, k, j);
  return mat4x4f(whhT[wi], whhT[wi + H], whhT[wi + 2u * H], whhT[wi + 3u * H]);
}
fn whh1(d: u32, k: u32, j: u32) -> vec4f {
  return whhT[whhIndex(d, k, j)];
}
#endif

fn gatePreactivations(b0: u32, d: u32, j: u32, x: u32) -> mat4x4f {
  if (j >= p.hidden) { return mat4x4f(); }
  return recurrentProduct(b0, d, j);
}
#else
fn gatePreactivations(b0: u32, d: u32, j: u32, x: u32) -> mat4x4f {
  let H = p.hidden;
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b0, d, k0, x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let wv = whhT[whhIndex(d, k0 + kk, j)];
#if BATCH_TILE
        let hv = hTile[kk];
        acc += mat4x4f(wv * hv.x, wv * hv.y, wv * hv.z, wv * hv.w);
#else
        acc[0] = fma(vec4f(hTile[kk]), wv, acc[0]);
#endif
      }
    }
    workgroupBarrier();
  }
  return acc;
}
#endif
#endif

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

// Cell functions (ONNX's activations), fixed per pipeline: f for the gates, g for the
// candidate, h for the LSTM's output; PyTorch's cells are f = Sigmoid, g = h = Tanh. Codes:
// 0 Sigmoid, 1 Tanh, 2 Relu, 3 HardSigmoid, 4 Affine, 5 LeakyRelu, 6 ThresholdedRelu,
// 7 ScaledTanh, 8 Elu, 9 Softsign, 10 Softplus, with ONNX's alpha and beta.
// CLIP > 0 clamps the input of f and g to [-CLIP, CLIP] (ONNX's clip). The *_R constants are
// the reverse direction's functions (ONNX lists them per direction); where SAME_DIRECTIONS
// holds, as in every PyTorch model, the direction test folds away when the pipeline is built.
override ACT_F: u32 = 0u;
override ALPHA_F: f32 = 0.0;
override BETA_F: f32 = 0.0;
override ACT_G: u32 = 1u;
override ALPHA_G: f32 = 0.0;
override BETA_G: f32 = 0.0;
override ACT_H: u32 = 1u;
override ALPHA_H: f32 = 0.0;
override BETA_H: f32 = 0.0;
override SAME_DIRECTIONS: bool = true;
override ACT_F_R: u32 = 0u;
override ALPHA_F_R: f32 = 0.0;
override BETA_F_R: f32 = 0.0;
override ACT_G_R: u32 = 1u;
override ALPHA_G_R: f32 = 0.0;
override BETA_G_R: f32 = 0.0;
override ACT_H_R: u32 = 1u;
override ALPHA_H_R: f32 = 0.0;
override BETA_H_R: f32 = 0.0;
override CLIP: f32 = 0.0;

fn cellFunction(code: u32, x: f32, alpha: f32, beta: f32) -> f32 {
  switch (code) {
    case 0u: { return sigmoid(x); }
    case 1u: { return tanhSat(x); }
    case 2u: { return max(x, 0.0); }
    case 3u: { return clamp(alpha * x + beta, 0.0, 1.0); }
    case 4u: { return alpha * x + beta; }
    case 5u: { return select(alpha * x, x, x >= 0.0); }
    case 6u: { return select(0.0, x, x > alpha); }
    case 7u: { return alpha * tanhSat(beta * x); }
    case 8u: { return select(alpha * (exp(x) - 1.0), x, x >= 0.0); }
    case 9u: { return x / (1.0 + abs(x)); }
    default: {
      // Softplus, written to stay finite: log(1 + e^x) = max(x, 0) + log(1 + e^-|x|).
      return max(x, 0.0) + log(1.0 + exp(-abs(x)));
    }
  }
}

fn clipped(x: f32) -> f32 {
  if (CLIP > 0.0) { return clamp(x, -CLIP, CLIP); }
  return x;
}

// f, g and h of direction d.
fn actF(x: f32, d: u32) -> f32 {
  if (SAME_DIRECTIONS || d == 0u) { return cellFunction(ACT_F, clipped(x), ALPHA_F, BETA_F); }
  return cellFunction(ACT_F_R, clipped(x), ALPHA_F_R, BETA_F_R);
}

fn actG(x: f32, d: u32) -> f32 {
  if (SAME_DIRECTIONS || d == 0u) { return cellFunction(ACT_G, clipped(x), ALPHA_G, BETA_G); }
  return cellFunction(ACT_G_R, clipped(x), ALPHA_G_R, BETA_G_R);
}

fn actH(x: f32, d: u32) -> f32 {
  if (SAME_DIRECTIONS || d == 0u) { return cellFunction(ACT_H, x, ALPHA_H, BETA_H); }
  return cellFunction(ACT_H_R, x, ALPHA_H_R, BETA_H_R);
}

// tanh through one exponential: tanh|x| = (1 - e) / (1 + e) with e = exp(-2|x|) in (0, 1], so
// nothing overflows and large |x| saturate to +-1; the sign is put back. SwiftShader's tanh
// takes two exponentials (sinh / cosh). Near 0 the absolute error is about an ulp of 1, as in
// that form.
fn tanhSat(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * ((1.0 - e) / (1.0 + e));
}

#if RESIDENT
// (RESIDENT implies ONE_PHASE: cellStep is the cell's one phase.)
// The resident form's whole dispatch for invocation x of workgroup (0, y, d), `groups`
// workgroups along the rows: it takes row blocks y, y + groups, ... one after another, so that
// its copy of the weights (loadResident, lane by lane on SwiftShader) serves them all. A
// function of its own, so that its function variable adds to main's (w2) for the weights.
// RESIDENT_CELLS (the Elman cell): the cell's residentCells takes a step of all the
// invocation's units at once, rather than cellStep one unit at a time.
fn residentWalk(x: u32, y: u32, d: u32, groups: u32, w2: ptr<function, ResMain>) {
  var wResWalk: ResWalk;
  loadResident(d, x, w2, &wResWalk);
  residentBiases(d, x);
  for (var b0 = y * ROWS; b0 < p.batch; b0 += groups * ROWS) {
    resRow0 = b0;
    for (var r = 0u; r < ROWS; r++) {
      resLens[r] = select(0u, u32(h0[p.lengthsOffset + b0 + r]), b0 + r < p.batch);
    }
    let half0 = resHalf;
    curStep = 0u;
    residentFirstH(b0, d, x);
    for (var s = 0u; s < p.seqLen; s++) {
      curStep = s;
      let acc = residentProducts(w2, &wResWalk);
#if RESIDENT_CELLS
      residentCells(acc, b0, d, x);
#else
      for (var u = 0u; u < RES_U; u++) {
        curAcc = acc[u];
        curUnit = u;
        cellStep(x, u * WG + x, b0, d);
      }
#endif
      // Nothing to wait for here: residentProducts' barrier orders the halves of sRes.
      resHalf = RES_HS - resHalf;
    }
    residentLastH(b0, d, x, half0);
  }
}
#endif

#if ONE_PHASE
// The entry point of the cells whose step is one phase (every cell but the GRU's
// linear_before_reset = 0 form, which has its own): each defines cellStep(x, j, b0, d), the
// step of unit j of rows b0 .. b0 + ROWS - 1 and direction d at step curStep (with
// RESIDENT_CELLS the resident form defines residentCells instead).
@compute @workgroup_size(WG)
#if SUBGROUPS
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
#else
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
#endif
#if PERSISTENT
#if RESIDENT
#if SUBGROUPS
  resLane = lane;
#endif
  var wResMain: ResMain;
  residentWalk(lid.x, wid.y, wid.z, nwg.y, &wResMain);
#else
  for (var s = 0u; s < p.seqLen; s++) {
    curStep = s;
    for (var j0 = 0u; j0 < p.hidden; j0 += WG) { cellStep(lid.x, j0 + lid.x, wid.y * ROWS, wid.z); }
    phaseBarrier();
  }
#endif
#else
  curStep = p.step;
  cellStep(lid.x, wid.x * WG + lid.x, wid.y * ROWS, wid.z);
#endif
}
#endif
