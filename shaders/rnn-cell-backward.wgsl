// Elman RNN backward step: with h_t = act(a_t), dG_t = dh_t * act'(a_t), written from h_t:
// tanh' = 1 - h^2, relu' = (h > 0), identity' = 1. `saved` is the forward output sequence.
// Bindings, layouts and the forms that call unitStep: see common/step-backward.wgsl.

override NONLINEARITY: u32 = 0u;
const GATES: u32 = 1u;

@group(0) @binding(2) var<storage, read> whhT: array<f32>;

fn recurrentGrad(i: u32) -> f32 {
  return dG[i];
}

fn whhGates(d: u32, k: u32, m: u32) -> vec4f {
  return vec4f(whhT[whhIndex(d, k, m)], 0.0, 0.0, 0.0);
}

fn derivative(h: f32) -> f32 {
  if (NONLINEARITY == 1u) { return select(0.0, 1.0, h > 0.0); }
  if (NONLINEARITY == 2u) { return 1.0; }
  return 1.0 - h * h;
}

// Unit j of row b, direction d, in this dispatch (see common/step-backward.wgsl).
fn unitStep(b: u32, d: u32, j: u32, recIn: f32) {
  var rec = recIn;
  let si = stateIndex(b, d, j);
  let L = seqLen(b);
  if (curStep == 0u) { rec = gradHN[si]; }
  if (curStep == L) { dh0[si] = rec; }
  if (curStep >= L) {
    // Finished (or past the end): no gradient at t = step.
    if (curStep < p.seqLen) { dG[gateIndex(curStep, b, d, 0u, j)] = 0.0; }
    return;
  }
  let t = timeOf(d, b);
  let dh = dy[dyIndex(t, b, d, j)] + rec;
  let h = saved[dyIndex(t, b, d, j)];
  let g = dh * derivative(h);
  dG[gateIndex(t, b, d, 0u, j)] = g;
  // The step whose h_{t-1} is h0: its gradient again in slot T, for the dW_hh GEMM.
  if (curStep + 1u == L) { dG[gateIndex(p.seqLen, b, d, 0u, j)] = g; }
}
