// A character-level LSTM: the model this site ships (trained by webrnn, demo/models/
// train-char-lstm.mjs) samples text on arrival, streamed one character per step; a second one
// trains from scratch in the page on the same text.
import { readSafetensors, type Engine, type RecurrentModel } from '../src/index.js';
import modelUrl from './models/char-lstm.safetensors?url';
import textUrl from './texts/shakespeare.txt?url';
import { element, getEngine, linePlot, status, wire, yieldToPage } from './common.js';

const page = {
  sample: element<HTMLButtonElement>('sample'),
  train: element<HTMLButtonElement>('run'),
};
const busy = [page.sample, page.train];

let corpus: Promise<string> | null = null;
/** The text both models learn from (fetched once). */
function shakespeare(): Promise<string> {
  corpus ??= fetch(textUrl).then((r) => {
    if (!r.ok) throw new Error(`the text did not load (${r.status} ${r.statusText})`);
    return r.text();
  });
  return corpus;
}

interface Shipped {
  model: RecurrentModel;
  alphabet: string[];
  dtype: string;
  steps: string;
  heldOut: string;
}
let shipped: Promise<Shipped> | null = null;
/** The shipped model and its alphabet, from the safetensors file and its metadata. */
function shippedModel(engine: Engine): Promise<Shipped> {
  shipped ??= (async () => {
    const response = await fetch(modelUrl);
    if (!response.ok) throw new Error(`the trained model did not load (${response.status} ${response.statusText})`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const { metadata, tensors } = readSafetensors(bytes);
    const model = (await engine.load(bytes, { format: 'safetensors' })) as RecurrentModel;
    const alphabet = JSON.parse(metadata['webrnn.demo.alphabet']) as string[];
    return { model, alphabet, dtype: Object.values(tensors)[0].dtype, steps: metadata['webrnn.demo.steps'], heldOut: metadata['webrnn.demo.held-out-loss'] };
  })();
  shipped.catch(() => {
    shipped = null;
  });
  return shipped;
}

/** Cross-entropy of a softmax over `logits` at `target` (nats). */
function crossEntropy(logits: ArrayLike<number>, target: number): number {
  let m = -Infinity;
  for (let k = 0; k < logits.length; k++) m = Math.max(m, logits[k]);
  let z = 0;
  for (let k = 0; k < logits.length; k++) z += Math.exp(logits[k] - m);
  return m + Math.log(z) - logits[target];
}

/** A character drawn from softmax(logits / temperature). */
function draw(logits: ArrayLike<number>, temperature: number): number {
  const scaled = Array.from(logits, (v) => v / temperature);
  const m = Math.max(...scaled);
  const p = scaled.map((v) => Math.exp(v - m));
  let u = Math.random() * p.reduce((a, b) => a + b, 0);
  for (let k = 0; k < p.length; k++) if ((u -= p[k]) < 0) return k;
  return p.length - 1;
}

/**
 * Stream `count` characters from `model` into `out`, after priming it with `prime` (from the
 * state `from`, or zeros): one stream step per character, shown as it comes, paced to a reading speed.
 */
async function streamText(model: RecurrentModel, alphabet: string[], prime: string, count: number, temperature: number, out: HTMLElement, from?: { hN: Float32Array; cN?: Float32Array }): Promise<number> {
  const index = new Map(alphabet.map((ch, i) => [ch, i]));
  const ids = Array.from(prime, (ch) => index.get(ch) ?? index.get(' ')!);
  const stream = model.stream({ batch: 1, h0: from?.hN, c0: from?.cN });
  try {
    out.textContent = prime;
    let y: Float32Array | null = null;
    for (const id of ids.length ? ids : [index.get('\n')!]) ({ y } = await stream.step(Int32Array.of(id)));
    const start = performance.now();
    const perSecond = 90;
    for (let i = 0; i < count; i++) {
      const next = draw(y!, temperature);
      out.textContent += alphabet[next];
      ({ y } = await stream.step(Int32Array.of(next)));
      const ahead = (i + 1) / perSecond - (performance.now() - start) / 1000;
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead * 1000));
      else if (i % 20 === 0) await yieldToPage();
    }
    return (performance.now() - start) / 1000;
  } finally {
    stream.close();
  }
}

/** Mean cross-entropy over `length` characters of `text` from `at` (nats/char), and the states the model ends in. */
async function heldOutLoss(model: RecurrentModel, alphabet: string[], text: string, at: number, length: number): Promise<{ loss: number; hN: Float32Array; cN?: Float32Array }> {
  const index = new Map(alphabet.map((ch, i) => [ch, i]));
  const ids = Int32Array.from(text.slice(at, at + length + 1), (ch) => index.get(ch)!);
  const { y, hN, cN } = await model.forward(ids.subarray(0, length), { batch: 1, seqLen: length });
  const V = alphabet.length;
  let sum = 0;
  for (let t = 0; t < length; t++) sum += crossEntropy(y.subarray(t * V, (t + 1) * V), ids[t + 1]);
  return { loss: sum / length, hN, cN };
}

