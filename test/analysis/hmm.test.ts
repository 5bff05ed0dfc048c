/**
 * HMMs as RNNs: the scaled forward algorithm and the log-space RNN against each other and
 * against brute-force enumeration of every state path (the independent check), the lifted
 * relu Elman form through the project's float64 whole-model reference, and on the GPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hmmForward,
  hmmLogLikelihood,
  hmmLogLikelihoods,
  hmmToRnn,
  rnnFilter,
  rnnLogLikelihood,
  rnnLogLikelihoods,
  type Hmm,
} from '../../src/analysis/hmm.js';
import { hmmLogLikelihoodGpu, hmmToLiftedReluRnn } from '../../src/analysis/hmm-lifted.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { createRandom, type Random } from '../../src/spec/random.js';
import { resolveSpec } from '../../src/spec/spec.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectInvalidOption } from '../helpers/errors.js';

/** A probability vector of n entries, each at least `floor` before normalising. */
function randomDistribution(rng: Random, n: number, floor = 0.02): number[] {
  const p = Array.from({ length: n }, () => floor + rng.uniform());
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / s);
}

function randomHmm(rng: Random, S: number, V: number): Hmm {
  return {
    initial: randomDistribution(rng, S),
    transition: Array.from({ length: S }, () => randomDistribution(rng, S)),
    emission: Array.from({ length: S }, () => randomDistribution(rng, V)),
  };
}

function randomSequence(rng: Random, T: number, V: number): number[] {
  return Array.from({ length: T }, () => Math.floor(rng.uniform() * V));
}

/**
 * Brute force: joint[t][j] = P(o_1..o_{t+1}, s_{t+1} = j) as the sum over all S^(t+1) state
 * paths of π B Π A B, each path spelt out as base-S digits. No recursion shared with the code
 * under test.
 */
function bruteForceJoint(hmm: Hmm, obs: number[]): number[][] {
  const S = hmm.initial.length;
  const joint: number[][] = [];
  for (let len = 1; len <= obs.length; len++) {
    const row = new Array<number>(S).fill(0);
    const paths = S ** len;
    for (let code = 0; code < paths; code++) {
      const path: number[] = [];
      let c = code;
      for (let t = 0; t < len; t++) {
        path.push(c % S);
        c = Math.floor(c / S);
      }
      let p = hmm.initial[path[0]] * hmm.emission[path[0]][obs[0]];
      for (let t = 1; t < len; t++) p *= hmm.transition[path[t - 1]][path[t]] * hmm.emission[path[t]][obs[t]];
      row[path[len - 1]] += p;
    }
    joint.push(row);
  }
  return joint;
}

function expectRelClose(label: string, got: number, want: number, rel: number): void {
  const err = Math.abs(got - want);
  if (!(err <= rel * Math.max(1, Math.abs(want)))) throw new Error(`${label}: got ${got}, want ${want} (|Δ| = ${err}, tolerance ${rel} relative)`);
}

