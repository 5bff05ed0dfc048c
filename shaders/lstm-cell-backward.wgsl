// LSTM backward step (gates i, f, g, o; saved: i, f, g, o, c_t, c_{t-1}):
//   dc = carry + dh * o * (1 - tanh(c_t)^2)          carry becomes dc * f (= dc_{t-1})
//   dG = (dc * g * i(1-i), dc * c_{t-1} * f(1-f), dc * i * (1-g^2), dh * tanh(c_t) * o(1-o))
// `carry` holds gradCN before the sweep of a layer and dc0 after it.
// Bindings, layouts and the forms that call unitStep: see common/step-backward.wgsl.

const GATES: u32 = 4u;

@group(0) @binding(2) var<storage, read> whhT: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> carry: array<f32>;

fn recurrentGrad(i: u32) -> f32 {
  return dG[i];
}

fn whhGates(d: u32, k: u32, m: u32) -> vec4f {
  return whhT[whhIndex(d, k, m)];
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
    if (curStep < p.seqLen) {
      for (var g = 0u; g < GATES; g++) { dG[gateIndex(curStep, b, d, g, j)] = 0.0; }
    }
    return;
  }
  let t = timeOf(d, b);
  let dh = dy[dyIndex(t, b, d, j)] + rec;
  let ig = saved[savedIndex(t, b, d, 0u, 6u, j)];
  let fg = saved[savedIndex(t, b, d, 1u, 6u, j)];
  let gg = saved[savedIndex(t, b, d, 2u, 6u, j)];
  let og = saved[savedIndex(t, b, d, 3u, 6u, j)];
  let c = saved[savedIndex(t, b, d, 4u, 6u, j)];
  let cPrev = saved[savedIndex(t, b, d, 5u, 6u, j)];
  let tc = tanhSat(c);
  let ci = cellIndex(b, d, j);
  let dc = carry[ci] + dh * og * (1.0 - tc * tc);
  carry[ci] = dc * fg;
  dG[gateIndex(t, b, d, 0u, j)] = dc * gg * ig * (1.0 - ig);
  dG[gateIndex(t, b, d, 1u, j)] = dc * cPrev * fg * (1.0 - fg);
  dG[gateIndex(t, b, d, 2u, j)] = dc * ig * (1.0 - gg * gg);
  dG[gateIndex(t, b, d, 3u, j)] = dh * tc * og * (1.0 - og);
  if (curStep + 1u == L) {
    // The step whose h_{t-1} is h0: its gradients again in slot T, for the dW_hh GEMM.
    for (var g = 0u; g < GATES; g++) { dG[gateIndex(p.seqLen, b, d, g, j)] = dG[gateIndex(t, b, d, g, j)]; }
  }
}
