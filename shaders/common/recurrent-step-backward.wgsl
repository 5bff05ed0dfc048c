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
// invocation x owns unit j = x_block * WG + x of row b.
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

override WG: u32 = 64u;
// gTile[x]: the G recurrent-side gate gradients of unit m0 + x at the later time, one per
// component (zeros past H and past G).
var<workgroup> gTile: array<vec4f, WG>;

fn seqLen(b: u32) -> u32 {
  return u32(gradHN[p.lengthsOffset + b]);
}

fn running(b: u32) -> bool {
  return p.step < seqLen(b);
}

// Time handled by direction d for row b in this dispatch (t = step once the row is finished).
fn timeOf(d: u32, b: u32) -> u32 {
  if (d == 0u && running(b)) { return seqLen(b) - 1u - p.step; }
  return p.step;
}

// Time handled by direction d for row b in the previous dispatch (step > 0, row running then).
fn laterTime(d: u32, b: u32) -> u32 {
  if (d == 0u) { return seqLen(b) - p.step; }
  return p.step - 1u;
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
  if (m < p.hidden && p.step <= seqLen(b)) {
    let tl = laterTime(d, b);
    for (var g = 0u; g < GATES; g++) { v[g] = recurrentGrad(gateIndex(tl, b, d, g, m)); }
  }
  gTile[x] = v;
  workgroupBarrier();
}

#if DIRECT
// DIRECT (see the forward prelude): the later gradients read straight from memory, no staging
// and no barrier. laterGrad4(base, g, m): gate g's later gradients of units m .. m + 3.
fn laterGrad4(base: u32, g: u32, m: u32) -> vec4f {
  let i = base + g * p.hidden + m;
  return vec4f(recurrentGrad(i), recurrentGrad(i + 1u), recurrentGrad(i + 2u), recurrentGrad(i + 3u));
}

// The sum below, four units m at a time: column mm of w holds the gates of (k = j, m + mm), so
// row g of w (column g of its transpose) pairs with gate g's gradients of units m .. m + 3.
// GATES is a constant: the tests on it fold away. The H mod 4 last units one at a time.
fn laterGradThroughWhh(b: u32, d: u32, j: u32, x: u32) -> f32 {
  let H = p.hidden;
  if (p.step == 0u || j >= H || p.step > seqLen(b)) { return 0.0; }
  let base = gateIndex(laterTime(d, b), b, d, 0u, 0u);
  let H4 = H & ~3u;
  var acc = vec4f(0.0);
  for (var m = 0u; m < H4; m += 4u) {
    let wt = transpose(mat4x4f(whhGates(d, j, m), whhGates(d, j, m + 1u), whhGates(d, j, m + 2u), whhGates(d, j, m + 3u)));
    acc += wt[0] * laterGrad4(base, 0u, m);
    if (GATES > 1u) { acc += wt[1] * laterGrad4(base, 1u, m); }
    if (GATES > 2u) { acc += wt[2] * laterGrad4(base, 2u, m); }
    if (GATES > 3u) { acc += wt[3] * laterGrad4(base, 3u, m); }
  }
  var sum = acc.x + acc.y + acc.z + acc.w;
  for (var m = H4; m < H; m++) {
    let w = whhGates(d, j, m);
    for (var g = 0u; g < GATES; g++) { sum += w[g] * recurrentGrad(base + g * H + m); }
  }
  return sum;
}
#else
// Sum over m of dot(W_hh gates of (k = j, m), gTile): the gradient reaching h_t[b, j] through
// W_hh from the later step. Every invocation calls it (it holds barriers); those past H get 0.
fn laterGradThroughWhh(b: u32, d: u32, j: u32, x: u32) -> f32 {
  var acc = 0.0;
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
#endif

fn tanhSat(x: f32) -> f32 {
  return tanh(clamp(x, -15.0, 15.0));
}
