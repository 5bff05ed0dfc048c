/**
 * Small dense float64 linear algebra for the analysis toolkit (Kalman filter, RTS smoother,
 * VARMA conversion). Sizes here are state and output dimensions (a few to a few dozen), so
 * plain O(n³) loops are the right tool; nothing here touches the GPU.
 *
 * Representation: a {@link Matrix} is `{ rows, cols, data }` with `data` row-major,
 * element (i, j) at `data[i·cols + j]` (the same layout as PyTorch's contiguous tensors and
 * webrnn's weights). Vectors are plain `Float64Array`s (or any `ArrayLike<number>` on input).
 * Every function returns a new matrix and leaves its arguments untouched.
 */
import { ShapeError, WebRnnError } from '../errors.js';

/** A dense row-major float64 matrix: element (i, j) is `data[i·cols + j]`; `data.length = rows·cols`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/**
 * A `rows × cols` matrix. `data` (row-major, length rows·cols) is copied; without it the
 * matrix is zero.
 */
export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new WebRnnError('invalid-option', `matrix: rows and cols must be non-negative integers, got ${rows} × ${cols}`);
  }
  const out = new Float64Array(rows * cols);
  if (data !== undefined) {
    if (data.length !== rows * cols) throw new ShapeError('matrix data', [rows, cols], [data.length]);
    out.set(data);
  }
  return { rows, cols, data: out };
}

/** A matrix from an array of equal-length rows: `matrixFromRows([[1, 2], [3, 4]])` is 2 × 2. */
export function matrixFromRows(rows: ReadonlyArray<ArrayLike<number>>): Matrix {
  const r = rows.length;
  const c = r === 0 ? 0 : rows[0].length;
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    if (rows[i].length !== c) throw new ShapeError(`matrix row ${i}`, [c], [rows[i].length], 'rows must have equal length');
    for (let j = 0; j < c; j++) out[i * c + j] = rows[i][j];
  }
  return { rows: r, cols: c, data: out };
}

/** The rows of `a` as `number[][]` (for printing and tests). */
export function matrixToRows(a: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.rows; i++) out.push(Array.from(a.data.subarray(i * a.cols, (i + 1) * a.cols)));
  return out;
}

/** The n × n identity. */
export function identity(n: number): Matrix {
  const out = matrix(n, n);
  for (let i = 0; i < n; i++) out.data[i * n + i] = 1;
  return out;
}

/** A column vector (n × 1) holding `v`. */
export function columnVector(v: ArrayLike<number>): Matrix {
  return matrix(v.length, 1, v);
}

/** Throws a ShapeError unless `a` is `rows × cols`. */
export function checkShape(name: string, a: Matrix, rows: number, cols: number): void {
  if (a.rows !== rows || a.cols !== cols || a.data.length !== rows * cols) {
    throw new ShapeError(name, [rows, cols], [a.rows, a.cols]);
  }
}

/** Throws a ShapeError unless `a` is square; returns its size. */
export function checkSquare(name: string, a: Matrix): number {
  if (a.rows !== a.cols || a.data.length !== a.rows * a.cols) {
    throw new ShapeError(name, [a.rows, a.rows], [a.rows, a.cols], 'a square matrix is needed');
  }
  return a.rows;
}

/** Aᵀ: [cols, rows]. */
export function transpose(a: Matrix): Matrix {
  const out = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j];
  return out;
}

/** A·B: [a.rows, a.cols] · [a.cols, b.cols] → [a.rows, b.cols]. */
export function matMul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new ShapeError('matMul right operand', [a.cols, b.cols], [b.rows, b.cols]);
  const out = matrix(a.rows, b.cols);
  const n = b.cols;
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out.data[i * n + j] += aik * b.data[k * n + j];
    }
  }
  return out;
}

/** A·Bᵀ: [r, k] · [c, k]ᵀ → [r, c] (the form of A·P·Aᵀ and C·P·Cᵀ products). */
export function matMulTransposed(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols) throw new ShapeError('matMulTransposed right operand', [b.rows, a.cols], [b.rows, b.cols]);
  const out = matrix(a.rows, b.rows);
  const k = a.cols;
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.rows; j++) {
      let acc = 0;
      for (let l = 0; l < k; l++) acc += a.data[i * k + l] * b.data[j * k + l];
      out.data[i * b.rows + j] = acc;
    }
  }
  return out;
}

/** A·x: [r, c] · [c] → [r]. */
export function matVec(a: Matrix, x: ArrayLike<number>): Float64Array {
  if (x.length !== a.cols) throw new ShapeError('matVec vector', [a.cols], [x.length]);
  const out = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    let acc = 0;
    for (let j = 0; j < a.cols; j++) acc += a.data[i * a.cols + j] * x[j];
    out[i] = acc;
  }
  return out;
}

