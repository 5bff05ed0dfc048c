/**
 * Functions of small dense matrices for the ODE toolkit (ode-solvers.ts): the eigenvalues of a
 * real matrix (complex in general), its spectral radius, the matrix exponential, and the
 * Frobenius norms of a matrix's powers. float64, O(n³) loops: the sizes are state dimensions.
 */
import { WebRnnError } from '../errors.js';
import { checkSquare, identity, linearCombination, matMul, normInf, type Matrix } from './linear-algebra.js';

/** A complex number. */
export interface Complex {
  re: number;
  im: number;
}

/**
 * The eigenvalues of a real square matrix, by the shifted QR algorithm on its Hessenberg form
 * in complex arithmetic (Wilkinson shifts, deflation from the bottom). Conjugate pairs come out
 * as two values; the order is the deflation order. Converges for every matrix in practice; a
 * block that does not converge in 100·n iterations is reported.
 */
export function eigenvalues(a: Matrix): Complex[] {
  const n = checkSquare('eigenvalues', a);
  // The matrix in complex arithmetic, brought to Hessenberg form by Givens rotations.
  const re = Float64Array.from(a.data);
  const im = new Float64Array(n * n);
  const at = (i: number, j: number): number => i * n + j;
  // Rotate rows (p, q) and columns (p, q) by a complex Givens rotation G = [[c, s], [−s̄, c]]
  // (c real), a similarity: A ← G·A·Gᴴ.
  const rotate = (p: number, q: number, c: number, sr: number, si: number, from: number, to: number): void => {
    for (let j = from; j < n; j++) {
      const [xr, xi, yr, yi] = [re[at(p, j)], im[at(p, j)], re[at(q, j)], im[at(q, j)]];
      re[at(p, j)] = c * xr + sr * yr - si * yi;
      im[at(p, j)] = c * xi + sr * yi + si * yr;
      re[at(q, j)] = -sr * xr - si * xi + c * yr;
      im[at(q, j)] = -sr * xi + si * xr + c * yi;
    }
    for (let i = 0; i < Math.min(n, to + 1); i++) {
      const [xr, xi, yr, yi] = [re[at(i, p)], im[at(i, p)], re[at(i, q)], im[at(i, q)]];
      re[at(i, p)] = c * xr + sr * yr + si * yi;
      im[at(i, p)] = c * xi + sr * yi - si * yr;
      re[at(i, q)] = -sr * xr + si * xi + c * yr;
      im[at(i, q)] = -sr * xi - si * xr + c * yi;
    }
  };
  // The rotation that zeroes y in (x, y): c = |x| / r, s = (x/|x|)·ȳ / r.
  const givens = (xr: number, xi: number, yr: number, yi: number): [number, number, number] => {
    const ax = Math.hypot(xr, xi);
    const r = Math.hypot(ax, Math.hypot(yr, yi));
    if (r === 0) return [1, 0, 0];
    if (ax === 0) return [0, yr / r, -yi / r];
    const [ur, ui] = [xr / ax, xi / ax];
    return [ax / r, (ur * yr + ui * yi) / r, (ui * yr - ur * yi) / r];
  };
  // Hessenberg: zero column j below row j + 1.
  for (let j = 0; j < n - 2; j++) {
    for (let i = n - 1; i > j + 1; i--) {
      if (re[at(i, j)] === 0 && im[at(i, j)] === 0) continue;
      const [c, sr, si] = givens(re[at(i - 1, j)], im[at(i - 1, j)], re[at(i, j)], im[at(i, j)]);
      rotate(i - 1, i, c, sr, si, 0, n - 1);
    }
  }
  const out: Complex[] = [];
  const scale = Math.max(normInf(a), Number.MIN_VALUE);
  let hi = n - 1;
  let iterations = 0;
  while (hi >= 0) {
    if (hi === 0) {
      out.push({ re: re[0], im: im[0] });
      break;
    }
    // Deflate where a subdiagonal element is negligible.
    let lo = hi;
    while (lo > 0 && Math.hypot(re[at(lo, lo - 1)], im[at(lo, lo - 1)]) > 1e-15 * (Math.hypot(re[at(lo, lo)], im[at(lo, lo)]) + Math.hypot(re[at(lo - 1, lo - 1)], im[at(lo - 1, lo - 1)]) + 1e-300 * scale)) lo--;
    if (lo === hi) {
      out.push({ re: re[at(hi, hi)], im: im[at(hi, hi)] });
      hi--;
      iterations = 0;
      continue;
    }
    if (++iterations > 100 * n) throw new WebRnnError('invalid-option', `eigenvalues: the QR iteration did not converge (block ${lo} … ${hi})`);
    // Wilkinson shift: the eigenvalue of the trailing 2 × 2 block [[a, b], [c, d]] nearer d,
    // (a + d)/2 ± √(((a − d)/2)² + b·c).
    const a2: Complex = { re: re[at(hi - 1, hi - 1)], im: im[at(hi - 1, hi - 1)] };
    const b2: Complex = { re: re[at(hi - 1, hi)], im: im[at(hi - 1, hi)] };
    const c2: Complex = { re: re[at(hi, hi - 1)], im: im[at(hi, hi - 1)] };
    const d2: Complex = { re: re[at(hi, hi)], im: im[at(hi, hi)] };
    const mean = { re: (a2.re + d2.re) / 2, im: (a2.im + d2.im) / 2 };
    const half = { re: (a2.re - d2.re) / 2, im: (a2.im - d2.im) / 2 };
    const root = csqrt(cadd(cmul(half, half), cmul(b2, c2)));
    const [l1, l2] = [cadd(mean, root), { re: mean.re - root.re, im: mean.im - root.im }];
    let shift = Math.hypot(l1.re - d2.re, l1.im - d2.im) <= Math.hypot(l2.re - d2.re, l2.im - d2.im) ? l1 : l2;
    // An exceptional shift now and then breaks cycles.
    if (iterations % 11 === 10) shift = { re: d2.re + Math.abs(c2.re) + Math.abs(c2.im), im: d2.im };
    const [mu, muI] = [shift.re, shift.im];
    // One QR step on the active block: A − μI = QR, A ← RQ + μI, by Givens rotations.
    for (let k = lo; k <= hi; k++) {
      re[at(k, k)] -= mu;
      im[at(k, k)] -= muI;
    }
    const rotations: Array<[number, number, number]> = [];
    for (let k = lo; k < hi; k++) {
      const g = givens(re[at(k, k)], im[at(k, k)], re[at(k + 1, k)], im[at(k + 1, k)]);
      rotations.push(g);
      // Rows only: R = Gᴴ·…·(A − μI).
      const [c, gr, gi] = g;
      for (let j = k; j <= hi; j++) {
        const [xr, xi, yr, yi] = [re[at(k, j)], im[at(k, j)], re[at(k + 1, j)], im[at(k + 1, j)]];
        re[at(k, j)] = c * xr + gr * yr - gi * yi;
        im[at(k, j)] = c * xi + gr * yi + gi * yr;
        re[at(k + 1, j)] = -gr * xr - gi * xi + c * yr;
        im[at(k + 1, j)] = -gr * xi + gi * xr + c * yi;
      }
    }
    rotations.forEach(([c, gr, gi], idx) => {
      const k = lo + idx;
      // Columns: R·Q, with Q = G₁ᴴ·G₂ᴴ·…
      for (let i = lo; i <= Math.min(hi, k + 2); i++) {
        const [xr, xi, yr, yi] = [re[at(i, k)], im[at(i, k)], re[at(i, k + 1)], im[at(i, k + 1)]];
        re[at(i, k)] = c * xr + gr * yr + gi * yi;
        im[at(i, k)] = c * xi + gr * yi - gi * yr;
        re[at(i, k + 1)] = -gr * xr + gi * xi + c * yr;
        im[at(i, k + 1)] = -gr * xi - gi * xr + c * yi;
      }
    });
    for (let k = lo; k <= hi; k++) {
      re[at(k, k)] += mu;
      im[at(k, k)] += muI;
    }
  }
  return out;
}