describe('forward algorithm and log-space RNN against brute-force enumeration', () => {
  const rng = createRandom(20240611);
  for (const S of [2, 3]) {
    for (const V of [2, 3]) {
      it(`S=${S} V=${V}, T = 1..6: likelihood and every filtered belief`, () => {
        const hmm = randomHmm(rng, S, V);
        const rnn = hmmToRnn(hmm);
        for (let T = 1; T <= 6; T++) {
          const obs = randomSequence(rng, T, V);
          const joint = bruteForceJoint(hmm, obs);
          const want = Math.log(joint[T - 1].reduce((a, b) => a + b, 0));
          const fwd = hmmForward(hmm, obs);
          const net = rnnFilter(rnn, obs);
          expectRelClose(`forward S=${S} V=${V} T=${T}`, fwd.logLikelihood, want, 1e-12);
          expectRelClose(`rnn S=${S} V=${V} T=${T}`, net.logLikelihood, want, 1e-12);
          expectRelClose(`rnnLogLikelihood S=${S} V=${V} T=${T}`, rnnLogLikelihood(rnn, obs), want, 1e-12);
          for (let t = 0; t < T; t++) {
            const z = joint[t].reduce((a, b) => a + b, 0);
            for (let j = 0; j < S; j++) {
              // The hidden state is the belief P(s_t = j | o_1..o_t).
              expect(Math.abs(fwd.filtered[t * S + j] - joint[t][j] / z)).toBeLessThan(1e-13);
              expect(Math.abs(Math.exp(net.logBeliefs[t * S + j]) - joint[t][j] / z)).toBeLessThan(1e-13);
            }
            // ln c_t = ln P(o_1..o_t) − ln P(o_1..o_{t−1}).
            const before = t === 0 ? 0 : Math.log(joint[t - 1].reduce((a, b) => a + b, 0));
            expect(Math.abs(fwd.logScales[t] - (Math.log(z) - before))).toBeLessThan(1e-12);
            expect(Math.abs(net.logNormalisers[t] - (Math.log(z) - before))).toBeLessThan(1e-12);
          }
        }
      });
    }
  }

  it('zero probabilities: impossible sequences give −Infinity, possible ones the brute-force value', () => {
    // State 0 only emits symbol 0, state 1 only symbol 1, and 1 never goes back to 0.
    const hmm: Hmm = { initial: [0.5, 0.5], transition: [[0.7, 0.3], [0, 1]], emission: [[1, 0], [0, 1]] };
    const rnn = hmmToRnn(hmm);
    expect(rnn.transitionLogits[1 * 2 + 0]).toBe(Math.log(0.3)); // (ln A)ᵀ[1][0] = ln A[0][1]
    expect(rnn.transitionLogits[0 * 2 + 1]).toBe(-Infinity); // ln A[1][0] = ln 0
    for (const obs of [[0, 0, 1, 1], [1, 1], [0, 1, 1, 1, 1, 1]]) {
      const want = Math.log(bruteForceJoint(hmm, obs).at(-1)!.reduce((a, b) => a + b, 0));
      expectRelClose(`forward ${obs}`, hmmLogLikelihood(hmm, obs), want, 1e-14);
      expectRelClose(`rnn ${obs}`, rnnLogLikelihood(rnn, obs), want, 1e-14);
    }
    const impossible = [0, 1, 0];
    expect(bruteForceJoint(hmm, impossible).at(-1)!.reduce((a, b) => a + b, 0)).toBe(0);
    expect(hmmLogLikelihood(hmm, impossible)).toBe(-Infinity);
    expect(rnnLogLikelihood(rnn, impossible)).toBe(-Infinity);
    const f = hmmForward(hmm, impossible);
    expect(f.logScales[2]).toBe(-Infinity);
    expect(Number.isNaN(f.filtered[2 * 2])).toBe(true);
  });

  it('T = 0 gives 0 (the empty sequence has probability 1)', () => {
    const hmm = randomHmm(createRandom(1), 3, 4);
    expect(hmmLogLikelihood(hmm, [])).toBe(0);
    expect(rnnLogLikelihood(hmmToRnn(hmm), [])).toBe(0);
  });
});