/** α·A + β·B, elementwise (same shape). */
export function linearCombination(alpha: number, a: Matrix, beta: number, b: Matrix): Matrix {
  checkShape('linearCombination right operand', b, a.rows, a.cols);
  const out = matrix(a.rows, a.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = alpha * a.data[i] + beta * b.data[i];
  return out;
}

/** A + B. */
export function add(a: Matrix, b: Matrix): Matrix {
  return linearCombination(1, a, 1, b);
}

/** A − B. */
export function subtract(a: Matrix, b: Matrix): Matrix {
  return linearCombination(1, a, -1, b);
}

/** (A + Aᵀ)/2: removes the rounding asymmetry a covariance update leaves behind. */
export function symmetrize(a: Matrix): Matrix {
  const n = checkSquare('symmetrize', a);
  const out = matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) out.data[i * n + j] = 0.5 * (a.data[i * n + j] + a.data[j * n + i]);
  }
  return out;
}

/** max |a_ij| (0 for an empty matrix). */
export function maxAbs(a: Matrix): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]));
  return m;
}

/**
 * Cholesky factor of a symmetric positive definite A: the lower-triangular L with L·Lᵀ = A
 * and L_jj > 0 (only the lower triangle of A is read). Throws a WebRnnError 'invalid-option'
 * naming `what` when a pivot d_j = a_jj − Σ_{k<j} L_jk² is not positive (A not positive
 * definite, to rounding).
 */
export function cholesky(a: Matrix, what = 'matrix'): Matrix {
  const n = checkSquare(what, a);
  const L = matrix(n, n);
  const l = L.data;
  for (let j = 0; j < n; j++) {
    let d = a.data[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) {
      throw new WebRnnError('invalid-option', `${what} is not positive definite (Cholesky pivot ${j} is ${d})`);
    }
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a.data[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return L;
}

/**
 * A lower-triangular L with L·Lᵀ = A for a symmetric positive *semi*definite A (a Cholesky
 * factor that tolerates zero pivots, e.g. a noise covariance with a deterministic component).
 * A pivot within n·1e-14·max|a_ii| of zero gives a zero column. Throws a WebRnnError
 * 'invalid-option' when a pivot is clearly negative (A not positive semidefinite).
 * Used to draw correlated Gaussian noise: L·z with z ~ N(0, I) has covariance L·Lᵀ = A.
 */
export function psdFactor(a: Matrix, what = 'matrix'): Matrix {
  const n = checkSquare(what, a);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(a.data[i * n + i]));
  const tol = Math.max(n, 1) * 1e-14 * scale;
  const L = matrix(n, n);
  const l = L.data;
  for (let j = 0; j < n; j++) {
    let d = a.data[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (d < -tol || Number.isNaN(d)) {
      throw new WebRnnError('invalid-option', `${what} is not positive semidefinite (pivot ${j} is ${d})`);
    }
    if (d <= tol) continue; // zero column: this direction carries no variance
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a.data[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return L;
}

/**
 * Solves A·X = B given the Cholesky factor L of A (A = L·Lᵀ): forward substitution L·Z = B,
 * then back substitution Lᵀ·X = Z. L [n, n], B [n, k] → X [n, k].
 */
export function choleskySolve(L: Matrix, b: Matrix): Matrix {
  const n = checkSquare('Cholesky factor', L);
  if (b.rows !== n) throw new ShapeError('choleskySolve right-hand side', [n, b.cols], [b.rows, b.cols]);
  const k = b.cols;
  const x = matrix(n, k, b.data);
  const l = L.data;
  const xd = x.data;
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      let s = xd[i * k + c];
      for (let j = 0; j < i; j++) s -= l[i * n + j] * xd[j * k + c];
      xd[i * k + c] = s / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = xd[i * k + c];
      for (let j = i + 1; j < n; j++) s -= l[j * n + i] * xd[j * k + c];
      xd[i * k + c] = s / l[i * n + i];
    }
  }
  return x;
}

/** log det A = 2·Σ log L_ii from the Cholesky factor L of A. */
export function choleskyLogDet(L: Matrix): number {
  const n = checkSquare('Cholesky factor', L);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log(L.data[i * n + i]);
  return 2 * s;
}

/** An LU factorisation with partial pivoting: P·A = L·U packed into `lu`, row `perm[i]` of A is row i of P·A. */
export interface LuFactors {
  /** L (unit diagonal, below) and U (on and above the diagonal) packed into one n × n matrix. */
  readonly lu: Matrix;
  /** perm[i] = the row of A that became row i. */
  readonly perm: Int32Array;
  /** True when some pivot was exactly zero (A singular). */
  readonly singular: boolean;
}

/** LU factorisation with partial pivoting (Doolittle, row swaps): P·A = L·U. */
export function luFactor(a: Matrix, what = 'matrix'): LuFactors {
  const n = checkSquare(what, a);
  const lu = matrix(n, n, a.data);
  const d = lu.data;
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let singular = false;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(d[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(d[i * n + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = d[k * n + j];
        d[k * n + j] = d[p * n + j];
        d[p * n + j] = t;
      }
      const t = perm[k];
      perm[k] = perm[p];
      perm[p] = t;
    }
    const pivot = d[k * n + k];
    if (pivot === 0 || !Number.isFinite(pivot)) {
      singular = true;
      continue;
    }
    for (let i = k + 1; i < n; i++) {
      const f = (d[i * n + k] /= pivot);
      if (f === 0) continue;
      for (let j = k + 1; j < n; j++) d[i * n + j] -= f * d[k * n + j];
    }
  }
  return { lu, perm, singular };
}

/** Solves A·X = B from A's LU factors: B [n, k] → X [n, k]. Throws 'invalid-option' if A is singular. */
export function luSolve(f: LuFactors, b: Matrix, what = 'matrix'): Matrix {
  const n = f.lu.rows;
  if (f.singular) throw new WebRnnError('invalid-option', `${what} is singular`);
  if (b.rows !== n) throw new ShapeError(`${what}: right-hand side`, [n, b.cols], [b.rows, b.cols]);
  const k = b.cols;
  const d = f.lu.data;
  const x = matrix(n, k);
  const xd = x.data;
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) xd[i * k + c] = b.data[f.perm[i] * k + c];
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      let s = xd[i * k + c];
      for (let j = 0; j < i; j++) s -= d[i * n + j] * xd[j * k + c];
      xd[i * k + c] = s;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = xd[i * k + c];
      for (let j = i + 1; j < n; j++) s -= d[i * n + j] * xd[j * k + c];
      xd[i * k + c] = s / d[i * n + i];
    }
  }
  return x;
}