/** The spectral radius ρ(A) = max |λ| over A's eigenvalues. */
export function spectralRadius(a: Matrix): number {
  return eigenvalues(a).reduce((m, z) => Math.max(m, Math.hypot(z.re, z.im)), 0);
}

/**
 * e^A by scaling and squaring: A/2^s with ‖A/2^s‖_∞ ≤ 1/2, its Taylor series to 20 terms
 * (truncation below 1e-25 relative there), then squared s times.
 */
export function matrixExponential(a: Matrix): Matrix {
  const n = checkSquare('matrixExponential', a);
  const norm = normInf(a);
  if (!Number.isFinite(norm)) throw new WebRnnError('invalid-option', 'matrixExponential: the matrix has non-finite entries');
  const s = norm > 0.5 ? Math.ceil(Math.log2(norm / 0.5)) : 0;
  const scaled = linearCombination(2 ** -s, a, 0, a);
  let term = identity(n);
  let sum = identity(n);
  for (let k = 1; k <= 20; k++) {
    term = linearCombination(1 / k, matMul(term, scaled), 0, term);
    sum = linearCombination(1, sum, 1, term);
  }
  for (let i = 0; i < s; i++) sum = matMul(sum, sum);
  return sum;
}

/** ‖M^k‖_F for k = 0 … count − 1 (M^0 = I, norm √n): how a linear recurrence amplifies over k steps. */
export function powerNorms(m: Matrix, count: number): Float64Array {
  const n = checkSquare('powerNorms', m);
  const out = new Float64Array(count);
  let p = identity(n);
  for (let k = 0; k < count; k++) {
    out[k] = Math.hypot(...p.data);
    p = matMul(p, m);
  }
  return out;
}

const cadd = (a: Complex, b: Complex): Complex => ({ re: a.re + b.re, im: a.im + b.im });
const cmul = (a: Complex, b: Complex): Complex => ({ re: a.re * b.re - a.im * b.im, im: a.re * b.im + a.im * b.re });

/** The principal square root (non-negative real part). */
function csqrt(z: Complex): Complex {
  const m = Math.hypot(z.re, z.im);
  const re = Math.sqrt((m + z.re) / 2);
  const im = Math.sqrt(Math.max(0, (m - z.re) / 2));
  return { re, im: z.im < 0 ? -im : im };
}
