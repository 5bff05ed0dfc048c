/**
 * Small facts about recurrences, in float64, to check intuitions against:
 *
 * - how the state of a relu recurrence with a constant input grows with the recurrent gain s
 *   ({@link reluNormTrajectory}): bounded for s < 1, linear for s = 1, exponential for s > 1;
 * - how the gradient of a gated recurrence splits into additive paths
 *   ({@link gradientPathCount}, {@link expandedJacobianProduct}): a product of T step Jacobians
 *   that are each a sum of 1 + g_t terms expands into Π_t (1 + g_t) products, 2^T with every
 *   gate open.
 */
import { WebRnnError } from '../errors.js';

function invalid(message: string): WebRnnError {
  return new WebRnnError('invalid-option', message);
}

function finite(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${name} must be a finite number, got ${String(v)}`);
  return v;
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { length?: unknown }).length === 'number';
}

/** A finite scalar or an array of finite numbers, as a Float64Array (a scalar as length 1, marked). */
function vectorOrScalar(name: string, v: unknown): { values: Float64Array; scalar: boolean } {
  if (typeof v === 'number') return { values: Float64Array.of(finite(name, v)), scalar: true };
  if (!isArrayLike(v) || v.length < 1) throw invalid(`${name} must be a finite number or a non-empty array of them`);
  const values = new Float64Array(v.length);
  for (let k = 0; k < v.length; k++) values[k] = finite(`${name}[${k}]`, v[k]);
  return { values, scalar: false };
}

// ---------------------------------------------------------------------------------------------
// relu recurrence with a constant input.

/** Options of {@link reluNormTrajectory}. */
export interface ReluTrajectoryOptions {
  /** Steps T ≥ 0 to run. */
  steps: number;
  /** The constant input x: a scalar (broadcast to every unit) or a vector [n]. */
  x: number | ArrayLike<number>;
  /** The initial state h_0: a scalar (broadcast) or a vector [n]; default 0. */
  h0?: number | ArrayLike<number>;
}

/** Result of {@link reluNormTrajectory}. */
export interface ReluTrajectory {
  /** [T + 1] the Euclidean norms ‖h_t‖₂ for t = 0..T. */
  norms: Float64Array;
  /** [n] the state h_T. */
  final: Float64Array;
}

/**
 * Run h_t = relu(s·h_{t−1} + x) for t = 1..T, elementwise over n units (a scalar gain s, the
 * same input x at every step), and return ‖h_t‖₂ for t = 0..T.
 *
 * n is the length of x or h_0 where one is a vector (both vectors: equal lengths); a scalar x or
 * h_0 is the same value in every unit, and with both scalar n = 1. Any finite s, x, h_0 are
 * accepted; the closed forms below hold when s ≥ 0, x ≥ 0 and h_0 ≥ 0, for then every
 * pre-activation is ≥ 0 and the relu is the identity, leaving the affine map h ↦ s·h + x:
 *
 *   s ≠ 1:  h_t = s^t h_0 + x (1 − s^t)/(1 − s),
 *   s = 1:  h_t = h_0 + t x.
 *
 * Hence for x ≠ 0: s < 1 stays bounded and converges to the fixed point x/(1 − s)
 * ({@link reluFixedPoint}), s = 1 grows linearly (‖h_t‖ ~ t‖x‖), s > 1 grows exponentially
 * (‖h_{t+1}‖/‖h_t‖ → s).
 *
 * @throws WebRnnError('invalid-option') for a non-finite s, x or h_0, a negative or
 *   non-integer `steps`, or vectors of different lengths.
 */
export function reluNormTrajectory(s: number, options: ReluTrajectoryOptions): ReluTrajectory {
  finite('reluNormTrajectory: s', s);
  if (options === null || typeof options !== 'object') throw invalid('reluNormTrajectory: options { steps, x, h0 } expected');
  const T = options.steps;
  if (!Number.isInteger(T) || T < 0) throw invalid(`reluNormTrajectory: steps must be a non-negative integer, got ${String(T)}`);
  const x = vectorOrScalar('reluNormTrajectory: x', options.x);
  const h0 = vectorOrScalar('reluNormTrajectory: h0', options.h0 ?? 0);
  if (!x.scalar && !h0.scalar && x.values.length !== h0.values.length) {
    throw invalid(`reluNormTrajectory: x has ${x.values.length} units and h0 ${h0.values.length}; equal lengths (or a scalar) expected`);
  }
  const n = Math.max(x.values.length, h0.values.length);
  const xv = (k: number): number => (x.scalar ? x.values[0] : x.values[k]);
  const h = Float64Array.from({ length: n }, (_, k) => (h0.scalar ? h0.values[0] : h0.values[k]));
  const norm = (): number => Math.hypot(...h);
  const norms = new Float64Array(T + 1);
  norms[0] = norm();
  for (let t = 1; t <= T; t++) {
    for (let k = 0; k < n; k++) h[k] = Math.max(0, s * h[k] + xv(k));
    norms[t] = norm();
  }
  return { norms, final: h };
}

/**
 * The fixed point h* = x/(1 − s) of h ↦ relu(s·h + x) for 0 ≤ s < 1 and x ≥ 0 (elementwise;
 * the limit of {@link reluNormTrajectory}'s state from any h_0 ≥ 0).
 *
 * @throws WebRnnError('invalid-option') unless 0 ≤ s < 1 and every x ≥ 0 is finite.
 */
export function reluFixedPoint(s: number, x: number | ArrayLike<number>): Float64Array {
  finite('reluFixedPoint: s', s);
  if (!(s >= 0 && s < 1)) throw invalid(`reluFixedPoint: s must be in [0, 1) for a bounded trajectory, got ${s}`);
  const { values } = vectorOrScalar('reluFixedPoint: x', x);
  values.forEach((v, k) => {
    if (v < 0) throw invalid(`reluFixedPoint: x[${k}] is ${v}; x ≥ 0 expected`);
  });
  return values.map((v) => v / (1 - s));
}

// ---------------------------------------------------------------------------------------------
// Gradient paths of a gated scalar recurrence.

function checkGates(what: string, gates: unknown): Uint8Array {
  if (!isArrayLike(gates)) throw invalid(`${what}: gates must be an array of 0/1 (or booleans)`);
  const g = new Uint8Array(gates.length);
  for (let t = 0; t < gates.length; t++) {
    const v = gates[t];
    if (v === 0 || v === 1 || v === false || v === true) g[t] = Number(v);
    else throw invalid(`${what}: gate ${t} is ${String(v)}; 0 or 1 expected`);
  }
  return g;
}

/**
 * h_0..h_T of the scalar gated recurrence h_t = α h_{t−1} + g_t β tanh(h_{t−1}), t = 1..T,
 * with gates[t − 1] = g_t ∈ {0, 1}.
 *
 * @returns [T + 1] the states, h_0 first.
 */
export function gatedTrajectory(alpha: number, beta: number, gates: ArrayLike<number | boolean>, h0: number): Float64Array {
  finite('gatedTrajectory: alpha', alpha);
  finite('gatedTrajectory: beta', beta);
  finite('gatedTrajectory: h0', h0);
  const g = checkGates('gatedTrajectory', gates);
  const h = new Float64Array(g.length + 1);
  h[0] = h0;
  for (let t = 1; t <= g.length; t++) h[t] = alpha * h[t - 1] + g[t - 1] * beta * Math.tanh(h[t - 1]);
  return h;
}

/**
 * The step Jacobians of {@link gatedTrajectory}:
 *   J_t = ∂h_t/∂h_{t−1} = α + g_t β (1 − tanh²(h_{t−1})),   t = 1..T,
 * so ∂h_T/∂h_0 = Π_t J_t.
 *
 * @returns [T] J_1..J_T.
 */
export function gatedStepJacobians(alpha: number, beta: number, gates: ArrayLike<number | boolean>, h0: number): Float64Array {
  const h = gatedTrajectory(alpha, beta, gates, h0);
  const g = checkGates('gatedStepJacobians', gates);
  return Float64Array.from(g, (gt, k) => {
    const th = Math.tanh(h[k]);
    return alpha + gt * beta * (1 - th * th);
  });
}

/**
 * The number of additive gradient paths of ∂h_T/∂h_0 for the gated recurrence: each J_t is a
 * sum of 1 + g_t terms (the carry α, plus the gated branch β(1 − tanh²) when g_t = 1), so
 * Π_t J_t expands into Π_t (1 + g_t) products: 2^T with every gate open, 1 with every gate shut.
 *
 * @returns Π_t (1 + g_t), a power of two (exact as a number up to 2^1023, Infinity beyond).
 * @throws WebRnnError('invalid-option') for a gate other than 0, 1, false, true.
 */
export function gradientPathCount(gates: ArrayLike<number | boolean>): number {
  const g = checkGates('gradientPathCount', gates);
  let open = 0;
  for (const v of g) open += v;
  return 2 ** open;
}

/** Result of {@link expandedJacobianProduct}. */
export interface ExpandedJacobianProduct {
  /** The number of paths, Π_t (1 + g_t). */
  count: number;
  /** Σ over the paths of their products: ∂h_T/∂h_0. */
  sum: number;
  /**
   * [count] each path's product. Path p takes, at the k-th open gate (in time order), the gated
   * term β(1 − tanh²(h_{t−1})) when bit k of p is 1 and the carry α when it is 0; steps with a
   * shut gate always take α.
   */
  terms: Float64Array;
}

/**
 * Enumerate the additive gradient paths of ∂h_T/∂h_0 for h_t = α h_{t−1} + g_t β tanh(h_{t−1})
 * (along the trajectory from h_0) explicitly and sum them:
 *   Π_{t=1..T} (α + g_t d_t) = Σ_{paths} Π_t (carry α or, where g_t = 1, d_t),
 *   d_t = β (1 − tanh²(h_{t−1})).
 * For teaching and checking, small T only: 2^(open gates) paths of T factors each.
 *
 * @param options.maxPaths refuse more paths than this (default 2^20, at most 2^30).
 * @throws WebRnnError('invalid-option') for bad arguments or too many paths.
 */
export function expandedJacobianProduct(
  alpha: number,
  beta: number,
  gates: ArrayLike<number | boolean>,
  h0: number,
  options: { maxPaths?: number } = {},
): ExpandedJacobianProduct {
  const g = checkGates('expandedJacobianProduct', gates);
  const h = gatedTrajectory(alpha, beta, g, h0);
  const count = gradientPathCount(g);
  const maxPaths = options.maxPaths ?? 2 ** 20;
  if (!(typeof maxPaths === 'number' && maxPaths >= 1 && maxPaths <= 2 ** 30)) throw invalid(`expandedJacobianProduct: maxPaths must be in [1, 2^30], got ${String(maxPaths)}`);
  if (count > maxPaths) throw invalid(`expandedJacobianProduct: ${count} paths exceed maxPaths = ${maxPaths}`);
  const T = g.length;
  // The gated terms d_t, and which steps have an open gate.
  const d = Float64Array.from({ length: T }, (_, t) => {
    const th = Math.tanh(h[t]);
    return beta * (1 - th * th);
  });
  const terms = new Float64Array(count);
  let sum = 0;
  for (let p = 0; p < count; p++) {
    let term = 1;
    let k = 0;
    for (let t = 0; t < T; t++) {
      if (g[t] === 1) {
        term *= (p >>> k) & 1 ? d[t] : alpha;
        k++;
      } else {
        term *= alpha;
      }
    }
    terms[p] = term;
    sum += term;
  }
  return { count, sum, terms };
}
