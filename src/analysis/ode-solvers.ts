/**
 * ODE solvers and the propagation of their errors, in float64: explicit Euler, classical
 * Runge-Kutta 4 and implicit Euler for x' = f(x, u), the input held over each step. For the
 * linear system x' = A·x + B·u, one step of each method is x_{n+1} = R(hA)·x_n + (input terms)
 * with the amplification matrix
 *   explicit Euler   R(hA) = I + hA
 *   RK4              R(hA) = I + hA + (hA)²/2 + (hA)³/6 + (hA)⁴/24
 *   implicit Euler   R(hA) = (I − hA)⁻¹
 * so an error made at step k reaches step n multiplied by R(hA)^(n−k): it decays where the
 * spectral radius of R(hA) is below 1 (each hλ inside the method's stability region
 * |R(z)| ≤ 1) and grows like ρ^(n−k) outside it. That is the recurrence of backpropagation
 * through time: the identity-cell RNN with W_hh = I + hA and W_ih = hB is explicit Euler, and
 * its Jacobian ∂h_t/∂h_k = (I + hA)^(t−k) (eulerRnnWeights; jacobianNorms measures it on the
 * engine).
 */
import { WebRnnError } from '../errors.js';
import { checkShape, checkSquare, identity, linearCombination, matMul, matrix, matVec, solve, type Matrix } from './linear-algebra.js';
import { matrixExponential, type Complex } from './matrix-functions.js';

/** A one-step method. */
export type OdeMethod = 'euler' | 'rk4' | 'implicit-euler';

const METHODS: readonly OdeMethod[] = ['euler', 'rk4', 'implicit-euler'];

function checkMethod(what: string, method: unknown): OdeMethod {
  if (!METHODS.includes(method as OdeMethod)) throw new WebRnnError('invalid-option', `${what}: method must be ${METHODS.map((m) => `'${m}'`).join(', ')}, got ${String(method)}`);
  return method as OdeMethod;
}

function checkStep(what: string, h: unknown): number {
  if (typeof h !== 'number' || !Number.isFinite(h) || h <= 0) throw new WebRnnError('invalid-option', `${what}: the step h must be a positive finite number, got ${String(h)}`);
  return h;
}

function checkCount(what: string, name: string, n: unknown): number {
  if (!Number.isInteger(n) || (n as number) < 0) throw new WebRnnError('invalid-option', `${what}: ${name} must be a non-negative integer, got ${String(n)}`);
  return n as number;
}

/** The right-hand side f(x, u) of x' = f(x, u): the state's derivative [n] from the state [n] and the input (empty without one). */
export type OdeRhs = (x: Float64Array, u: Float64Array) => ArrayLike<number>;

/** Options of {@link solveOde}. */
export interface SolveOdeOptions {
  method: OdeMethod;
  /** The step h > 0. */
  h: number;
  /** Steps to take. */
  steps: number;
  /** The input during step k (held over the step), or none: an empty input. */
  input?: (k: number) => ArrayLike<number>;
}

/**
 * x_0 … x_steps [steps + 1, n] of x' = f(x, u) from x0 with step h. Implicit Euler solves
 * x_{k+1} = x_k + h·f(x_{k+1}, u_k) by Newton's method with a central-difference Jacobian (to
 * 1e-13 relative, at most 50 iterations; it says so where that fails).
 */
export function solveOde(f: OdeRhs, x0: ArrayLike<number>, options: SolveOdeOptions): Float64Array {
  const what = 'solveOde';
  const method = checkMethod(what, options.method);
  const h = checkStep(what, options.h);
  const steps = checkCount(what, 'steps', options.steps);
  const n = x0.length;
  const out = new Float64Array((steps + 1) * n);
  out.set(x0);
  const rhs = (x: Float64Array, u: Float64Array): Float64Array => {
    const d = Float64Array.from(f(x, u));
    if (d.length !== n) throw new WebRnnError('invalid-option', `${what}: f returned ${d.length} values for a state of ${n}`);
    return d;
  };
  const axpy = (x: Float64Array, a: number, d: Float64Array): Float64Array => x.map((v, i) => v + a * d[i]);
  for (let k = 0; k < steps; k++) {
    const x = out.slice(k * n, (k + 1) * n);
    const u = Float64Array.from(options.input ? options.input(k) : []);
    let next: Float64Array;
    if (method === 'euler') next = axpy(x, h, rhs(x, u));
    else if (method === 'rk4') {
      const k1 = rhs(x, u);
      const k2 = rhs(axpy(x, h / 2, k1), u);
      const k3 = rhs(axpy(x, h / 2, k2), u);
      const k4 = rhs(axpy(x, h, k3), u);
      next = x.map((v, i) => v + (h / 6) * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]));
    } else next = implicitEulerStep(rhs, x, u, h, k);
    out.set(next, (k + 1) * n);
  }
  return out;
}

