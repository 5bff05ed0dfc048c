// A character-level LSTM trained in the page: windows of the text as one-hot sequences, the
// next character as the cross-entropy target on every step, then sampling from a stream.
import text from './texts/gettysburg.txt?raw';
import { element, getEngine, linePlot, status, wire, yieldToPage } from './common.js';

const alphabet = [...new Set(text)].sort();
const V = alphabet.length;
const ids = Array.from(text, (ch) => alphabet.indexOf(ch));

/** Entropy (nats) of the text's character frequencies: the loss of the best unigram model. */
function unigramEntropy(): number {
  const counts = new Map<number, number>();
  for (const i of ids) counts.set(i, (counts.get(i) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / ids.length) * Math.log(c / ids.length);
  return h;
}

wire(element<HTMLButtonElement>('run'), async () => {
  const H = Number(element<HTMLInputElement>('hidden').value);
  const seconds = Number(element<HTMLInputElement>('seconds').value);
  const temperature = Number(element<HTMLInputElement>('temperature').value);
  const untilLimit = element<HTMLInputElement>('full').checked;
  const engine = await getEngine();
  const model = engine.lstm({ inputSize: V, hiddenSize: H, outputSize: V, batchFirst: true, seed: 7 });
  model.initialize({ forgetBias: 1 });
  const B = 16;
  const T = 32;
  const floor = unigramEntropy();
  const losses: number[] = [];
  const x = new Float32Array(B * T * V);
  const target = new Float32Array(B * T);
  const start = performance.now();
  let seed = 12345;
  const uniform = (): number => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  let smoothed = Infinity;
  try {
    while (performance.now() - start < seconds * 1000) {
      x.fill(0);
      for (let b = 0; b < B; b++) {
        const at = Math.floor(uniform() * (ids.length - T - 1));
        for (let t = 0; t < T; t++) {
          x[(b * T + t) * V + ids[at + t]] = 1;
          target[b * T + t] = ids[at + t + 1];
        }
      }
      const { loss } = await model.trainStep(x, target, { batch: B, seqLen: T, loss: 'cross-entropy', optimizer: { type: 'adam', lr: 0.01 }, clipGradNorm: 1 });
      losses.push(loss!);
      const recent = losses.slice(-10);
      smoothed = recent.reduce((a, b) => a + b, 0) / recent.length;
      if (losses.length % 5 === 0) {
        linePlot(element<HTMLCanvasElement>('loss'), [
          { label: 'cross-entropy (nats)', values: losses, color: '#1f77b4' },
          { label: 'unigram entropy', values: losses.map(() => floor), color: '#999' },
        ], { title: 'training loss per step', xLabel: 'step' });
        const elapsed = (performance.now() - start) / 1000;
        status(`step ${losses.length}: loss ${smoothed.toFixed(3)} (unigram entropy ${floor.toFixed(3)}), ${elapsed.toFixed(0)} s`, elapsed / seconds);
        await yieldToPage();
      }
      // Done once the mean of the last 10 steps is 10% below the unigram entropy.
      if (!untilLimit && losses.length >= 10 && smoothed < 0.9 * floor) break;
    }
    const trainedIn = (performance.now() - start) / 1000;

    // Sampling: one step per character from a stream, the read-out's logits through a softmax.
    status('sampling…');
    const stream = model.stream({ batch: 1 });
    const xt = new Float32Array(V);
    let current = ids[0];
    let out = alphabet[current];
    for (let i = 0; i < 300; i++) {
      xt.fill(0);
      xt[current] = 1;
      const { y } = await stream.step(xt);
      const logits = Array.from(y!, (v) => v / temperature);
      const m = Math.max(...logits);
      const p = logits.map((v) => Math.exp(v - m));
      let u = uniform() * p.reduce((a, b) => a + b, 0);
      current = p.length - 1;
      for (let k = 0; k < p.length; k++) if ((u -= p[k]) < 0) {
        current = k;
        break;
      }
      out += alphabet[current];
    }
    stream.close();
    element('sample').textContent = out;
    const reached = smoothed < floor;
    if (!reached) throw new Error(`after ${losses.length} steps (${trainedIn.toFixed(0)} s) the loss ${smoothed.toFixed(3)} is not below the unigram entropy ${floor.toFixed(3)}`);
    return `${losses.length} steps in ${trainedIn.toFixed(1)} s: loss ${smoothed.toFixed(3)} nats, below the unigram entropy ${floor.toFixed(3)}`;
  } finally {
    model.destroy();
  }
});
