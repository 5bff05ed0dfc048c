// PyTorch's SGD (dampening 0) over n parameters after clipping: g = clip(grad·scale) +
// weightDecay·p; with momentum v = first ? g : momentum·v + g and g = nesterov ? g + momentum·v : v;
// p −= lr·g. scale comes from grad-norm.ts's `count` parts. Thread mapping: share(n, 4).
import { share } from './simd';
import { clipGradient, clipScale } from './optimizer';

export function sgdUpdate(p: usize, grad: usize, v: usize, n: i32, partials: usize, count: i32, maxNorm: f32, lr: f32, momentum: f32, weightDecay: f32, nesterov: i32, clipValue: f32, first: i32, thread: i32, threads: i32): void {
  const scale = clipScale(partials, count, maxNorm);
  const s = share(n, 4, thread, threads);
  for (let i = i32(s >> 32); i < i32(s); i++) {
    const o = usize(i) << 2;
    const w = load<f32>(p + o);
    let g = clipGradient(load<f32>(grad + o), scale, clipValue) + weightDecay * w;
    if (momentum != 0) {
      const vel = first ? g : momentum * load<f32>(v + o) + g;
      store<f32>(v + o, vel);
      g = nesterov ? g + momentum * vel : vel;
    }
    store<f32>(p + o, w - lr * g);
  }
}
