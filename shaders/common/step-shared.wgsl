// What the forward step kernels and the backward sweep share: the uniform, the step being
// computed, and the index maps of the state and weight buffers. The loaders put it first.
// Each form (staged, direct, resident) defines seqLen(b), the length of sequence b, which
// these helpers call: from storage, or from the copy the resident forms keep in private memory.

struct Params {
  batch: u32,
  hidden: u32,
  seqLen: u32,
  step: u32,
  numDirections: u32,
  stateBase: u32,
  cellBase: u32,
  lengthsOffset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// The step being computed: p.step for one dispatch per step, the loop's step in the forms
// that run every step of a layer in one dispatch (persistent, resident).
var<private> curStep: u32;

override WG: u32 = 64u;

// Sequence b still runs at this step (variable lengths: PyTorch's packed sequences, ONNX's
// sequence_lens).
fn running(b: u32) -> bool {
  return curStep < seqLen(b);
}

// Element (b, j) of direction d of this layer in a state buffer (h0, hN, gradHN, dh0): each
// layer's [D, B, H] in turn, this one's from float p.stateBase on.
fn stateIndex(b: u32, d: u32, j: u32) -> u32 {
  return p.stateBase + (d * p.batch + b) * p.hidden + j;
}

// The same in the LSTM's cell-state buffers (c, the sweep's carry), which hold the LSTM
// layers' [D, B, H] only, this one's from float p.cellBase on.
fn cellIndex(b: u32, d: u32, j: u32) -> u32 {
  return p.cellBase + (d * p.batch + b) * p.hidden + j;
}

// Element (t, b, d, slot, j) of the training buffer `saved` with `slots` slots per unit.
fn savedIndex(t: u32, b: u32, d: u32, slot: u32, slots: u32, j: u32) -> u32 {
  return ((t * p.batch + b) * p.numDirections + d) * slots * p.hidden + slot * p.hidden + j;
}

// Index of the W_hh element (or vec4f of gates) of direction d, input unit k, unit j in whhT.
fn whhIndex(d: u32, k: u32, j: u32) -> u32 {
  return (d * p.hidden + k) * p.hidden + j;
}

// tanh through one exponential: tanh|x| = (1 - e) / (1 + e) with e = exp(-2|x|) in (0, 1], so
// nothing overflows and large |x| saturate to +-1; the sign is put back. SwiftShader's tanh
// takes two exponentials (sinh / cosh). Near 0 the absolute error is about an ulp of 1, as in
// that form.
fn tanhSat(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * ((1.0 - e) / (1.0 + e));
}
