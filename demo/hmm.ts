// HMMs as RNNs: the forward algorithm, its log-space recurrent form, and the exact lifted relu
// form run by webrnn (float32), on random models and sequences.
import { hmmLogLikelihood, hmmLogLikelihoodGpu, hmmToRnn, rnnLogLikelihood, type Hmm } from '../src/index.js';
import { createRandom } from '../src/spec/random.js';
import { element, getEngine, linePlot, status, wire } from './common.js';

function stochastic(rng: { uniform(): number }, n: number): number[] {
  const v = Array.from({ length: n }, () => 0.05 + rng.uniform());
  const s = v.reduce((a, b) => a + b, 0);
  return v.map((x) => x / s);
}

wire(element<HTMLButtonElement>('run'), async () => {
  const S = Number(element<HTMLInputElement>('states').value);
  const V = Number(element<HTMLInputElement>('symbols').value);
  const T = Number(element<HTMLInputElement>('length').value);
  const rng = createRandom(Date.now() % 100000);
  const hmm: Hmm = {
    initial: stochastic(rng, S),
    transition: Array.from({ length: S }, () => stochastic(rng, S)),
    emission: Array.from({ length: S }, () => stochastic(rng, V)),
  };
  // Sequences sampled from the model itself, of lengths up to T.
  const sample = (len: number): number[] => {
    const pick = (p: ArrayLike<number>): number => {
      let u = rng.uniform();
      for (let i = 0; i < p.length; i++) if ((u -= p[i]) < 0) return i;
      return p.length - 1;
    };
    const out: number[] = [];
    let s = pick(hmm.initial);
    for (let t = 0; t < len; t++) {
      out.push(pick(hmm.emission[s]));
      s = pick(hmm.transition[s]);
    }
    return out;
  };
  const sequences = Array.from({ length: 8 }, (_, n) => sample(Math.max(1, Math.round((T * (n + 1)) / 8))));
  status('forward algorithm and recurrent form (float64)…', 0.2);
  const forward = sequences.map((o) => hmmLogLikelihood(hmm, o));
  const rnn = hmmToRnn(hmm);
  const recurrent = sequences.map((o) => rnnLogLikelihood(rnn, o));
  status('the lifted relu RNN in webrnn…', 0.5);
  const gpu = await hmmLogLikelihoodGpu(await getEngine(), hmm, sequences);
  linePlot(
    element<HTMLCanvasElement>('plot'),
    [
      { label: 'forward algorithm', values: forward, color: '#1f77b4', x: sequences.map((o) => o.length) },
      { label: 'recurrent form', values: recurrent, color: '#ff7f0e', x: sequences.map((o) => o.length) },
      { label: 'webrnn (float32)', values: Array.from(gpu), color: '#2ca02c', x: sequences.map((o) => o.length) },
    ],
    { title: 'ln P(o_1..T) against the sequence length', xLabel: 'T' },
  );
  let worstRnn = 0;
  let worstGpu = 0;
  const rows = sequences.map((o, n) => {
    worstRnn = Math.max(worstRnn, Math.abs(recurrent[n] - forward[n]));
    worstGpu = Math.max(worstGpu, Math.abs(gpu[n] - forward[n]));
    return `${String(o.length).padStart(5)}  ${forward[n].toFixed(6).padStart(14)}  ${recurrent[n].toFixed(6).padStart(14)}  ${gpu[n].toFixed(6).padStart(14)}`;
  });
  element('table').textContent = ['    T  forward algorithm  recurrent form   webrnn (float32)', ...rows].join('\n');
  if (!(worstRnn < 1e-9) || !(worstGpu < 1e-3 + 1e-7 * T)) throw new Error(`the likelihoods disagree: ${worstRnn} (recurrent form), ${worstGpu} (webrnn)`);
  return `the three agree: largest difference ${worstRnn.toExponential(1)} (recurrent form, float64), ${worstGpu.toExponential(1)} (webrnn, float32)`;
});