/** y with y − x − h·f(y, u) = 0, by Newton's method from the explicit Euler step. */
function implicitEulerStep(rhs: (x: Float64Array, u: Float64Array) => Float64Array, x: Float64Array, u: Float64Array, h: number, k: number): Float64Array {
  const n = x.length;
  const f0 = rhs(x, u);
  let y = x.map((v, i) => v + h * f0[i]);
  for (let it = 0; it < 50; it++) {
    const fy = rhs(y, u);
    const g = y.map((v, i) => v - x[i] - h * fy[i]);
    // J = I − h·∂f/∂y, by central differences.
    const J = identity(n);
    for (let j = 0; j < n; j++) {
      const e = 1e-6 * Math.max(1, Math.abs(y[j]));
      const plus = Float64Array.from(y);
      const minus = Float64Array.from(y);
      plus[j] += e;
      minus[j] -= e;
      const [fp, fm] = [rhs(plus, u), rhs(minus, u)];
      for (let i = 0; i < n; i++) J.data[i * n + j] -= (h * (fp[i] - fm[i])) / (2 * e);
    }
    const delta = solve(J, matrix(n, 1, g), 'implicit Euler Newton matrix').data;
    y = y.map((v, i) => v - delta[i]);
    const size = Math.max(...y.map(Math.abs), 1);
    if (Math.max(...delta.map(Math.abs)) <= 1e-13 * size) return y;
  }
  throw new WebRnnError('invalid-option', `solveOde: implicit Euler's Newton iteration did not converge at step ${k}`);
}

/** The amplification matrix R(hA) of one step of `method` on x' = A·x (see the top of this file). */
export function amplificationMatrix(A: Matrix, h: number, method: OdeMethod): Matrix {
  const what = 'amplificationMatrix';
  const n = checkSquare(`${what}: A`, A);
  checkMethod(what, method);
  checkStep(what, h);
  const hA = linearCombination(h, A, 0, A);
  if (method === 'implicit-euler') return solve(linearCombination(1, identity(n), -1, hA), identity(n), 'I − hA');
  if (method === 'euler') return linearCombination(1, identity(n), 1, hA);
  // I + hA(I + hA/2(I + hA/3(I + hA/4))), Horner's form of the degree-4 Taylor polynomial.
  let p = identity(n);
  for (const k of [4, 3, 2, 1]) p = linearCombination(1, identity(n), 1 / k, matMul(hA, p));
  return p;
}

/** The method's stability function R(z) at a complex z = hλ (the scalar amplification factor). */
export function stabilityFunction(method: OdeMethod, z: Complex): Complex {
  checkMethod('stabilityFunction', method);
  const mul = (a: Complex, b: Complex): Complex => ({ re: a.re * b.re - a.im * b.im, im: a.re * b.im + a.im * b.re });
  if (method === 'euler') return { re: 1 + z.re, im: z.im };
  if (method === 'implicit-euler') {
    // 1 / (1 − z)
    const d = (1 - z.re) ** 2 + z.im ** 2;
    return { re: (1 - z.re) / d, im: z.im / d };
  }
  let p: Complex = { re: 1, im: 0 };
  for (const k of [4, 3, 2, 1]) {
    const q = mul(z, p);
    p = { re: 1 + q.re / k, im: q.im / k };
  }
  return p;
}

/** Whether z = hλ lies in the method's stability region |R(z)| ≤ 1. */
export function inStabilityRegion(method: OdeMethod, z: Complex): boolean {
  const r = stabilityFunction(method, z);
  return Math.hypot(r.re, r.im) <= 1;
}

/**
 * Points of the stability region's boundary |R(z)| = 1, for plotting: along `rays` rays from
 * the origin at angles 2πj/rays, the first crossing of |R| = 1 (bisection to 1e-12) within
 * radius `maxRadius`; a ray that stays inside (implicit Euler's left half-plane) gives none.
 */
