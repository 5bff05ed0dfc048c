/**
 * Hidden Markov models as recurrent networks, in float64.
 *
 * An HMM over S hidden states and V observation symbols is
 *   π [S]      π_j = P(s_1 = j),
 *   A [S, S]   A[i][j] = P(s_t = j | s_{t−1} = i)   (rows sum to 1),
 *   B [S, V]   B[j][v] = P(o_t = v | s_t = j)        (rows sum to 1),
 * and the likelihood of observations o_1..o_T is the sum over all S^T state paths
 *   P(o_1..o_T) = Σ_{s_1..s_T} π_{s_1} B[s_1][o_1] Π_{t=2..T} A[s_{t−1}][s_t] B[s_t][o_t].
 *
 * Two exact ways of computing it live here (a third, on the GPU, in hmm-lifted.ts):
 *
 * 1. The forward algorithm with scaling ({@link hmmForward}): α̂_t is the filtered belief
 *    P(s_t | o_1..o_t) and c_t = P(o_t | o_1..o_{t−1}) its normaliser, so that
 *    ln P(o_1..o_T) = Σ_t ln c_t never underflows however long the sequence.
 *
 * 2. The same recursion read as an RNN in log space ({@link hmmToRnn}, {@link rnnFilter}):
 *    the hidden state is the log belief ln b_t, the recurrent weight the transition logits
 *    W_hh = (ln A)ᵀ, the input weight the emission logits W_ih = ln B acting on one-hot
 *    observations, and the step is a log-sum-exp "matrix product" followed by a softmax-style
 *    normalisation whose log normaliser ln Z_t is the step's log-likelihood contribution.
 *
 * The mapping onto webrnn's Elman cell on the GPU is in hmm-lifted.ts.
 */
import { checkObservations, checkSequences, invalid, isArrayLike } from './hmm-checks.js';

/** A discrete hidden Markov model (see the module comment for the notation). */
export interface Hmm {
  /** π [S]: the distribution of the first state, P(s_1 = j). */
  readonly initial: ArrayLike<number>;
  /** A [S][S]: A[i][j] = P(s_t = j | s_{t−1} = i); every row sums to 1. */
  readonly transition: ReadonlyArray<ArrayLike<number>>;
  /** B [S][V]: B[j][v] = P(o_t = v | s_t = j); every row sums to 1. */
  readonly emission: ReadonlyArray<ArrayLike<number>>;
}

/** Largest |Σ_j p_j − 1| accepted for a probability vector (π, a row of A or of B). */
export const HMM_STOCHASTIC_TOLERANCE = 1e-9;

/** Check that `p` is a probability vector of length n: finite, ≥ 0, Σ p = 1 within the tolerance. */
function checkDistribution(name: string, p: unknown, n: number): void {
  if (!isArrayLike(p)) throw invalid(`hmm: ${name} must be an array of ${n} probabilities`);
  if (p.length !== n) throw invalid(`hmm: ${name} has ${p.length} entries, ${n} expected`);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const v = p[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`hmm: ${name}[${k}] is ${String(v)}; a finite probability expected`);
    if (v < 0) throw invalid(`hmm: ${name}[${k}] is ${v}; probabilities must not be negative`);
    sum += v;
  }
  if (Math.abs(sum - 1) > HMM_STOCHASTIC_TOLERANCE) {
    throw invalid(`hmm: ${name} sums to ${sum}; it must sum to 1 within ${HMM_STOCHASTIC_TOLERANCE}`);
  }
}

/**
 * Validate an HMM and return its sizes: π a distribution over S states, A [S][S] and B [S][V]
 * row-stochastic (entries finite and ≥ 0, each row summing to 1 within
 * {@link HMM_STOCHASTIC_TOLERANCE}).
 *
 * @throws WebRnnError('invalid-option') naming the offending entry or row.
 */
