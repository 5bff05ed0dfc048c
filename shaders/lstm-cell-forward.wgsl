// LSTM step, fused (PyTorch semantics, gate blocks i, f, g, o):
//   [i f g o] = xproj_t + b_hh + h_{t-1} W_hh^T
//   c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
//   h_t = sigmoid(o) * tanh(c_t)
// (sigmoid and tanh being the default cell functions f, g and h, common/cell-functions.wgsl)
// W_hh arrives as one vec4f (i, f, g, o) per (direction, input unit, unit). With PEEPHOLE
// (ONNX's peepholes) i and f also add P_i * c_{t-1} and P_f * c_{t-1}, o adds P_o * c_t.
// The cell state lives in `c` [L*D, B, H], updated in place: c_t[b, j] depends only on
// c_{t-1}[b, j], which the same invocation owns, so no other invocation reads it. It holds
// c0 before the first step and cN after the last.
// The product (gatePreactivations) is the form's: common/step-staged.wgsl, software/step-direct.wgsl
// or software/step-resident-gates.wgsl; bindings and layouts in common/step-forward.wgsl.

// INPUT_FORGET couples the gates, f = 1 - i (ONNX's input_forget).
override INPUT_FORGET: u32 = 0u;

#if HALF
@group(0) @binding(2) var<storage, read> whhT: array<vec2u>;
#else
@group(0) @binding(2) var<storage, read> whhT: array<vec4f>;
#endif
@group(0) @binding(7) var<storage, read_write> c: array<f32>;
#if TRAINING
// saved [T, B, D, 6H]: i, f, g, o (after their nonlinearities), c_t, c_{t-1}.
@group(0) @binding(8) var<storage, read_write> saved: array<f32>;
#endif

// Unit j of rows b0 .. b0 + ROWS - 1, direction d, at step curStep; x is the invocation's
// index in the workgroup. Called in uniform control flow (it holds barriers).
fn cellStep(x: u32, j: u32, b0: u32, d: u32) {
  let H = p.hidden;
  let GH = 4u * H;

  // Column r: the recurrent pre-activations of the gates of row b0 + r.
  let acc = gatePreactivations(b0, d, j, x);
  if (j >= H) { return; }

  let bias = hhBias(d, j, 4u);
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let t = timeOf(d, b);
    if (!running(b)) {
      hseq[hseqIndex(t, b, d, j)] = 0.0;
      continue;
    }
    let xb = xprojBase(t, b, d, 4u) + j;
    let pre = vec4f(xproj[xb], xproj[xb + H], xproj[xb + 2u * H], xproj[xb + 3u * H]) + bias + acc[r];
    let ci = cellIndex(b, d, j);
    let cOld = c[ci];
#if PEEPHOLE
    // Peepholes (ONNX's P, blocks i, f, o after b_hh): i and f see c_{t-1}, o sees c_t.
    let pb = p.numDirections * GH + d * 3u * H + j;
    let ig = actF(pre.x + bhh[pb] * cOld, d);
    var fg = actF(pre.y + bhh[pb + H] * cOld, d);
    if (INPUT_FORGET != 0u) { fg = 1.0 - ig; }
    let gg = actG(pre.z, d);
    let cNew = fg * cOld + ig * gg;
    let og = actF(pre.w + bhh[pb + 2u * H] * cNew, d);
#else
    let ig = actF(pre.x, d);
    var fg = actF(pre.y, d);
    if (INPUT_FORGET != 0u) { fg = 1.0 - ig; }
    let gg = actG(pre.z, d);
    let cNew = fg * cOld + ig * gg;
    let og = actF(pre.w, d);
#endif
    c[ci] = cNew;
    let h = og * actH(cNew, d);
#if TRAINING
    saved[savedIndex(t, b, d, 0u, 6u, j)] = ig;
    saved[savedIndex(t, b, d, 1u, 6u, j)] = fg;
    saved[savedIndex(t, b, d, 2u, 6u, j)] = gg;
    saved[savedIndex(t, b, d, 3u, 6u, j)] = og;
    saved[savedIndex(t, b, d, 4u, 6u, j)] = cNew;
    saved[savedIndex(t, b, d, 5u, 6u, j)] = cOld;
#endif
    keepH(b0, r, d, j, h);
    hseq[hseqIndex(t, b, d, j)] = h;
  }
}