function sampling(): { prime: string; count: number; temperature: number } {
  return { prime: element<HTMLInputElement>('prime').value.replace(/\\n/g, '\n'), count: Number(element<HTMLInputElement>('length').value), temperature: Number(element<HTMLInputElement>('temperature').value) };
}

wire(page.sample, async () => {
  status('loading the trained model…');
  const engine = await getEngine();
  const [{ model, alphabet, dtype, steps, heldOut }, text] = await Promise.all([shippedModel(engine), shakespeare()]);
  // The last tenth of the text was held out of training: score 2000 characters from its middle,
  // then write on from the state that passage left (the model trained on states carried along
  // the text, rarely from zeros).
  const read = await heldOutLoss(model, alphabet, text, Math.floor(text.length * 0.95), 2000);
  const loss = read.loss;
  const { prime, count, temperature } = sampling();
  status(`held-out loss ${loss.toFixed(3)} nats/char; sampling…`);
  const seconds = await streamText(model, alphabet, prime, count, temperature, element('sample-text'), read);
  return `trained model (${steps} steps, weights in ${dtype}): held-out loss ${loss.toFixed(3)} nats/char on 2000 characters (${heldOut} on the whole held-out tenth, by the training script); ${count} characters streamed in ${seconds.toFixed(1)} s at temperature ${temperature}`;
}, busy);

/** Entropy (nats) of the text's character frequencies: the loss of the best unigram model. */
function unigramEntropy(ids: Int32Array): number {
  const counts = new Map<number, number>();
  for (const i of ids) counts.set(i, (counts.get(i) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / ids.length) * Math.log(c / ids.length);
  return h;
}

wire(page.train, async () => {
  const H = Number(element<HTMLInputElement>('hidden').value);
  const seconds = Number(element<HTMLInputElement>('seconds').value);
  const [engine, text] = await Promise.all([getEngine(), shakespeare()]);
  const alphabet = [...new Set(text)].sort();
  const V = alphabet.length;
  const index = new Map(alphabet.map((ch, i) => [ch, i]));
  const ids = Int32Array.from(text, (ch) => index.get(ch)!);
  const model = engine.lstm({ embedding: { numEmbeddings: V }, inputSize: 32, hiddenSize: H, outputSize: V, batchFirst: true, seed: 7 });
  model.initialize({ forgetBias: 1 });
  // Windows of T characters from random places in the first nine tenths, the next character
  // as the target at every step.
  const B = 32;
  const T = 64;
  const trainEnd = Math.floor(ids.length * 0.9) - T - 1;
  const floor = unigramEntropy(ids);
  const losses: number[] = [];
  const x = new Int32Array(B * T);
  const target = new Float32Array(B * T);
  const start = performance.now();
  try {
    while (performance.now() - start < seconds * 1000) {
      for (let b = 0; b < B; b++) {
        const at = Math.floor(Math.random() * trainEnd);
        x.set(ids.subarray(at, at + T), b * T);
        for (let t = 0; t < T; t++) target[b * T + t] = ids[at + t + 1];
      }
      const { loss } = await model.trainStep(x, target, { batch: B, seqLen: T, loss: 'cross-entropy', optimizer: { type: 'adam', lr: 0.005 }, clipGradNorm: 5 });
      losses.push(loss);
      const elapsed = (performance.now() - start) / 1000;
      if (losses.length % 5 === 0) {
        linePlot(element<HTMLCanvasElement>('loss'), [
          { label: 'cross-entropy (nats)', values: losses, color: '#2f6fdd' },
          { label: 'unigram entropy', values: losses.map(() => floor), color: '#999' },
        ], { title: 'training loss per step', xLabel: 'step' });
        status(`step ${losses.length}: loss ${loss.toFixed(3)} (unigram entropy ${floor.toFixed(3)}), ${elapsed.toFixed(0)} s`, elapsed / seconds);
        await yieldToPage();
      }
    }
    const trainedIn = (performance.now() - start) / 1000;
    const read = await heldOutLoss(model, alphabet, text, Math.floor(text.length * 0.95), 2000);
    status(`held-out loss ${read.loss.toFixed(3)} nats/char; sampling…`);
    const { prime, temperature } = sampling();
    await streamText(model, alphabet, prime, 300, temperature, element('trained-text'), read);
    const summary = `${losses.length} steps in ${trainedIn.toFixed(1)} s: held-out loss ${read.loss.toFixed(3)} nats/char`;
    if (!(read.loss < floor)) throw new Error(`${summary}, not below the unigram entropy ${floor.toFixed(3)}`);
    return `${summary}, below the unigram entropy ${floor.toFixed(3)}`;
  } finally {
    model.destroy();
  }
}, busy);

// A visitor first sees the trained model at work.
page.sample.click();
