/** float64 reference of shaders/adam-update.wgsl (PyTorch's Adam / AdamW, after clipping). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW's decoupled weight decay instead of Adam's L2 term. */
  decoupled: boolean;
  /** Clip each gradient element to ±clipValue (0: off). */
  clipValue: number;
}

/** Step `t` (1-based): update `param`, `m1`, `m2` in place; `scale` is the global-norm clipping factor. */
export function adamUpdateReference(h: AdamHyper, t: number, scale: number, param: Float64Array, grad: ArrayLike<number>, m1: Float64Array, m2: Float64Array): void {
  const c1 = 1 - h.beta1 ** t;
  const c2 = 1 - h.beta2 ** t;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i] * scale;
    if (h.clipValue > 0) g = Math.min(Math.max(g, -h.clipValue), h.clipValue);
    let w = param[i];
    if (h.decoupled) w *= 1 - h.lr * h.weightDecay;
    else g += h.weightDecay * w;
    m1[i] = h.beta1 * m1[i] + (1 - h.beta1) * g;
    m2[i] = h.beta2 * m2[i] + (1 - h.beta2) * g * g;
    param[i] = w - (h.lr * (m1[i] / c1)) / (Math.sqrt(m2[i] / c2) + h.eps);
  }
}
