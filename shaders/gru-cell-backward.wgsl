// GRU backward step, PyTorch's reset-after form (saved: r, z, n, hn = h_{t-1} W_hn^T + b_hn,
// h_{t-1}); h_t = (1 - z) n + z h_{t-1}, n = tanh(xn + r hn):
//   dn = dh (1 - z), dz = dh (h_{t-1} - n), da_n = dn (1 - n^2)
//   dG    (input side)     = (da_n hn r(1-r), dz z(1-z), da_n)
//   dGrec (recurrent side) = (da_n hn r(1-r), dz z(1-z), da_n r)
// and the direct path z * dh to h_{t-1} is kept in `carry` for the next dispatch.
// Bindings, layouts and the forms that call unitStep: see common/step-backward.wgsl.

const GATES: u32 = 3u;

@group(0) @binding(2) var<storage, read> whhT: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> carry: array<f32>;
@group(0) @binding(8) var<storage, read_write> dGrec: array<f32>;

fn recurrentGrad(i: u32) -> f32 {
  return dGrec[i];
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
  if (curStep > L) {
    // Finished rows: no gradient at t = step.
    if (curStep < p.seqLen) {
      for (var g = 0u; g < GATES; g++) {
        dG[gateIndex(curStep, b, d, g, j)] = 0.0;
        dGrec[gateIndex(curStep, b, d, g, j)] = 0.0;
      }
    }
    return;
  }
  // The direct path from the later step (zero before the first dispatch of a layer).
  rec += carry[si];
  if (curStep == L) {
    dh0[si] = rec;
    if (curStep < p.seqLen) {
      for (var g = 0u; g < GATES; g++) {
        dG[gateIndex(curStep, b, d, g, j)] = 0.0;
        dGrec[gateIndex(curStep, b, d, g, j)] = 0.0;
      }
    }
    return;
  }
  let t = timeOf(d, b);
  let dh = dy[dyIndex(t, b, d, j)] + rec;
  let r = saved[savedIndex(t, b, d, 0u, 5u, j)];
  let z = saved[savedIndex(t, b, d, 1u, 5u, j)];
  let n = saved[savedIndex(t, b, d, 2u, 5u, j)];
  let hn = saved[savedIndex(t, b, d, 3u, 5u, j)];
  let hp = saved[savedIndex(t, b, d, 4u, 5u, j)];
  carry[si] = dh * z;
  let dan = dh * (1.0 - z) * (1.0 - n * n);
  let daz = dh * (hp - n) * z * (1.0 - z);
  let dar = dan * hn * r * (1.0 - r);
  dG[gateIndex(t, b, d, 0u, j)] = dar;
  dG[gateIndex(t, b, d, 1u, j)] = daz;
  dG[gateIndex(t, b, d, 2u, j)] = dan;
  dGrec[gateIndex(t, b, d, 0u, j)] = dar;
  dGrec[gateIndex(t, b, d, 1u, j)] = daz;
  dGrec[gateIndex(t, b, d, 2u, j)] = dan * r;
  if (curStep + 1u == L) {
    // The step whose h_{t-1} is h0: its recurrent-side gradients again in slot T, for dW_hh.
    dGrec[gateIndex(p.seqLen, b, d, 0u, j)] = dar;
    dGrec[gateIndex(p.seqLen, b, d, 1u, j)] = daz;
    dGrec[gateIndex(p.seqLen, b, d, 2u, j)] = dan * r;
  }
}