export function stabilityBoundary(method: OdeMethod, rays = 360, maxRadius = 6): Complex[] {
  checkMethod('stabilityBoundary', method);
  const out: Complex[] = [];
  const size = (r: number, a: number): number => {
    const R = stabilityFunction(method, { re: r * Math.cos(a), im: r * Math.sin(a) });
    return Math.hypot(R.re, R.im);
  };
  for (let j = 0; j < rays; j++) {
    const a = (2 * Math.PI * j) / rays;
    // Near the origin |R| − 1 has the sign of Re z for every method here (R(z) = 1 + z + …).
    const sameSide = (r: number): boolean => (size(r, a) <= 1) === size(1e-9, a) <= 1;
    let [lo, hi] = [1e-9, 0];
    for (let r = 0.01; r <= maxRadius; r += 0.01) {
      if (!sameSide(r)) {
        hi = r;
        break;
      }
      lo = r;
    }
    if (hi === 0) continue;
    while (hi - lo > 1e-12) {
      const mid = (lo + hi) / 2;
      if (sameSide(mid)) lo = mid;
      else hi = mid;
    }
    const r = (lo + hi) / 2;
    out.push({ re: r * Math.cos(a), im: r * Math.sin(a) });
  }
  return out;
}

/**
 * The exact solution of x' = A·x + B·u at t = k·h with u held over each step: x_{k+1} = Φ·x_k +
 * Γ·u_k, Φ = e^{hA}, Γ = ∫_0^h e^{sA} ds·B, both from one exponential of [[A, B], [0, 0]]·h
 * (Van Loan). [steps + 1, n].
 */
export function exactLinearSolution(A: Matrix, x0: ArrayLike<number>, h: number, steps: number, B?: Matrix, input?: (k: number) => ArrayLike<number>): Float64Array {
  const what = 'exactLinearSolution';
  const n = checkSquare(`${what}: A`, A);
  checkStep(what, h);
  checkCount(what, 'steps', steps);
  const m = B ? B.cols : 0;
  if (B) checkShape(`${what}: B`, B, n, m);
  const big = matrix(n + m, n + m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) big.data[i * (n + m) + j] = h * A.data[i * n + j];
    for (let j = 0; j < m; j++) big.data[i * (n + m) + n + j] = h * B!.data[i * m + j];
  }
  const E = matrixExponential(big);
  const out = new Float64Array((steps + 1) * n);
  out.set(x0);
  for (let k = 0; k < steps; k++) {
    const x = out.subarray(k * n, (k + 1) * n);
    const u = input ? input(k) : new Float64Array(m);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += E.data[i * (n + m) + j] * x[j];
      for (let j = 0; j < m; j++) acc += E.data[i * (n + m) + n + j] * u[j];
      out[(k + 1) * n + i] = acc;
    }
  }
  return out;
}

/** ‖x_k − x(t_k)‖₂ for k = 0 … steps: the global error of `method` on x' = A·x + B·u against the exact solution. */
export function globalError(A: Matrix, x0: ArrayLike<number>, options: SolveOdeOptions & { B?: Matrix }): Float64Array {
  const n = checkSquare('globalError: A', A);
  const { B, input } = options;
  const f: OdeRhs = (x, u) => {
    const d = matVec(A, x);
    if (B) matVec(B, u).forEach((v, i) => (d[i] += v));
    return d;
  };
  const approx = solveOde(f, x0, options);
  const exact = exactLinearSolution(A, x0, options.h, options.steps, B, input);
  return Float64Array.from({ length: options.steps + 1 }, (_, k) => Math.hypot(...Array.from({ length: n }, (_, i) => approx[k * n + i] - exact[k * n + i])));
}

/**
 * The weights of the identity-cell (linear) RNN that is explicit Euler for x' = A·x + B·u:
 * h_t = W_hh·h_{t−1} + W_ih·u_t with W_hh = I + hA [n, n] and W_ih = hB [n, m], in PyTorch's
 * names for a one-layer `engine.rnn({ inputSize: m, hiddenSize: n, nonlinearity: 'identity',
 * bias: false })`. From h0 = x_0, its output at step t is x_{t+1}: Euler's step from x_t, both
 * reading u_t.
 */
