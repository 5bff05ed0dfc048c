/**
 * TensorFlow.js layers models: model.json + weight bytes, built here in the tfjs format, run
 * through engine.load and compared with an independent Keras-semantics oracle (Keras's gate
 * orders and kernel layouts, batch-first); and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { WebRnnError } from '../../src/errors.js';
import { planFromTfjs } from '../../src/io/tfjs.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('tfjs');
let engine: Engine;
beforeAll(async () => {
  engine = await createEngine();
});
afterAll(() => engine?.destroy());

type Kind = 'LSTM' | 'GRU' | 'SimpleRNN';
interface Keras {
  kind: Kind;
  units: number;
  bidirectional: boolean;
  layers: number;
  resetAfter: boolean;
  recurrentActivation: string;
  dense: number;
  input: number;
  /** Per layer, per direction: kernel [in, G·H], recurrent [H, G·H], bias. */
  weights: Array<Array<{ kernel: Float32Array; recurrent: Float32Array; bias: Float32Array }>>;
  denseKernel?: Float32Array;
  denseBias?: Float32Array;
}

const gatesOf = (k: Kind): number => (k === 'LSTM' ? 4 : k === 'GRU' ? 3 : 1);

function randomKeras(kind: Kind, bidirectional: boolean, layers: number, resetAfter = true, recurrentActivation = 'sigmoid'): Keras {
  const H = 4;
  const I = 3;
  const G = gatesOf(kind);
  const D = bidirectional ? 2 : 1;
  const s = Math.sqrt(3 / H);
  const weights = Array.from({ length: layers }, (_, l) =>
    Array.from({ length: D }, () => ({
      kernel: randomFloats(rng, (l === 0 ? I : D * H) * G * H, -s, s),
      recurrent: randomFloats(rng, H * G * H, -s, s),
      bias: randomFloats(rng, (kind === 'GRU' && resetAfter ? 2 : 1) * G * H, -0.5, 0.5),
    })),
  );
  return { kind, units: H, bidirectional, layers, resetAfter, recurrentActivation, dense: 2, input: I, weights, denseKernel: randomFloats(rng, D * H * 2), denseBias: randomFloats(rng, 2) };
}

/** model.json and the weight bytes, as the tfjs converter lays them out. */
function tfjsFiles(k: Keras): { json: unknown; weights: ArrayBuffer } {
  const G = gatesOf(k.kind);
  const H = k.units;
  const D = k.bidirectional ? 2 : 1;
  const layers: unknown[] = [];
  const manifest: Array<{ name: string; shape: number[]; dtype: string }> = [];
  const data: Float32Array[] = [];
  const add = (name: string, shape: number[], a: Float32Array): void => {
    manifest.push({ name, shape, dtype: 'float32' });
    data.push(a);
  };
  for (let l = 0; l < k.layers; l++) {
    const name = l === 0 ? k.kind.toLowerCase() : `${k.kind.toLowerCase()}_${l}`;
    const inner = {
      class_name: k.kind,
      config: { name, units: H, activation: 'tanh', recurrent_activation: k.recurrentActivation, use_bias: true, return_sequences: true, reset_after: k.resetAfter, ...(l === 0 ? { batch_input_shape: [null, null, k.input] } : {}) },
    };
    const I = l === 0 ? k.input : D * H;
    const biasShape = k.kind === 'GRU' && k.resetAfter ? [2, G * H] : [G * H];
    if (k.bidirectional) {
      const bname = l === 0 ? 'bidirectional' : `bidirectional_${l}`;
      layers.push({ class_name: 'Bidirectional', config: { name: bname, layer: inner, merge_mode: 'concat' } });
      (['forward', 'backward'] as const).forEach((dir, d) => {
        // TF2 names: <wrapper>/<dir>_<layer>/<cell>/<leaf>
        const p = `${bname}/${dir}_${name}/${k.kind.toLowerCase()}_cell`;
        add(`${p}/kernel`, [I, G * H], k.weights[l][d].kernel);
        add(`${p}/recurrent_kernel`, [H, G * H], k.weights[l][d].recurrent);
        add(`${p}/bias`, biasShape, k.weights[l][d].bias);
      });
    } else {
      layers.push(inner);
      add(`${name}/kernel`, [I, G * H], k.weights[l][0].kernel);
      add(`${name}/recurrent_kernel`, [H, G * H], k.weights[l][0].recurrent);
      add(`${name}/bias`, biasShape, k.weights[l][0].bias);
    }
  }
  layers.push({ class_name: 'Dense', config: { name: 'dense', units: k.dense, activation: 'linear' } });
  add('dense/kernel', [D * H, k.dense], k.denseKernel!);
  add('dense/bias', [k.dense], k.denseBias!);
  const total = data.reduce((n, a) => n + a.length, 0);
  const all = new Float32Array(total);
  let at = 0;
  for (const a of data) {
    all.set(a, at);
    at += a.length;
  }
  return { json: { format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { name: 'm', layers } }, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: manifest }] }, weights: all.buffer };
}