describe('log-space RNN against the scaled forward algorithm', () => {
  const rng = createRandom(77);
  const cases: Array<[number, number]> = [[1, 3], [2, 2], [3, 5], [5, 4], [8, 8]];
  for (const [S, V] of cases) {
    it(`S=${S} V=${V}, T ∈ {1, 2, 17, 120, 500}`, () => {
      const hmm = randomHmm(rng, S, V);
      const rnn = hmmToRnn(hmm);
      for (const T of [1, 2, 17, 120, 500]) {
        const obs = randomSequence(rng, T, V);
        const a = hmmLogLikelihood(hmm, obs);
        const b = rnnLogLikelihood(rnn, obs);
        expect(Number.isFinite(a)).toBe(true);
        expectRelClose(`S=${S} V=${V} T=${T}`, b, a, 1e-12);
      }
    });
  }

  it('T = 500 where the unscaled forward recursion underflows to 0', () => {
    const rng2 = createRandom(5);
    const S = 4;
    const V = 8;
    const hmm = randomHmm(rng2, S, V);
    const obs = randomSequence(rng2, 500, V);
    // Unscaled α_t(j) = B[j][o_t] Σ_i α_{t−1}(i) A[i][j], written out here in float64.
    let alpha = hmm.initial.length ? Array.from({ length: S }, (_, j) => hmm.initial[j] * hmm.emission[j][obs[0]]) : [];
    for (let t = 1; t < obs.length; t++) {
      alpha = Array.from({ length: S }, (_, j) => hmm.emission[j][obs[t]] * alpha.reduce((acc, a, i) => acc + a * hmm.transition[i][j], 0));
    }
    expect(alpha.reduce((a, b) => a + b, 0)).toBe(0);
    const a = hmmLogLikelihood(hmm, obs);
    expect(a).toBeLessThan(-745); // below ln(smallest double)
    expect(Number.isFinite(a)).toBe(true);
    expectRelClose('T=500', rnnLogLikelihood(hmmToRnn(hmm), obs), a, 1e-12);
  });

  it('batches of sequences of different lengths (0, 1, …) give each sequence its own value', () => {
    const rng2 = createRandom(909);
    const hmm = randomHmm(rng2, 3, 4);
    const rnn = hmmToRnn(hmm);
    const seqs = [12, 0, 1, 40, 7, 40, 3].map((T) => randomSequence(rng2, T, 4));
    const batchRnn = rnnLogLikelihoods(rnn, seqs);
    const batchFwd = hmmLogLikelihoods(hmm, seqs);
    expect(batchRnn.length).toBe(seqs.length);
    seqs.forEach((s, n) => {
      const alone = hmmLogLikelihood(hmm, s);
      expectRelClose(`rnn batch ${n}`, batchRnn[n], alone, 1e-12);
      expect(batchFwd[n]).toBe(alone);
    });
    expect(batchRnn[1]).toBe(0);
    // An impossible sequence in a batch does not disturb the others.
    const sparse: Hmm = { initial: [1, 0], transition: [[0, 1], [0, 1]], emission: [[1, 0], [0.5, 0.5]] };
    const r = rnnLogLikelihoods(hmmToRnn(sparse), [[0, 1, 0], [1], [0, 0, 1, 0]]);
    expect(r[0]).toBeCloseTo(Math.log(0.25), 14);
    expect(r[1]).toBe(-Infinity);
    expect(r[2]).toBeCloseTo(Math.log(0.125), 14);
  });

  it('hmmToRnn lays out (ln A)ᵀ, ln B and ln π', () => {
    const hmm: Hmm = { initial: [0.25, 0.75], transition: [[0.9, 0.1], [0.4, 0.6]], emission: [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]] };
    const rnn = hmmToRnn(hmm);
    expect(rnn.states).toBe(2);
    expect(rnn.symbols).toBe(3);
    expect(Array.from(rnn.transitionLogits)).toEqual([Math.log(0.9), Math.log(0.4), Math.log(0.1), Math.log(0.6)]);
    expect(Array.from(rnn.emissionLogits)).toEqual([0.5, 0.3, 0.2, 0.1, 0.1, 0.8].map(Math.log));
    expect(Array.from(rnn.initialLogits)).toEqual([Math.log(0.25), Math.log(0.75)]);
    // One step by hand: P(o_1 = 2) = 0.25·0.2 + 0.75·0.8 = 0.65.
    expect(rnnLogLikelihood(rnn, [2])).toBeCloseTo(Math.log(0.65), 15);
  });
});

