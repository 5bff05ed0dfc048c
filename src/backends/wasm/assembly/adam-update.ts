// PyTorch's Adam (L2 weight decay) or AdamW (decoupled) over n parameters after clipping, at a
// step whose bias corrections are c1 = 1 − β1^t and c2 = 1 − β2^t:
// m1 = β1·m1 + (1 − β1)·g, m2 = β2·m2 + (1 − β2)·g², p −= lr·(m1/c1) / (√(m2/c2) + eps).
// scale comes from grad-norm.ts's `count` parts. Thread mapping: share(n, 4).
import { share } from './simd';
import { clipGradient, clipScale } from './optimizer';

export function adamUpdate(p: usize, grad: usize, m1: usize, m2: usize, n: i32, partials: usize, count: i32, maxNorm: f32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, decoupled: i32, clipValue: f32, c1: f32, c2: f32, thread: i32, threads: i32): void {
  const scale = clipScale(partials, count, maxNorm);
  const s = share(n, 4, thread, threads);
  for (let i = i32(s >> 32); i < i32(s); i++) {
    const o = usize(i) << 2;
    let w = load<f32>(p + o);
    let g = clipGradient(load<f32>(grad + o), scale, clipValue);
    if (decoupled) w *= 1 - lr * weightDecay;
    else g += weightDecay * w;
    const a = beta1 * load<f32>(m1 + o) + (1 - beta1) * g;
    const b = beta2 * load<f32>(m2 + o) + (1 - beta2) * g * g;
    store<f32>(m1 + o, a);
    store<f32>(m2 + o, b);
    store<f32>(p + o, w - (lr * (a / c1)) / (Mathf.sqrt(b / c2) + eps));
  }
}
