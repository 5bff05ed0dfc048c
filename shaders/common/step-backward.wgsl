// The backward step kernels' bindings and index maps (rnn-, lstm- and gru-cell-backward): the
// reverse-time sweep of backpropagation through time, after common/step-shared.wgsl; one form
// file then supplies the product through W_hh and the entry point, and the cell its unitStep.
//
// Dispatch s (0 <= s <= T) of a layer handles both directions in the reverse of their forward
// order. Sequence b runs L_b = seqLen(b) steps (all T without variable lengths): while s < L_b
// direction 0 handles t = L_b-1-s and direction 1 t = s; dispatch s = L_b forms dh0 of the
// row; past that the row is finished and the dispatch zeroes its gate gradients at t = s.
// At its last active dispatch (s = L_b-1, the step whose h_{t-1} is h0) a row also copies its
// recurrent-side gradients to slot T of that buffer, where the dW_hh GEMM pairs them with h0.
// The thread mapping is the form's:
//   common/sweep-staged.wgsl           the later gradients staged in workgroup memory (GPUs)
//   software/sweep-direct-tile.wgsl    read from memory, 4 units of 1 or 4 rows an invocation
//   software/sweep-direct-wide.wgsl    read from memory, 8 units of 8 rows an invocation
//   software/sweep-resident.wgsl       W_hh in private memory, the whole sweep in one dispatch
// Each cell defines unitStep(b, d, j, rec): the step of unit j of row b given rec, the
// gradient reaching h_t[b, j] through W_hh from the later step (0 on the first dispatch);
// the form's main forms rec and calls it. It also defines GATES, whhGates(d, k, m) (the gates
// of W_hh[g*H + m, k] in components) and recurrentGrad(i) (element i of the recurrent-side
// gate gradients).
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
//   gradHN [L*D, B, H]     gradient of hN (hN's layout); this layer's at float stateBase; then,
//                          at lengthsOffset, each sequence's length [B] (as f32)
//   dG     [T, B, D, G*H]  gate pre-activation gradients (input side for the GRU); for the
//                          LSTM and Elman cells one more time slot T (initial steps)
//   dh0    [L*D, B, H]     written by the last dispatch
//   carry  [L*D, B, H]     per-unit state of the sweep (LSTM: dc, in the cell states' layout
//                          from cellBase; GRU: z * dh, in hN's layout)

@group(0) @binding(1) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> gradHN: array<f32>;
@group(0) @binding(5) var<storage, read_write> dG: array<f32>;
@group(0) @binding(6) var<storage, read_write> dh0: array<f32>;

// The length L_b of sequence b as stored after the gradient of hN.
fn storedLength(b: u32) -> u32 {
  return u32(gradHN[p.lengthsOffset + b]);
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

fn dyIndex(t: u32, b: u32, d: u32, j: u32) -> u32 {
  return (t * p.batch + b) * p.numDirections * p.hidden + d * p.hidden + j;
}

fn gateIndex(t: u32, b: u32, d: u32, g: u32, j: u32) -> u32 {
  return ((t * p.batch + b) * p.numDirections + d) * GATES * p.hidden + g * p.hidden + j;
}
