/** rows·Wᵀ + b for rows [R, F], W [O, F], b [O]. */
export function linearReference(rows: ArrayLike<number>, R: number, F: number, w: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const O = b.length;
  const y = new Float64Array(R * O);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < O; o++) {
      let acc = b[o];
      for (let f = 0; f < F; f++) acc += rows[r * F + f] * w[o * F + f];
      y[r * O + o] = acc;
    }
  }
  return y;
}
