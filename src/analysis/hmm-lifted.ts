/**
 * An HMM's likelihood on the GPU with webrnn's Elman cell ({@link hmmToLiftedReluRnn},
 * {@link hmmLogLikelihoodGpu}): the forward recursion α_t = diag(B[:, o_t]) Aᵀ α_{t−1}
 * multiplies the state by an input-dependent diagonal, which h_t = f(W_ih x_t + W_hh h_{t−1})
 * cannot do with f = identity (the state would be additive in the inputs). It can with
 * f = relu over a lifted state with one unit per (state, symbol) pair: every unit computes
 * "predict, then emit v", and the input subtracts a constant C from the units of every
 * symbol other than o_t, which relu then zeroes exactly. See {@link hmmToLiftedReluRnn}.
 */
import type { Engine } from '../engine.js';
import { checkSequences, invalid } from './hmm-checks.js';
import { validateHmm, type Hmm } from './hmm.js';

/** The lifted relu Elman RNN of an HMM ({@link hmmToLiftedReluRnn}). */
export interface LiftedReluRnn {
  /** S. */
  readonly states: number;
  /** V: the model's inputSize (one-hot symbols). */
  readonly symbols: number;
  /** S·V + 1: unit k = v·S + j holds the mass of state j emitting symbol v; unit S·V is the start unit. */
  readonly hiddenSize: number;
  /** The constant C subtracted from the units of every symbol other than o_t. */
  readonly margin: number;
  /** PyTorch-named parameters of a one-layer `nn.RNN(V, S·V + 1, nonlinearity='relu', bias=False)`: weight_ih_l0 [S·V+1, V], weight_hh_l0 [S·V+1, S·V+1]. */
  readonly stateDict: { weight_ih_l0: Float64Array; weight_hh_l0: Float64Array };
  /** The initial hidden state [S·V + 1]: one at the start unit, zero elsewhere. */
  readonly h0: Float64Array;
}

/**
 * The HMM as webrnn's Elman cell h_t = relu(W_ih x_t + W_hh h_{t−1}) (no biases) on one-hot
 * x_t = onehot(o_t), with a lifted state of H = S·V + 1 units: unit (j, v) at index v·S + j,
 * and a start unit ★ at index S·V.
 *
 *   W_hh[(j, v), (i, v')] = A[i][j] B[j][v]   for every v'   (predict j from i, then emit v),
 *   W_hh[(j, v), ★]       = π_j B[j][v],                      W_hh[★, ·] = 0,
 *   W_ih[(j, v), u]       = −C [u ≠ v],                       W_ih[★, ·] = 0,
 *   h_0 = e_★.
 *
 * Claim: h_t(j, v) = [v = o_t] α_t(j) with α_t(j) = P(o_1..o_t, s_t = j) (for t ≥ 1, and
 * ★ = 0). Induction: Σ_{v'} h_{t−1}(i, v') = α_{t−1}(i), so the pre-activation of (j, v) is
 * B[j][v] Σ_i A[i][j] α_{t−1}(i) − C [v ≠ o_t] (at t = 1 the start unit gives π_j B[j][v]).
 * For v = o_t that is α_t(j) ≥ 0, which relu passes unchanged; for v ≠ o_t it is at most
 * Σ_i α_{t−1}(i) − C = P(o_1..o_{t−1}) − C ≤ 1 − C < 0 (A and B entries are ≤ 1), which relu
 * zeroes exactly. The relu is used only as an exact gate; nothing is approximated. The same
 * holds from any start state h_0 ≥ 0 of total mass ≤ 1 (used to renormalise between chunks),
 * and C = 2 leaves a margin of at least 1 for float32 rounding.
 *
 * @param options.margin C, default 2 (must be > 1).
 * @throws WebRnnError('invalid-option') for an invalid HMM or margin.
 */
export function hmmToLiftedReluRnn(hmm: Hmm, options: { margin?: number } = {}): LiftedReluRnn {
  const { states: S, symbols: V } = validateHmm(hmm);
  const C = options.margin ?? 2;
  if (typeof C !== 'number' || !Number.isFinite(C) || !(C > 1)) throw invalid(`hmmToLiftedReluRnn: margin must be a finite number > 1, got ${String(C)}`);
  const H = S * V + 1;
  const start = S * V;
  const wih = new Float64Array(H * V);
  const whh = new Float64Array(H * H);
  for (let v = 0; v < V; v++) {
    for (let j = 0; j < S; j++) {
      const row = v * S + j;
      const emit = hmm.emission[j][v];
      for (let u = 0; u < V; u++) wih[row * V + u] = u === v ? 0 : -C;
      for (let vp = 0; vp < V; vp++) for (let i = 0; i < S; i++) whh[row * H + vp * S + i] = hmm.transition[i][j] * emit;
      whh[row * H + start] = hmm.initial[j] * emit;
    }
  }
  const h0 = new Float64Array(H);
  h0[start] = 1;
  return { states: S, symbols: V, hiddenSize: H, margin: C, stateDict: { weight_ih_l0: wih, weight_hh_l0: whh }, h0 };
}