export function validateHmm(hmm: Hmm): { states: number; symbols: number } {
  if (hmm === null || typeof hmm !== 'object') throw invalid('hmm: { initial, transition, emission } expected');
  const { initial, transition, emission } = hmm;
  if (!isArrayLike(initial) || initial.length < 1) throw invalid('hmm: initial must be a non-empty array of probabilities');
  const S = initial.length;
  if (!Array.isArray(transition) || transition.length !== S) throw invalid(`hmm: transition must have ${S} rows (one per state)`);
  if (!Array.isArray(emission) || emission.length !== S) throw invalid(`hmm: emission must have ${S} rows (one per state)`);
  const row0 = emission[0] as unknown;
  if (!isArrayLike(row0) || row0.length < 1) throw invalid('hmm: emission rows must be non-empty arrays of probabilities');
  const V = row0.length;
  checkDistribution('initial', initial, S);
  for (let i = 0; i < S; i++) checkDistribution(`transition[${i}]`, transition[i], S);
  for (let j = 0; j < S; j++) checkDistribution(`emission[${j}]`, emission[j], V);
  return { states: S, symbols: V };
}

/** Result of {@link hmmForward}. */
export interface HmmForwardResult {
  /** ln P(o_1..o_T) = Σ_t ln c_t; 0 for T = 0, −Infinity when the sequence is impossible. */
  logLikelihood: number;
  /**
   * [T] ln c_t, c_t = P(o_t | o_1..o_{t−1}). At the first step with c_t = 0 the entry is
   * −Infinity and the entries after it NaN.
   */
  logScales: Float64Array;
  /** [T, S] row-major: the filtered beliefs α̂_t(j) = P(s_t = j | o_1..o_t); NaN rows from an impossible step on. */
  filtered: Float64Array;
}

/**
 * The forward algorithm with scaling, in float64:
 *   ã_1(j) = π_j B[j][o_1],                     c_1 = Σ_j ã_1(j),  α̂_1 = ã_1 / c_1,
 *   ã_t(j) = B[j][o_t] Σ_i α̂_{t−1}(i) A[i][j],  c_t = Σ_j ã_t(j),  α̂_t = ã_t / c_t,
 * so that α̂_t(j) = P(s_t = j | o_1..o_t), c_t = P(o_t | o_1..o_{t−1}) and
 * ln P(o_1..o_T) = Σ_t ln c_t. The unscaled α_t = (Π_{u≤t} c_u) α̂_t would underflow for long
 * sequences; α̂_t stays O(1).
 *
 * @param observations o_1..o_T as symbol indices in [0, V) (T = 0 allowed: log-likelihood 0).
 * @throws WebRnnError('invalid-option') for an invalid HMM or an observation out of range.
 */
export function hmmForward(hmm: Hmm, observations: ArrayLike<number>): HmmForwardResult {
  const { states: S, symbols: V } = validateHmm(hmm);
  const obs = checkObservations('hmmForward', observations, V);
  const T = obs.length;
  const logScales = new Float64Array(T).fill(NaN);
  const filtered = new Float64Array(T * S).fill(NaN);
  const prev = new Float64Array(S);
  const next = new Float64Array(S);
  let logLikelihood = 0;
  for (let t = 0; t < T; t++) {
    const o = obs[t];
    let c = 0;
    for (let j = 0; j < S; j++) {
      // Prediction P(s_t = j | o_1..o_{t−1}): π at t = 1, else Σ_i α̂_{t−1}(i) A[i][j].
      let pred = 0;
      if (t === 0) pred = hmm.initial[j];
      else for (let i = 0; i < S; i++) pred += prev[i] * hmm.transition[i][j];
      next[j] = pred * hmm.emission[j][o];
      c += next[j];
    }
    if (!(c > 0)) {
      logScales[t] = -Infinity;
      return { logLikelihood: -Infinity, logScales, filtered };
    }
    logScales[t] = Math.log(c);
    logLikelihood += logScales[t];
    for (let j = 0; j < S; j++) {
      prev[j] = next[j] / c;
      filtered[t * S + j] = prev[j];
    }
  }
  return { logLikelihood, logScales, filtered };
}

/** ln P(o_1..o_T) by the scaled forward algorithm ({@link hmmForward}). */
export function hmmLogLikelihood(hmm: Hmm, observations: ArrayLike<number>): number {
  return hmmForward(hmm, observations).logLikelihood;
}

/** [N] ln P of each of N sequences (of any lengths) by the scaled forward algorithm. */
export function hmmLogLikelihoods(hmm: Hmm, sequences: ReadonlyArray<ArrayLike<number>>): Float64Array {
  const { symbols: V } = validateHmm(hmm);
  checkSequences('hmmLogLikelihoods', sequences, V);
  return Float64Array.from(sequences, (s) => hmmForward(hmm, s).logLikelihood);
}

