// The forward step kernels' bindings and index maps (rnn-, lstm- and gru-cell-forward), after
// common/step-shared.wgsl; then the form supplies the recurrent product (gatePreactivations)
// and the hooks the cells call (seqLen, hhBias, keepH, ownPrevH: common/step-hooks.wgsl for
// the staged and direct forms), and the cell its step.
//
// One dispatch advances every batch row and both directions of one layer by one step, or, in
// the persistent and resident forms, runs every step. Direction 0 processes time t = step,
// direction 1 time t = L_b - 1 - step. The thread mapping is the form's:
//   common/step-staged.wgsl      h_{t-1} staged in workgroup memory (GPUs), per step or persistent
//   software/step-direct.wgsl    h_{t-1} read from memory, no barrier (software adapters)
//   software/step-resident.wgsl  W_hh in private memory, every step in one dispatch (software)
//
// Buffer layouts (f32 elements, G gates per unit, L layers, D directions):
//   xproj [T, B, D, G*H]  the input projection X W_ih^T + b_ih of this layer, all steps
//   whhT  [D, H, H, P]    W_hh transposed: element (d, k, j, g) is W_hh[g*H + j, k] of
//                         direction d, with the P = 4 gates of a unit (zero-padded for the
//                         GRU) in one vec4f; P = 1 for the Elman cell. Neighbouring units
//                         read neighbouring words. Each cell declares this binding.
//   bhh   [D, G*H]        b_hh (zeros for a model without bias)
//   h0    [L*D, B, H]     initial states of every layer (each layer's [D, B, H] in turn);
//                         this layer's start at float stateBase; then, at lengthsOffset,
//                         each sequence's length [B] (as f32)
//   hseq  [T, B, D*H]     this layer's output sequence; h_{t-1} is read from the previous slot
//   hN    [L*D, B, H]     written on the last step only (h0's layout)
//   saved [T, B, D, S*H]  training variants only (LSTM, GRU): the S activations of each step
//                         that the backward sweep needs, slot-major per unit (savedIndex)

@group(0) @binding(1) var<storage, read> xproj: array<f32>;
@group(0) @binding(3) var<storage, read> bhh: array<f32>;
@group(0) @binding(4) var<storage, read> h0: array<f32>;
@group(0) @binding(5) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(6) var<storage, read_write> hN: array<f32>;

// The length L_b of sequence b as stored after the initial states. Once step >= L_b the row is
// inactive: its state stays as it is, and the dispatch zeroes the output at t = step (over the
// inactive steps that covers t = L_b .. T - 1 in both directions).
fn storedLength(b: u32) -> u32 {
  return u32(h0[p.lengthsOffset + b]);
}

// The last step of sequence b: the one that writes hN.
fn isLast(b: u32) -> bool {
  return curStep + 1u == seqLen(b);
}

// The time direction d handles for row b: the reverse direction starts at the sequence's own
// last step.
fn timeOf(d: u32, b: u32) -> u32 {
  if (d == 0u || !running(b)) { return curStep; }
  return seqLen(b) - 1u - curStep;
}

fn hseqIndex(t: u32, b: u32, d: u32, j: u32) -> u32 {
  return (t * p.batch + b) * p.numDirections * p.hidden + d * p.hidden + j;
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
