// Cell functions of the forward step kernels (ONNX's activations), fixed per pipeline through
// override constants: f for the gates, g for the candidate, h for the LSTM's output.
// PyTorch's cells are f = Sigmoid, g = h = Tanh; the Elman cell uses f alone.

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