/** Options of {@link hmmLogLikelihoodGpu}. */
export interface HmmGpuOptions {
  /** Steps per GPU forward call (default 64). Each sequence is renormalised at least this often. */
  chunkLength?: number;
  /**
   * A chunk is cut short for a sequence at the last step whose lifted state still has total
   * mass ≥ this (default 2⁻⁶⁰ ≈ 8.7e−19), keeping float32 far from its subnormal range
   * (below 2⁻¹²⁶); the next chunk restarts from there, renormalised.
   */
  minMass?: number;
}

/**
 * [N] ln P(o_1..o_T) of each sequence, computed on the GPU by webrnn's Elman cell with
 * nonlinearity 'relu' on the lifted state of {@link hmmToLiftedReluRnn} (float32).
 *
 * The sequences run as one batch, in chunks of at most `chunkLength` steps (variable lengths
 * through `seqLens`). Within a chunk that starts from a state of mass 1 the state after k steps
 * holds P(o_{t0+1..t0+k}, s | o_1..o_{t0}), whose sum m_k is read from the output; outside the
 * GPU, in float64, ln P accumulates ln m_k and the next chunk starts from h / m_k. A chunk is
 * cut short at the last step with m_k ≥ `minMass` (at least one step is always taken). A step
 * with mass exactly 0 gives −Infinity (an impossible observation, or one whose conditional
 * probability is below float32's range).
 *
 * Accuracy: W_hh and each step's sums are rounded to float32 (2⁻²⁴ relative), so each ln c_t
 * is off by a few 1e−9 (at worst about (S + 1)·6e−8) and ln P by roughly 5e−9·T (measured on
 * SwiftShader for T up to 1000).
 *
 * @param engine from `createEngine()`; a model is created for the call and destroyed after it.
 * @param sequences observation sequences (symbol indices in [0, V)), any lengths (0 gives 0).
 * @throws WebRnnError('invalid-option') for an invalid HMM, observation or option.
 */
export async function hmmLogLikelihoodGpu(
  engine: Engine,
  hmm: Hmm,
  sequences: ReadonlyArray<ArrayLike<number>>,
  options: HmmGpuOptions = {},
): Promise<Float64Array> {
  const lifted = hmmToLiftedReluRnn(hmm);
  const seqs = checkSequences('hmmLogLikelihoodGpu', sequences, lifted.symbols);
  const K = options.chunkLength ?? 64;
  if (!Number.isInteger(K) || K < 1) throw invalid(`hmmLogLikelihoodGpu: chunkLength must be a positive integer, got ${String(K)}`);
  const minMass = options.minMass ?? 2 ** -60;
  if (typeof minMass !== 'number' || !(minMass > 0 && minMass < 1)) throw invalid(`hmmLogLikelihoodGpu: minMass must be in (0, 1), got ${String(minMass)}`);
  const { hiddenSize: H, symbols: V } = lifted;
  const N = seqs.length;
  const result = new Float64Array(N);
  const position = new Int32Array(N);
  // Each sequence's state at its position, mass 1 (the start unit before the first step).
  const state = Array.from({ length: N }, () => Float32Array.from(lifted.h0));

  const model = engine.rnn({ inputSize: V, hiddenSize: H, nonlinearity: 'relu', bias: false });
  try {
    model.loadStateDict({
      weight_ih_l0: Float32Array.from(lifted.stateDict.weight_ih_l0),
      weight_hh_l0: Float32Array.from(lifted.stateDict.weight_hh_l0),
    });
    for (;;) {
      const active: number[] = [];
      for (let n = 0; n < N; n++) if (position[n] < seqs[n].length && result[n] !== -Infinity) active.push(n);
      if (active.length === 0) break;
      const B = active.length;
      const lengths = active.map((n) => Math.min(K, seqs[n].length - position[n]));
      const T = Math.max(...lengths);
      const x = new Float32Array(T * B * V);
      const h0 = new Float32Array(B * H);
      active.forEach((n, b) => {
        for (let t = 0; t < lengths[b]; t++) x[(t * B + b) * V + seqs[n][position[n] + t]] = 1;
        h0.set(state[n], b * H);
      });
      const seqLens = lengths.every((l) => l === T) ? undefined : lengths;
      const { output } = await model.forward(x, { batch: B, seqLen: T, h0, seqLens });
      active.forEach((n, b) => {
        // Masses m_t = Σ_k h_t[k] of this chunk (non-increasing: each step multiplies by a
        // conditional probability); keep the last step with m_t ≥ minMass, at least the first.
        let keep = 0;
        let mass = 0;
        for (let t = 0; t < lengths[b]; t++) {
          let m = 0;
          for (let k = 0; k < H; k++) m += output[(t * B + b) * H + k];
          if (t > 0 && !(m >= minMass)) break;
          keep = t;
          mass = m;
        }
        if (!(mass > 0)) {
          result[n] = -Infinity;
          return;
        }
        result[n] += Math.log(mass);
        position[n] += keep + 1;
        const h = state[n];
        for (let k = 0; k < H; k++) h[k] = output[(keep * B + b) * H + k] / mass;
      });
    }
  } finally {
    model.destroy();
  }
  return result;
}