export function eulerRnnWeights(A: Matrix, B: Matrix, h: number): { weight_ih_l0: Float32Array; weight_hh_l0: Float32Array } {
  const n = checkSquare('eulerRnnWeights: A', A);
  checkShape('eulerRnnWeights: B', B, n, B.cols);
  checkStep('eulerRnnWeights', h);
  return { weight_ih_l0: Float32Array.from(B.data, (v) => h * v), weight_hh_l0: Float32Array.from(amplificationMatrix(A, h, 'euler').data) };
}

/**
 * The continuous-time RNN x' = −x + tanh(W_hh·x + W_ih·u + b): its explicit Euler step with
 * h = 1 is the tanh Elman cell x_{n+1} = tanh(W_hh·x_n + W_ih·u_n + b), and the Jacobian of that
 * step, I + h·∂f/∂x = diag(1 − x_{n+1}²)·W_hh, is the cell's BPTT Jacobian. W_hh [n, n] and W_ih
 * [n, m] row-major (PyTorch's weight_hh_l0, weight_ih_l0), b [n] (b_ih + b_hh) or none.
 */
export function ctrnnRhs(whh: ArrayLike<number>, wih: ArrayLike<number>, b?: ArrayLike<number>): OdeRhs {
  const n = Math.round(Math.sqrt(whh.length));
  if (n * n !== whh.length) throw new WebRnnError('invalid-option', `ctrnnRhs: W_hh must be square, got ${whh.length} elements`);
  return (x, u) => {
    const pre = matVec(matrix(n, n, whh), x);
    const m = u.length;
    if (wih.length !== n * m) throw new WebRnnError('invalid-option', `ctrnnRhs: W_ih holds ${wih.length} elements, [${n}, ${m}] expected for an input of ${m}`);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) pre[i] += wih[i * m + j] * u[j];
      if (b) pre[i] += b[i];
    }
    return pre.map((v, i) => Math.tanh(v) - x[i]);
  };
}

/** Result of {@link linearisedAmplification}: the layout of jacobianNorms' result. */
export interface LinearisedAmplification {
  /** [T, T], element t·T + k: ‖∂x_{t+1}/∂x_{k+1}‖_F for k < t (NaN elsewhere): how the solver carries a perturbation of step k's result to step t's. */
  norms: Float64Array;
  /** [T]: ‖∂x_{t+1}/∂x_0‖_F. */
  initial: Float64Array;
}

/**
 * The solver's linearised error amplification along its own trajectory from x0: the Jacobian
 * M_k = ∂x_{k+1}/∂x_k of each step (central differences of the step map, to about 1e-9) and the
 * norms of their products. For the tanh cell's ODE (ctrnnRhs) with Euler and h = 1 these are
 * the model's jacobianNorms; for x' = A·x, ‖R(hA)^(t−k)‖_F.
 */
export function linearisedAmplification(f: OdeRhs, x0: ArrayLike<number>, options: SolveOdeOptions): LinearisedAmplification {
  const T = options.steps;
  const n = x0.length;
  const traj = solveOde(f, x0, options);
  // The step map from x at step k.
  const step = (x: Float64Array, k: number): Float64Array => solveOde(f, x, { ...options, steps: 1, input: options.input ? () => options.input!(k) : undefined }).subarray(n);
  const jac: Matrix[] = [];
  for (let k = 0; k < T; k++) {
    const x = traj.subarray(k * n, (k + 1) * n);
    const J = matrix(n, n);
    for (let j = 0; j < n; j++) {
      const e = 1e-5 * Math.max(1, Math.abs(x[j]));
      const plus = Float64Array.from(x);
      const minus = Float64Array.from(x);
      plus[j] += e;
      minus[j] -= e;
      const [p, m] = [step(plus, k), step(minus, k)];
      for (let i = 0; i < n; i++) J.data[i * n + j] = (p[i] - m[i]) / (2 * e);
    }
    jac.push(J);
  }
  const norms = new Float64Array(T * T).fill(NaN);
  const initial = new Float64Array(T);
  const frobenius = (M: Matrix): number => Math.hypot(...M.data);
  for (let k = -1; k < T - 1; k++) {
    // ∂x_{t+1}/∂x_{k+1} = M_t·…·M_{k+1}.
    let P = identity(n);
    for (let t = k + 1; t < T; t++) {
      P = matMul(jac[t], P);
      if (k < 0) initial[t] = frobenius(P);
      else norms[t * T + k] = frobenius(P);
    }
  }
  return { norms, initial };
}
