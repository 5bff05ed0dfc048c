/**
 * float64 reference of one LSTM backward step for one direction. `saved` holds the forward's
 * activations slot by slot ([B, H] each): i, f, g, o, c_t, c_{t−1}; `dh` is the whole gradient
 * reaching h_t, `dc` the gradient reaching c_t from later steps. Returns the gate
 * pre-activation gradients dG [B, 4H] (blocks i, f, g, o) and dcPrev, the gradient of c_{t−1}.
 */
export function lstmCellBackwardReference(s: { batch: number; hidden: number; saved: ArrayLike<number>[]; dh: ArrayLike<number>; dc: ArrayLike<number> }): {
  dG: Float64Array;
  dcPrev: Float64Array;
} {
  const { batch: B, hidden: H } = s;
  const dG = new Float64Array(B * 4 * H);
  const dcPrev = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const u = b * H + j;
      const [i, f, g, o, c, cPrev] = s.saved.map((slot) => slot[u]);
      const tc = Math.tanh(c);
      const dc = s.dc[u] + s.dh[u] * o * (1 - tc * tc);
      dcPrev[u] = dc * f;
      const base = b * 4 * H + j;
      dG[base] = dc * g * i * (1 - i);
      dG[base + H] = dc * cPrev * f * (1 - f);
      dG[base + 2 * H] = dc * i * (1 - g * g);
      dG[base + 3 * H] = s.dh[u] * tc * o * (1 - o);
    }
  }
  return { dG, dcPrev };
}