/** Solves A·X = B (LU with partial pivoting). Throws a WebRnnError 'invalid-option' naming `what` if A is singular. */
export function solve(a: Matrix, b: Matrix, what = 'matrix'): Matrix {
  return luSolve(luFactor(a, what), b, what);
}

/** A⁻¹ (LU with partial pivoting). Throws a WebRnnError 'invalid-option' naming `what` if A is singular. */
export function inverse(a: Matrix, what = 'matrix'): Matrix {
  return solve(a, identity(checkSquare(what, a)), what);
}

/** ‖A‖∞ = max_i Σ_j |a_ij| (maximum absolute row sum). */
export function normInf(a: Matrix): number {
  let m = 0;
  for (let i = 0; i < a.rows; i++) {
    let s = 0;
    for (let j = 0; j < a.cols; j++) s += Math.abs(a.data[i * a.cols + j]);
    m = Math.max(m, s);
  }
  return m;
}

/**
 * κ∞(A) = ‖A‖∞·‖A⁻¹‖∞, the condition number in the ∞-norm (computed from the explicit
 * inverse: fine at these sizes). `Infinity` when A is exactly singular or the inverse
 * overflows.
 */
export function conditionNumber(a: Matrix): number {
  const f = luFactor(a);
  if (f.singular) return Infinity;
  const inv = luSolve(f, identity(a.rows));
  const c = normInf(a) * normInf(inv);
  return Number.isFinite(c) ? c : Infinity;
}

/**
 * Whether every eigenvalue of A lies strictly inside the unit circle, by repeated squaring:
 * ‖A^k‖ < 1 for some k implies ρ(A) < 1, and ρ(A) < 1 implies ‖A^(2^j)‖ → 0. A transient growth
 * that overflows float64 before it decays counts as unstable.
 */
export function isStableMatrix(A: Matrix): boolean {
  let M = A;
  for (let j = 0; j < 64; j++) {
    const norm = normInf(M);
    if (!Number.isFinite(norm)) return false;
    if (norm < 1) return true;
    M = matMul(M, M);
  }
  return false;
}

/**
 * The stationary covariance Σ = Σ_k A^k·Q·(A^k)ᵀ (the solution of Σ = A·Σ·Aᵀ + Q) of a stable A,
 * by doubling: Σ ← Σ + M·Σ·Mᵀ, M ← M², which after j rounds sums the first 2^j terms.
 */
export function stationaryCovariance(A: Matrix, Q: Matrix): Matrix {
  let sigma = Q;
  let M = A;
  for (let j = 0; j < 64; j++) {
    sigma = add(sigma, matMulTransposed(matMul(M, sigma), M));
    M = matMul(M, M);
    if (normInf(M) < 1e-17) break;
  }
  return sigma;
}