describe('bad inputs are refused', () => {
  const good = (): { initial: number[]; transition: number[][]; emission: number[][] } => ({
    initial: [0.5, 0.5],
    transition: [[0.9, 0.1], [0.2, 0.8]],
    emission: [[0.7, 0.3], [0.4, 0.6]],
  });

  it('A, B or π not stochastic within 1e-9, negative or non-finite entries, wrong shapes', () => {
    const h1 = good();
    h1.transition[1] = [0.2, 0.8 + 2e-9];
    expectInvalidOption(() => hmmLogLikelihood(h1, [0]), /transition\[1\] sums to/);
    const h2 = good();
    h2.transition[0] = [1.25, -0.25];
    expectInvalidOption(() => hmmToRnn(h2), /transition\[0\]\[1\] is -0.25.*negative/);
    const h3 = good();
    h3.emission[0] = [0.7, 0.2];
    expectInvalidOption(() => hmmForward(h3, [0]), /emission\[0\] sums to/);
    const h4 = good();
    h4.initial = [0.6, 0.5];
    expectInvalidOption(() => hmmLogLikelihood(h4, [0]), /initial sums to/);
    const h5 = good();
    h5.emission[1] = [NaN, 1];
    expectInvalidOption(() => hmmLogLikelihood(h5, [0]), /emission\[1\]\[0\] is NaN/);
    const h6 = good();
    h6.transition = [[1, 0]];
    expectInvalidOption(() => hmmLogLikelihood(h6, [0]), /transition must have 2 rows/);
    const h7 = good();
    h7.emission[1] = [0.2, 0.3, 0.5];
    expectInvalidOption(() => hmmLogLikelihood(h7, [0]), /emission\[1\] has 3 entries, 2 expected/);
    expectInvalidOption(() => hmmToLiftedReluRnn(h1), /transition\[1\] sums to/);
    // Within the tolerance is accepted.
    const ok = good();
    ok.transition[1] = [0.2, 0.8 + 5e-10];
    expect(Number.isFinite(hmmLogLikelihood(ok, [0, 1]))).toBe(true);
  });

  it('observations out of range or not integers', () => {
    const hmm = good();
    const rnn = hmmToRnn(hmm);
    for (const obs of [[0, 2], [-1], [0.5], [NaN]]) {
      expectInvalidOption(() => hmmLogLikelihood(hmm, obs), /observation \d is .*integers in \[0, 2\)/);
      expectInvalidOption(() => rnnLogLikelihood(rnn, obs), /observation \d is .*integers in \[0, 2\)/);
      expectInvalidOption(() => rnnLogLikelihoods(rnn, [[0], obs]), /sequence 1: observation/);
      expectInvalidOption(() => hmmLogLikelihoods(hmm, [obs]), /sequence 0: observation/);
    }
  });

  it('malformed RNN parameters', () => {
    const rnn = hmmToRnn(good());
    expectInvalidOption(() => rnnLogLikelihood({ ...rnn, transitionLogits: new Float64Array(3) }, [0]), /transitionLogits must have 4 entries/);
    expectInvalidOption(() => rnnLogLikelihood({ ...rnn, emissionLogits: Float64Array.of(0, NaN, 0, 0) }, [0]), /emissionLogits\[1\] is NaN/);
    expectInvalidOption(() => rnnLogLikelihood({ ...rnn, initialLogits: Float64Array.of(Infinity, 0) }, [0]), /initialLogits\[0\] is Infinity/);
  });
});

describe('lifted relu Elman form (hmmToLiftedReluRnn) through the float64 whole-model reference', () => {
  it('h_t(j, v) = [v = o_t]·P(o_1..o_t, s_t = j) exactly, and its mass is the likelihood', () => {
    const rng = createRandom(4242);
    for (const [S, V] of [[2, 2], [3, 4], [1, 3], [4, 2]]) {
      const hmm = randomHmm(rng, S, V);
      const lifted = hmmToLiftedReluRnn(hmm);
      const H = S * V + 1;
      expect(lifted.hiddenSize).toBe(H);
      const spec = resolveSpec('rnn', { inputSize: V, hiddenSize: H, nonlinearity: 'relu', bias: false });
      const B = 3;
      const T = 6;
      const seqs = Array.from({ length: B }, () => randomSequence(rng, T, V));
      const x = new Float64Array(T * B * V);
      seqs.forEach((s, b) => s.forEach((o, t) => (x[(t * B + b) * V + o] = 1)));
      const h0 = new Float64Array(B * H);
      for (let b = 0; b < B; b++) h0.set(lifted.h0, b * H);
      const { output } = recurrentForwardReference(spec, lifted.stateDict, x, { batch: B, seqLen: T, h0 });
      seqs.forEach((s, b) => {
        const joint = bruteForceJoint(hmm, s);
        for (let t = 0; t < T; t++) {
          for (let v = 0; v < V; v++) {
            for (let j = 0; j < S; j++) {
              const want = v === s[t] ? joint[t][j] : 0;
              expect(Math.abs(output[(t * B + b) * H + v * S + j] - want)).toBeLessThan(1e-15);
            }
          }
          expect(output[(t * B + b) * H + S * V]).toBe(0); // the start unit is spent after step 1
        }
      });
    }
  });

  it('with the identity instead of relu the same weights are wrong (the relu is what gates)', () => {
    const rng = createRandom(31);
    const hmm = randomHmm(rng, 2, 3);
    const lifted = hmmToLiftedReluRnn(hmm);
    const H = lifted.hiddenSize;
    const obs = [0, 2, 1];
    const x = new Float64Array(obs.length * 3);
    obs.forEach((o, t) => (x[t * 3 + o] = 1));
    const run = (nonlinearity: 'relu' | 'identity'): number => {
      const spec = resolveSpec('rnn', { inputSize: 3, hiddenSize: H, nonlinearity, bias: false });
      const { hN } = recurrentForwardReference(spec, lifted.stateDict, x, { batch: 1, seqLen: obs.length, h0: lifted.h0 });
      return hN.reduce((a, b) => a + b, 0);
    };
    const want = bruteForceJoint(hmm, obs).at(-1)!.reduce((a, b) => a + b, 0);
    expect(Math.abs(run('relu') - want)).toBeLessThan(1e-15);
    expect(Math.abs(run('identity') - want)).toBeGreaterThan(0.1);
  });

  it('refuses a margin C ≤ 1', () => {
    const hmm = randomHmm(createRandom(2), 2, 2);
    expectInvalidOption(() => hmmToLiftedReluRnn(hmm, { margin: 1 }), /margin must be a finite number > 1/);
  });
});

