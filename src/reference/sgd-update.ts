/** float64 reference of shaders/sgd-update.wgsl (PyTorch's SGD, dampening 0, after clipping). */
export interface SgdHyper {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  /** Clip each gradient element to ±clipValue (0: off). */
  clipValue: number;
}

/** Update `param` and `velocity` in place; `scale` is the global-norm clipping factor. */
export function sgdUpdateReference(h: SgdHyper, first: boolean, scale: number, param: Float64Array, grad: ArrayLike<number>, velocity: Float64Array): void {
  for (let i = 0; i < param.length; i++) {
    let g = grad[i] * scale;
    if (h.clipValue > 0) g = Math.min(Math.max(g, -h.clipValue), h.clipValue);
    g += h.weightDecay * param[i];
    if (h.momentum !== 0) {
      const v = first ? g : h.momentum * velocity[i] + g;
      velocity[i] = v;
      g = h.nesterov ? g + h.momentum * v : v;
    }
    param[i] -= h.lr * g;
  }
}