const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const hardSig = (x: number): number => Math.max(0, Math.min(1, 0.2 * x + 0.5));

/** Keras semantics, batch-first [B, T, I] → y [B, T, O]. */
function kerasOracle(k: Keras, x: Float32Array, B: number, T: number): Float64Array {
  const H = k.units;
  const G = gatesOf(k.kind);
  const D = k.bidirectional ? 2 : 1;
  const ra = k.recurrentActivation === 'hard_sigmoid' ? hardSig : sig;
  let seq: Float64Array[][] = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => Float64Array.from(x.subarray((b * T + t) * k.input, (b * T + t + 1) * k.input))));
  for (let l = 0; l < k.layers; l++) {
    const next: Float64Array[][] = Array.from({ length: B }, () => Array.from({ length: T }, () => new Float64Array(D * H)));
    for (let d = 0; d < D; d++) {
      const { kernel, recurrent, bias } = k.weights[l][d];
      const I = seq[0][0].length;
      for (let b = 0; b < B; b++) {
        let h = new Float64Array(H);
        let c = new Float64Array(H);
        for (let s = 0; s < T; s++) {
          const t = d === 0 ? s : T - 1 - s;
          const xt = seq[b][t];
          const xk = (q: number): number => {
            let a = 0;
            for (let i = 0; i < I; i++) a += xt[i] * kernel[i * G * H + q];
            return a;
          };
          const hr = (q: number, hv: ArrayLike<number>): number => {
            let a = 0;
            for (let m = 0; m < H; m++) a += hv[m] * recurrent[m * G * H + q];
            return a;
          };
          const hn = new Float64Array(H);
          if (k.kind === 'LSTM') {
            const cn = new Float64Array(H);
            for (let j = 0; j < H; j++) {
              const z = (g: number): number => xk(g * H + j) + hr(g * H + j, h) + bias[g * H + j];
              const i = ra(z(0));
              const f = ra(z(1));
              const cc = Math.tanh(z(2));
              const o = ra(z(3));
              cn[j] = f * c[j] + i * cc;
              hn[j] = o * Math.tanh(cn[j]);
            }
            c = cn;
          } else if (k.kind === 'GRU') {
            const zr = (g: number, j: number): number => xk(g * H + j) + bias[g * H + j] + hr(g * H + j, h) + (k.resetAfter ? bias[G * H + g * H + j] : 0);
            const r = Float64Array.from({ length: H }, (_, j) => ra(zr(1, j)));
            const rh = Float64Array.from({ length: H }, (_, m) => r[m] * h[m]);
            for (let j = 0; j < H; j++) {
              const z = ra(zr(0, j));
              const hh = k.resetAfter ? Math.tanh(xk(2 * H + j) + bias[2 * H + j] + r[j] * (hr(2 * H + j, h) + bias[G * H + 2 * H + j])) : Math.tanh(xk(2 * H + j) + hr(2 * H + j, rh) + bias[2 * H + j]);
              hn[j] = z * h[j] + (1 - z) * hh;
            }
          } else {
            for (let j = 0; j < H; j++) hn[j] = Math.tanh(xk(j) + hr(j, h) + bias[j]);
          }
          h = hn;
          next[b][t].set(h, d * H);
        }
      }
    }
    seq = next;
  }
  const O = k.dense;
  const y = new Float64Array(B * T * O);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let o = 0; o < O; o++) {
        let a = k.denseBias![o];
        for (let f = 0; f < D * H; f++) a += seq[b][t][f] * k.denseKernel![f * O + o];
        y[(b * T + t) * O + o] = a;
      }
    }
  }
  return y;
}