// ---------------------------------------------------------------------------------------------
// The HMM as an RNN in log space.

/**
 * The parameters of an HMM read as a log-space RNN (see {@link hmmToRnn}). Matrices are
 * row-major Float64Arrays; entries may be −Infinity (log of a zero probability).
 */
export interface HmmRnn {
  /** S: hidden units (states). */
  readonly states: number;
  /** V: input features (one-hot symbols). */
  readonly symbols: number;
  /** W_hh = (ln A)ᵀ [S, S]: W_hh[j·S + i] = ln A[i][j], row j gathers the logits into state j. */
  readonly transitionLogits: Float64Array;
  /** W_ih = ln B [S, V]: W_ih[j·V + v] = ln B[j][v]; W_ih x_t = ln B[:, o_t] for one-hot x_t. */
  readonly emissionLogits: Float64Array;
  /** ln π [S]: the logits that replace the transition term at the first step. */
  readonly initialLogits: Float64Array;
}

/**
 * The HMM as a log-space RNN: transition logits W_hh = (ln A)ᵀ [S, S], emission logits
 * W_ih = ln B [S, V] (an input-to-hidden weight on one-hot observations), initial logits ln π.
 * {@link rnnFilter} runs it. Zero probabilities become −Infinity logits.
 *
 * @throws WebRnnError('invalid-option') for an invalid HMM.
 */
export function hmmToRnn(hmm: Hmm): HmmRnn {
  const { states: S, symbols: V } = validateHmm(hmm);
  const transitionLogits = new Float64Array(S * S);
  const emissionLogits = new Float64Array(S * V);
  const initialLogits = new Float64Array(S);
  for (let j = 0; j < S; j++) {
    initialLogits[j] = Math.log(hmm.initial[j]);
    for (let i = 0; i < S; i++) transitionLogits[j * S + i] = Math.log(hmm.transition[i][j]);
    for (let v = 0; v < V; v++) emissionLogits[j * V + v] = Math.log(hmm.emission[j][v]);
  }
  return { states: S, symbols: V, transitionLogits, emissionLogits, initialLogits };
}

/** ln Σ_k exp(z_k) over `n` values read by `at`, stable: m + ln Σ exp(z_k − m), m = max z; −Infinity when every z_k is. */
function logSumExp(n: number, at: (k: number) => number): number {
  let m = -Infinity;
  for (let k = 0; k < n; k++) m = Math.max(m, at(k));
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let k = 0; k < n; k++) s += Math.exp(at(k) - m);
  return m + Math.log(s);
}

function checkLogits(name: string, a: unknown, n: number): Float64Array | ArrayLike<number> {
  if (!isArrayLike(a) || a.length !== n) throw invalid(`rnn: ${name} must have ${n} entries`);
  for (let k = 0; k < n; k++) {
    const v = a[k];
    // −Infinity is the logit of a zero probability; NaN and +Infinity have no meaning here.
    if (typeof v !== 'number' || Number.isNaN(v) || v === Infinity) throw invalid(`rnn: ${name}[${k}] is ${String(v)}; a finite logit or −Infinity expected`);
  }
  return a;
}

function checkRnn(rnn: HmmRnn): { S: number; V: number } {
  if (rnn === null || typeof rnn !== 'object') throw invalid('rnn: { states, symbols, transitionLogits, emissionLogits, initialLogits } expected');
  const S = rnn.states;
  const V = rnn.symbols;
  if (!Number.isInteger(S) || S < 1) throw invalid(`rnn: states must be a positive integer, got ${String(S)}`);
  if (!Number.isInteger(V) || V < 1) throw invalid(`rnn: symbols must be a positive integer, got ${String(V)}`);
  checkLogits('transitionLogits', rnn.transitionLogits, S * S);
  checkLogits('emissionLogits', rnn.emissionLogits, S * V);
  checkLogits('initialLogits', rnn.initialLogits, S);
  return { S, V };
}

/** Result of {@link rnnFilter}. */
export interface RnnFilterResult {
  /** Σ_t ln Z_t: ln P(o_1..o_T) for an RNN made by {@link hmmToRnn}; 0 for T = 0, −Infinity when impossible. */
  logLikelihood: number;
  /** [T] ln Z_t; −Infinity at the first impossible step, NaN after it. */
  logNormalisers: Float64Array;
  /** [T, S] row-major hidden states ln b_t(j); NaN rows from an impossible step on. */
  logBeliefs: Float64Array;
}

