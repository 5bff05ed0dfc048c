#!/usr/bin/env node
// Trains the character-level LSTM that the char-lstm page ships with, on webrnn itself, and
// writes it as safetensors (demo/models/char-lstm.safetensors).
//
//   npm run build && node demo/models/train-char-lstm.mjs [--steps 9000] [--hidden 256]
//       [--backend wasm|webgpu|auto] [--checkpoint FILE] [--resume FILE] [--out FILE]
//
// The text (demo/texts/shakespeare.txt) is split 90/10; the first part is read as B parallel
// streams, each cut into chunks of T characters: a training step takes the next chunk of every
// stream, starting from the states the last chunk ended in (truncated BPTT, gradients T steps
// deep), the next character as the cross-entropy target at every position. Adam, the learning
// rate on a cosine from lr to lr/20 over the steps, gradients clipped to norm 5. The held-out
// tenth is scored the same way (16 streams, states carried) every `--every` steps and at the end.
// With --checkpoint the model and the optimizer's state are saved as it goes, so that --resume
// continues the same run; --steps counts the run's steps in all.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createEngine, readSafetensors } from '../../dist/index.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const steps = Number(args.steps ?? 9000);
const H = Number(args.hidden ?? 256);
const E = Number(args.embedding ?? 64);
const B = Number(args.batch ?? 32);
const T = Number(args.chunk ?? 64);
const lr = Number(args.lr ?? 0.002);
const every = Number(args.every ?? 500);
const out = args.out ?? here('./char-lstm.safetensors');
const dtype = args.dtype ?? 'F16';

const text = readFileSync(here('../texts/shakespeare.txt'), 'utf8');
const alphabet = [...new Set(text)].sort();
const V = alphabet.length;
const index = new Map(alphabet.map((ch, i) => [ch, i]));
const ids = Int32Array.from(text, (ch) => index.get(ch));
const split = Math.floor(ids.length * 0.9);
const train = ids.subarray(0, split);
const heldOut = ids.subarray(split);

const engine = await createEngine({ backend: args.backend ?? 'wasm' });
const model = args.resume
  ? await engine.load(readFileSync(args.resume))
  : engine.lstm({ embedding: { numEmbeddings: V }, inputSize: E, hiddenSize: H, outputSize: V, batchFirst: true, seed: 20261208 });
if (!args.resume) model.initialize({ forgetBias: 1 });
// Steps already taken by the run resumed.
const done = args.resume ? Number(readSafetensors(readFileSync(args.resume)).metadata['webrnn.demo.steps'] ?? 0) : 0;

/** B streams over `ids`, each `length` characters; chunk k of stream b starts at b·length + k·T. */
function streams(part, count) {
  const length = Math.floor((part.length - 1) / count);
  return { length, chunks: Math.floor(length / T) };
}
const trainStreams = streams(train, B);

/** The inputs and next-character targets of chunk k of every stream, [count, len] batch-first. */
function chunk(part, count, length, k, len) {
  const x = new Int32Array(count * len);
  const target = new Float32Array(count * len);
  for (let b = 0; b < count; b++) {
    const at = b * length + k * len;
    x.set(part.subarray(at, at + len), b * len);
    for (let t = 0; t < len; t++) target[b * len + t] = part[at + t + 1];
  }
  return { x, target };
}

/** Mean cross-entropy (nats per character) of `net` over the held-out text, 16 streams, states carried. */
async function heldOutLoss(net = model) {
  const count = 16;
  const len = 256;
  const { length } = streams(heldOut, count);
  let h0;
  let c0;
  let sum = 0;
  let n = 0;
  for (let k = 0; (k + 1) * len <= length; k++) {
    const { x, target } = chunk(heldOut, count, length, k, len);
    const r = await net.forward(x, { batch: count, seqLen: len, h0, c0 });
    ({ hN: h0, cN: c0 } = r);
    for (let i = 0; i < count * len; i++) {
      const logits = r.y.subarray(i * V, (i + 1) * V);
      let m = -Infinity;
      for (const v of logits) m = Math.max(m, v);
      let z = 0;
      for (const v of logits) z += Math.exp(v - m);
      sum += m + Math.log(z) - logits[target[i]];
      n++;
    }
  }
  return sum / n;
}

const metadata = (step, loss, full = loss) => ({
  'webrnn.demo.alphabet': JSON.stringify(alphabet),
  'webrnn.demo.steps': String(step),
  'webrnn.demo.held-out-loss': loss.toFixed(4),
  'webrnn.demo.held-out-loss-f32': full.toFixed(4),
  'webrnn.demo.trained': `demo/models/train-char-lstm.mjs: ${step} steps of ${B} x ${T} characters, Adam lr ${lr} cosine to ${lr / 20}, clip 5, on ${engine.info.backend}`,
});

let h0;
let c0;
const start = performance.now();
let recent = [];
for (let step = done; step < steps; step++) {
  const k = step % trainStreams.chunks;
  // Each pass over the text starts from zero states.
  if (k === 0) [h0, c0] = [undefined, undefined];
  const { x, target } = chunk(train, B, trainStreams.length, k, T);
  const rate = lr / 20 + (lr - lr / 20) * 0.5 * (1 + Math.cos((Math.PI * step) / steps));
  const r = await model.trainStep(x, target, { batch: B, seqLen: T, h0, c0, loss: 'cross-entropy', optimizer: { type: 'adam', lr: rate }, clipGradNorm: 5, returnState: true });
  ({ hN: h0, cN: c0 } = r);
  recent.push(r.loss);
  if ((step + 1) % every === 0 || step + 1 === steps) {
    const loss = await heldOutLoss();
    const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
    recent = [];
    const minutes = (performance.now() - start) / 60000;
    console.log(`step ${step + 1}/${steps}: training loss ${mean.toFixed(4)}, held-out ${loss.toFixed(4)} nats/char, lr ${rate.toExponential(2)}, ${minutes.toFixed(1)} min`);
    if (args.checkpoint) writeFileSync(args.checkpoint, await model.save({ optimizer: true, metadata: metadata(step + 1, loss) }));
  }
}
// The file holds the weights rounded to `dtype`: its held-out loss is measured on them, beside the float32 one.
const full = await heldOutLoss();
const rounded = await engine.load(await model.save({ dtype }), { format: 'safetensors' });
const loss = await heldOutLoss(rounded);
writeFileSync(out, await rounded.save({ dtype, metadata: metadata(Math.max(steps, done), loss, full) }));
console.log(`held-out loss ${loss.toFixed(4)} nats/char in ${dtype} (${full.toFixed(4)} in F32); wrote ${out}`);