describe('TensorFlow.js layers models', () => {
  const cases: Array<[string, () => Keras]> = [
    ['LSTM', () => randomKeras('LSTM', false, 1)],
    ['LSTM, 2 layers, Bidirectional', () => randomKeras('LSTM', true, 2)],
    ['LSTM with hard_sigmoid gates', () => randomKeras('LSTM', false, 1, true, 'hard_sigmoid')],
    ['GRU reset_after', () => randomKeras('GRU', true, 1, true)],
    ['GRU reset_after false, 2 layers', () => randomKeras('GRU', false, 2, false)],
    ['SimpleRNN, Bidirectional', () => randomKeras('SimpleRNN', true, 1)],
  ];
  for (const [name, make] of cases) {
    it(`${name}: matches the Keras-semantics oracle`, async () => {
      const k = make();
      const model = await engine.load(tfjsFiles(k));
      expect(model.spec.batchFirst).toBe(true);
      const B = 2;
      const T = 5;
      const x = randomFloats(rng, B * T * k.input);
      const { y } = await model.forward(x, { batch: B, seqLen: T });
      expectClose(`tfjs ${name} (seed ${seed})`, y!, kerasOracle(k, x, B, T));
      model.destroy();
    });
  }

  it('fuzz: 2000 mutated model.json files and weight sizes each plan or fail with our error', () => {
    const k = randomKeras('GRU', true, 2, true);
    const files = tfjsFiles(k);
    const text = JSON.stringify(files.json);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const pick = (n: number): number => Math.floor(rng.uniform() * n);
      let json = text;
      let weights: ArrayBuffer = files.weights;
      switch (pick(4)) {
        case 0: {
          // rewrite a number
          const numbers = [...json.matchAll(/-?\d+/g)];
          const m = numbers[pick(numbers.length)];
          json = json.slice(0, m.index) + String([0, -1, 1, 3, 1e9, 2 ** 31][pick(6)]) + json.slice(m.index! + m[0].length);
          break;
        }
        case 1: {
          // rewrite a string
          const strings = [...json.matchAll(/"[A-Za-z_]+"/g)];
          const m = strings[pick(strings.length)];
          json = json.slice(0, m.index) + ['"x"', 'null', '3', '[]', '{}', '"LSTM"', '"Bidirectional"'][pick(7)] + json.slice(m.index! + m[0].length);
          break;
        }
        case 2: // cut the text
          json = json.slice(0, pick(json.length));
          break;
        default: // wrong weight sizes
          weights = files.weights.slice(0, pick(files.weights.byteLength + 1));
      }
      let outcome = 'ok';
      try {
        planFromTfjs({ json, weights });
      } catch (e) {
        if (!(e instanceof WebRnnError)) throw new Error(`mutant ${i}: not a WebRnnError: ${String(e)} (seed ${seed})\n${json.slice(0, 300)}`);
        outcome = e.code;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.info(`fuzz (tfjs): 2000 inputs, outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('refuses what it does not support, naming it', async () => {
    const k = randomKeras('LSTM', false, 1);
    const files = tfjsFiles(k) as { json: { modelTopology: { config: { layers: Array<{ class_name: string; config: Record<string, unknown> }> } } }; weights: ArrayBuffer };
    const refuse = async (mutate: (j: typeof files.json) => void, weights: ArrayBuffer, message: RegExp): Promise<void> => {
      const json = JSON.parse(JSON.stringify(files.json));
      mutate(json);
      let error: unknown;
      try {
        (await engine.load({ json, weights })).destroy();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WebRnnError);
      expect((error as Error).message).toMatch(message);
    };
    await refuse((j) => (j.modelTopology.config.layers[0].class_name = 'ConvLSTM2D'), files.weights, /layer ConvLSTM2D is not supported/);
    await refuse((j) => (j.modelTopology.config.layers[0].config.go_backwards = true), files.weights, /go_backwards is not supported/);
    await refuse((j) => (j.modelTopology.config.layers[1].config.activation = 'softmax'), files.weights, /activation 'softmax'/);
    await refuse(() => {}, files.weights.slice(0, 100), /runs past the 100 bytes/);
    await refuse(() => {}, new Float32Array(1000).buffer, /covers .* bytes of the 4000 given/);
    await refuse((j) => (j.modelTopology.config.layers[0].config.recurrent_activation = 'swish'), files.weights, /recurrent_activation 'swish' is not supported/);
  });
});