/**
 * Run the log-space RNN over o_1..o_T. With W_hh = (ln A)ᵀ, W_ih = ln B and x_t = onehot(o_t):
 *   u_1(j) = (W_ih x_1)_j + ln π_j,
 *   u_t(j) = (W_ih x_t)_j + logsumexp_i (W_hh[j, i] + ln b_{t−1}(i))            (t ≥ 2),
 *   ln Z_t = logsumexp_j u_t(j),   ln b_t(j) = u_t(j) − ln Z_t,
 * i.e. b_t = softmax(u_t): the belief P(s_t | o_1..o_t), and ln P(o_1..o_T) = Σ_t ln Z_t.
 * (exp u_t(j) = B[j][o_t] Σ_i A[i][j] b_{t−1}(i), the scaled forward step in log space.) For
 * logits not made from a normalised HMM the result is the log of the sum over state paths of
 * exp(path score), the same recursion.
 *
 * @throws WebRnnError('invalid-option') for malformed parameters or an observation out of range.
 */
export function rnnFilter(rnn: HmmRnn, observations: ArrayLike<number>): RnnFilterResult {
  const { S, V } = checkRnn(rnn);
  const obs = checkObservations('rnnFilter', observations, V);
  const T = obs.length;
  const logNormalisers = new Float64Array(T).fill(NaN);
  const logBeliefs = new Float64Array(T * S).fill(NaN);
  let prev = new Float64Array(S);
  let u = new Float64Array(S);
  let logLikelihood = 0;
  for (let t = 0; t < T; t++) {
    const o = obs[t];
    for (let j = 0; j < S; j++) {
      const recurrent = t === 0 ? rnn.initialLogits[j] : logSumExp(S, (i) => rnn.transitionLogits[j * S + i] + prev[i]);
      u[j] = rnn.emissionLogits[j * V + o] + recurrent;
    }
    const logZ = logSumExp(S, (j) => u[j]);
    logNormalisers[t] = logZ;
    if (logZ === -Infinity) return { logLikelihood: -Infinity, logNormalisers, logBeliefs };
    logLikelihood += logZ;
    for (let j = 0; j < S; j++) {
      u[j] -= logZ;
      logBeliefs[t * S + j] = u[j];
    }
    [prev, u] = [u, prev];
  }
  return { logLikelihood, logNormalisers, logBeliefs };
}

/** Σ_t ln Z_t of the log-space RNN ({@link rnnFilter}): ln P(o_1..o_T) for an RNN from {@link hmmToRnn}. */
export function rnnLogLikelihood(rnn: HmmRnn, observations: ArrayLike<number>): number {
  return rnnFilter(rnn, observations).logLikelihood;
}

/**
 * [N] log-likelihoods of N sequences of any lengths, run as one batched recurrence: the state
 * is [N, S] log beliefs and sequence n stops after its own T_n steps (as PyTorch's packed
 * sequences do); the update of each row is that of {@link rnnFilter}.
 */
export function rnnLogLikelihoods(rnn: HmmRnn, sequences: ReadonlyArray<ArrayLike<number>>): Float64Array {
  const { S, V } = checkRnn(rnn);
  const seqs = checkSequences('rnnLogLikelihoods', sequences, V);
  const N = seqs.length;
  const T = seqs.reduce((m, s) => Math.max(m, s.length), 0);
  const result = new Float64Array(N);
  let prev = new Float64Array(N * S);
  let u = new Float64Array(N * S);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      // Sequences that ended, or became impossible, keep their result.
      if (t >= seqs[n].length || result[n] === -Infinity) continue;
      const o = seqs[n][t];
      const row = n * S;
      for (let j = 0; j < S; j++) {
        const recurrent = t === 0 ? rnn.initialLogits[j] : logSumExp(S, (i) => rnn.transitionLogits[j * S + i] + prev[row + i]);
        u[row + j] = rnn.emissionLogits[j * V + o] + recurrent;
      }
      const logZ = logSumExp(S, (j) => u[row + j]);
      result[n] += logZ;
      if (logZ !== -Infinity) for (let j = 0; j < S; j++) u[row + j] -= logZ;
    }
    // Rows that did not step (ended or impossible) never step again: their stale rows are unused.
    [prev, u] = [u, prev];
  }
  return result;
}