describe('on the GPU: webrnn Elman relu model over the lifted state (float32)', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await testEngine();
  });
  afterAll(() => engine?.destroy());

  // float32 tolerance on ln P: W_hh's entries and each step's sums are rounded to float32
  // (2⁻²⁴ ≈ 6e−8 relative), so each step's ln c_t carries an error of a few 1e−9 (measured on
  // SwiftShader: |Δ ln P| ≤ 6e−9·T for T up to 1000); allowed |Δ ln P| ≤ 2e−8·T + 2e−6.
  const tolerance = (T: number): number => 2e-8 * T + 2e-6;

  it('batches of sequences of mixed lengths, default and short chunks, forced restarts', async () => {
    const rng = createRandom(123);
    for (const [S, V] of [[3, 4], [2, 5]]) {
      const hmm = randomHmm(rng, S, V);
      const seqs = [1, 5, 40, 0, 150, 2].map((T) => randomSequence(rng, T, V));
      // minMass 0.3 cuts nearly every chunk after a step or two: shorter sequences keep it quick.
      for (const options of [{}, { chunkLength: 7 }, { chunkLength: 16, minMass: 0.3 }]) {
        const some = options.minMass ? seqs.map((s) => s.slice(0, 30)) : seqs;
        const got = await hmmLogLikelihoodGpu(engine, hmm, some, options);
        some.forEach((s, n) => {
          const want = hmmLogLikelihood(hmm, s);
          const err = Math.abs(got[n] - want);
          if (!(err <= tolerance(s.length))) throw new Error(`S=${S} V=${V} ${JSON.stringify(options)} sequence ${n} (T=${s.length}): got ${got[n]}, want ${want}`);
        });
        expect(got[3]).toBe(0);
      }
    }
  });

  it('T = 500 where float32 (and float64) unscaled probabilities underflow', async () => {
    const rng = createRandom(5);
    const hmm = randomHmm(rng, 4, 8);
    const obs = randomSequence(rng, 500, 8);
    const want = hmmLogLikelihood(hmm, obs);
    expect(want).toBeLessThan(-745);
    const [got] = await hmmLogLikelihoodGpu(engine, hmm, [obs]);
    expect(Math.abs(got - want)).toBeLessThan(tolerance(500));
  });

  it('an impossible sequence gives −Infinity, the others in the batch are unaffected', async () => {
    const hmm: Hmm = { initial: [1, 0], transition: [[0, 1], [0, 1]], emission: [[1, 0], [0.5, 0.5]] };
    const got = await hmmLogLikelihoodGpu(engine, hmm, [[0, 1, 0], [1], [0, 0, 1, 0]]);
    expect(Math.abs(got[0] - Math.log(0.25))).toBeLessThan(1e-6);
    expect(got[1]).toBe(-Infinity);
    expect(Math.abs(got[2] - Math.log(0.125))).toBeLessThan(1e-6);
  });

  it('refuses bad observations and options before touching the GPU', async () => {
    const hmm = randomHmm(createRandom(3), 2, 3);
    await expect(hmmLogLikelihoodGpu(engine, hmm, [[0, 3]])).rejects.toMatchObject({ code: 'invalid-option' });
    await expect(hmmLogLikelihoodGpu(engine, hmm, [[0]], { chunkLength: 0 })).rejects.toMatchObject({ code: 'invalid-option' });
  });
});
