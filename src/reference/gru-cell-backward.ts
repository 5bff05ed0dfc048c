/**
 * float64 reference of one GRU backward step for one direction, PyTorch's reset-after form.
 * `saved` holds slot by slot ([B, H] each): r, z, n, hn = h_{t−1}·W_hnᵀ + b_hn, h_{t−1};
 * `dh` is the whole gradient reaching h_t. Returns dG [B, 3H], the gradients of the input-side
 * pre-activations (blocks r, z, n: what X·W_ihᵀ + b_ih feeds), dGrec [B, 3H], those of the
 * recurrent side (what h_{t−1}·W_hhᵀ + b_hh feeds; block n is scaled by r), and `direct`,
 * the gradient z·dh that reaches h_{t−1} without passing through W_hh.
 */
export function gruCellBackwardReference(s: { batch: number; hidden: number; saved: ArrayLike<number>[]; dh: ArrayLike<number> }): {
  dG: Float64Array;
  dGrec: Float64Array;
  direct: Float64Array;
} {
  const { batch: B, hidden: H } = s;
  const dG = new Float64Array(B * 3 * H);
  const dGrec = new Float64Array(B * 3 * H);
  const direct = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const u = b * H + j;
      const [r, z, n, hn, hPrev] = s.saved.map((slot) => slot[u]);
      const dh = s.dh[u];
      direct[u] = dh * z;
      const dan = dh * (1 - z) * (1 - n * n);
      const daz = dh * (hPrev - n) * z * (1 - z);
      const dar = dan * hn * r * (1 - r);
      const base = b * 3 * H + j;
      dG[base] = dar;
      dG[base + H] = daz;
      dG[base + 2 * H] = dan;
      dGrec[base] = dar;
      dGrec[base + H] = daz;
      dGrec[base + 2 * H] = dan * r;
    }
  }
  return { dG, dGrec, direct };
}
