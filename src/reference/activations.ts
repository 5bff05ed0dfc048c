/** float64 logistic sigmoid shared by the cell references. */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
