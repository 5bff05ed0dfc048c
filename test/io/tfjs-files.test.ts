/**
 * TensorFlow.js model files beyond what TensorFlow.js runs: files saved by TensorFlow.js and
 * then changed as Keras and its converter write them (GRU reset_after true against the Keras
 * equations in float64, TF2 weight names and Keras 2 config fields against predict), config
 * values that do not change the computation (accepted, same plan) and those that do
 * (refused by name), and mutated files (each plans or fails with a WebRnnError).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { planFromTfjs } from '../../src/io/tfjs.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { buildTfjs, copyFiles, INPUT, predict, saveTfjs, tf, UNITS, type LayerJson, type ModelJson, type TfjsCase } from './tfjs-models.js';

const { rng, seed } = testRandom('tfjs-files');
let engine: Engine;
beforeAll(async () => {
  await tf.setBackend('cpu');
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const B = 3;
const T = 6;

/** Saved files of `c`, and the TensorFlow.js model (disposed by the caller). */
async function saved(c: TfjsCase): Promise<{ files: { json: ModelJson; weights: ArrayBuffer }; model: tf.LayersModel }> {
  const model = buildTfjs(c, rng);
  return { files: copyFiles(await saveTfjs(model)), model };
}

/** The recurrent layers' configs (inside Bidirectional wrappers too). */
function recurrentConfigs(json: ModelJson): Array<LayerJson['config']> {
  return json.modelTopology.config.layers.filter((l) => l.class_name !== 'Dense' && l.class_name !== 'InputLayer').map((l) => (l.config.layer ? l.config.layer.config : l.config));
}

/** The first layer of class `cls`. */
function layerOf(json: ModelJson, cls: string): LayerJson {
  const layer = json.modelTopology.config.layers.find((l) => l.class_name === cls);
  if (!layer) throw new Error(`no ${cls} layer`);
  return layer;
}

/** Rebuild the weight bytes after changing tensors: `replace` maps a manifest name to new data and shape. */
function rewriteWeights(files: { json: ModelJson; weights: ArrayBuffer }, replace: (name: string, shape: number[]) => { shape: number[]; data: Float32Array } | undefined): void {
  const old = new Float32Array(files.weights);
  const parts: Float32Array[] = [];
  let at = 0;
  for (const w of files.json.weightsManifest[0].weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const next = replace(w.name, w.shape);
    parts.push(next ? next.data : old.subarray(at, at + n));
    if (next) w.shape = next.shape;
    at += n;
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  files.weights = out.buffer;
}

/** The tensors of a single-shard tfjs file by manifest name, as float64. */
function tensorsOf(files: { json: ModelJson; weights: ArrayBuffer }): Map<string, Float64Array> {
  const all = new Float32Array(files.weights);
  const out = new Map<string, Float64Array>();
  let at = 0;
  for (const w of files.json.weightsManifest[0].weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    out.set(w.name, Float64Array.from(all.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/**
 * Keras's GRU with reset_after true, in float64, for one Bidirectional layer with sigmoid gates
 * and a Dense read-out (kernel [in, 3H] blocks z, r, h; bias [2, 3H] = input and recurrent
 * biases): z = σ(x W_z + b_z + h U_z + c_z), r likewise, ĥ = tanh(x W_h + b_h + r ⊙ (h U_h + c_h)),
 * h' = z ⊙ h + (1 − z) ⊙ ĥ; y per step, or of [h_fwd final | h_bwd final] without return_sequences.
 */
function kerasGruResetAfter(w: Map<string, Float64Array>, prefix: (d: number) => string, dense: string, returnSequences: boolean, x: Float32Array): Float64Array {
  const H = UNITS;
  const sig = (v: number): number => 1 / (1 + Math.exp(-v));
  const seq = Array.from({ length: B }, () => Array.from({ length: T }, () => new Float64Array(2 * H)));
  const final = Array.from({ length: B }, () => new Float64Array(2 * H));
  for (let d = 0; d < 2; d++) {
    const K = w.get(`${prefix(d)}/kernel`)!;
    const U = w.get(`${prefix(d)}/recurrent_kernel`)!;
    const bias = w.get(`${prefix(d)}/bias`)!;
    for (let b = 0; b < B; b++) {
      let h = new Float64Array(H);
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        const xi = (q: number): number => {
          let a = bias[q];
          for (let i = 0; i < INPUT; i++) a += x[(b * T + t) * INPUT + i] * K[i * 3 * H + q];
          return a;
        };
        const hu = (q: number): number => {
          let a = bias[3 * H + q];
          for (let m = 0; m < H; m++) a += h[m] * U[m * 3 * H + q];
          return a;
        };
        const next = new Float64Array(H);
        for (let j = 0; j < H; j++) {
          const z = sig(xi(j) + hu(j));
          const r = sig(xi(H + j) + hu(H + j));
          const candidate = Math.tanh(xi(2 * H + j) + r * hu(2 * H + j));
          next[j] = z * h[j] + (1 - z) * candidate;
        }
        h = next;
        seq[b][t].set(h, d * H);
      }
      final[b].set(h, d * H);
    }
  }
  const kernel = w.get(`${dense}/kernel`)!;
  const db = w.get(`${dense}/bias`)!;
  const O = db.length;
  const rows = returnSequences ? seq.flat() : final;
  const y = new Float64Array(rows.length * O);
  rows.forEach((f, r) => {
    for (let o = 0; o < O; o++) {
      let a = db[o];
      for (let k = 0; k < 2 * H; k++) a += f[k] * kernel[k * O + o];
      y[r * O + o] = a;
    }
  });
  return y;
}

describe('TensorFlow.js files as Keras writes them', () => {
  for (const returnSequences of [false, true]) {
    it(`GRU reset_after true (Bidirectional, return_sequences ${returnSequences}): the Keras equations in float64`, async () => {
      const { files, model: tfModel } = await saved({ name: 'gru', cell: 'gru', bidirectional: true, recurrentActivation: 'sigmoid', returnSequences, dense: 2 });
      tfModel.dispose();
      // TensorFlow.js cannot run reset_after; Keras writes it with a bias of two rows.
      for (const c of recurrentConfigs(files.json)) c.reset_after = true;
      rewriteWeights(files, (name, shape) => (name.endsWith('/bias') && shape[0] === 3 * UNITS ? { shape: [2, 3 * UNITS], data: randomFloats(rng, 6 * UNITS, -0.5, 0.5) } : undefined));
      const model = await engine.load(files);
      try {
        expect(model.spec.linearBeforeReset).toBe(true);
        const x = randomFloats(rng, B * T * INPUT);
        const { y } = await model.forward(x, { batch: B, seqLen: T });
        const wrapper = layerOf(files.json, 'Bidirectional');
        const prefix = (d: number): string => `${wrapper.config.name}/${d ? 'backward' : 'forward'}_${wrapper.config.layer!.config.name}`;
        const dense = layerOf(files.json, 'Dense').config.name!;
        expectClose(`GRU reset_after (seed ${seed})`, y, kerasGruResetAfter(tensorsOf(files), prefix, dense, returnSequences, x));
      } finally {
        model.destroy();
      }
    });
  }

  it("the converter's TF2 weight names and Keras 2 config fields (InputLayer, time_major, implementation 2, model_config)", async () => {
    const { files, model: tfModel } = await saved({ name: 'keras2', cell: 'lstm', bidirectional: true, layers: 2, recurrentActivation: 'sigmoid', returnSequences: false, dense: 2 });
    try {
      // <layer>/<leaf> → <layer>/lstm_cell/<leaf>, as TF2 Keras names a recurrent layer's cell weights.
      for (const w of files.json.weightsManifest[0].weights) if (!w.name.startsWith('dense')) w.name = w.name.replace(/\/([a-z_]+)$/, '/lstm_cell/$1');
      const input = layerOf(files.json, 'InputLayer');
      Object.assign(input.config, { sparse: false, ragged: false, name: 'input_1' });
      for (const c of recurrentConfigs(files.json)) Object.assign(c, { time_major: false, implementation: 2, unit_forget_bias: true });
      const topology = { ...files.json.modelTopology, keras_version: '2.15.0', backend: 'tensorflow' };
      const json = { ...files.json, modelTopology: { model_config: topology, training_config: { loss: 'mse' } } };
      const model = await engine.load({ json, weights: files.weights });
      try {
        const x = randomFloats(rng, B * T * INPUT);
        expectClose(`Keras 2 file (seed ${seed})`, (await model.forward(x, { batch: B, seqLen: T })).y, predict(tfModel, x, B, T));
      } finally {
        model.destroy();
      }
    } finally {
      tfModel.dispose();
    }
  });

  it('accepts every value of the fields that do not change the computation, with the same plan', async () => {
    const { files, model: tfModel } = await saved({ name: 'fields', cell: 'gru', bidirectional: true, returnSequences: false, dense: 2 });
    tfModel.dispose();
    const base = planFromTfjs(files);
    const harmless: Array<Record<string, unknown>> = [
      { implementation: null },
      { implementation: 0 },
      { implementation: 1 },
      { implementation: 2 },
      { unroll: true },
      { dropout: 0.5, recurrent_dropout: 0.25 },
      { kernel_regularizer: { class_name: 'L1L2', config: { l1: 0.01, l2: 0 } }, activity_regularizer: { class_name: 'L1L2', config: { l1: 0, l2: 0.1 } } },
      { kernel_constraint: { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } } },
      { trainable: false },
      { dtype: 'float32' },
      { dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null } },
      { stateful: false, go_backwards: false, return_state: false, time_major: false },
      { use_cudnn: 'auto', seed: 7 },
    ];
    for (const fields of harmless) {
      const f = copyFiles(files);
      for (const c of recurrentConfigs(f.json)) Object.assign(c, fields);
      const plan = planFromTfjs(f);
      expect(plan.options, JSON.stringify(fields)).toEqual(base.options);
      expect(plan.dict, JSON.stringify(fields)).toEqual(base.dict);
    }
  });

  it('refuses, by name, what changes the computation', async () => {
    const { files, model: tfModel } = await saved({ name: 'refusals', cell: 'lstm', layers: 2, returnSequences: true, dense: 2 });
    tfModel.dispose();
    const refuse = (mutate: (j: ModelJson) => void, message: RegExp, weights = files.weights): void => {
      const f = copyFiles(files);
      mutate(f.json);
      let error: unknown;
      try {
        planFromTfjs({ json: f.json, weights });
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toBeInstanceOf(WebRnnError);
      expect((error as Error).message).toMatch(message);
    };
    const layers = (j: ModelJson): LayerJson[] => j.modelTopology.config.layers;
    const lstm = (j: ModelJson): LayerJson => layerOf(j, 'LSTM');
    const at = (j: ModelJson): number => layers(j).indexOf(lstm(j));
    refuse((j) => (lstm(j).class_name = 'ConvLSTM2D'), /layer ConvLSTM2D is not supported/);
    for (const field of ['return_state', 'time_major']) refuse((j) => (lstm(j).config[field] = true), new RegExp(`${field} is not supported`));
    refuse((j) => (lstm(j).config.stateful = true), /stateful on some recurrent layers and not on others/);
    refuse((j) => (layers(j).filter((l) => l.class_name === 'LSTM')[1].config.go_backwards = true), /go_backwards on a recurrent layer after the first is not supported/);
    refuse((j) => (layers(j)[at(j)] = { class_name: 'Bidirectional', config: { name: 'b', merge_mode: 'concat', layer: { ...lstm(j), config: { ...lstm(j).config, go_backwards: true } } } }), /go_backwards inside Bidirectional/);
    refuse((j) => (layerOf(j, 'Dense').config.activation = 'softmax'), /activation 'softmax'/);
    refuse((j) => (lstm(j).config.recurrent_activation = 'swish'), /recurrent_activation 'swish' is not supported/);
    refuse((j) => (lstm(j).config.dtype = 'float16'), /dtype "float16"/);
    refuse((j) => layers(j).splice(at(j), 0, { class_name: 'Masking', config: { mask_value: 0 } }), /layer Masking is not supported/);
    refuse((j) => (lstm(j).config.return_sequences = false), /a recurrent layer after one with return_sequences false/);
    refuse((j) => (layers(j)[at(j)] = { class_name: 'Bidirectional', config: { name: 'b', merge_mode: 'sum', layer: lstm(j) } }), /merge_mode 'sum'/);
    refuse((j) => (layers(j)[at(j)] = { class_name: 'Bidirectional', config: { name: 'b', merge_mode: 'concat', layer: lstm(j), backward_layer: lstm(j) } }), /backward_layer/);
    refuse(() => {}, /runs past the 100 bytes/, files.weights.slice(0, 100));
    refuse(() => {}, /covers .* bytes of the 4000 given/, new Float32Array(1000).buffer);
  });

  it('refuses a functional model that is not a chain of layers', async () => {
    const input = tf.input({ shape: [null, INPUT] });
    const a = tf.layers.lstm({ units: UNITS, returnSequences: true }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.lstm({ units: UNITS }).apply(input) as tf.SymbolicTensor;
    const branched = tf.model({ inputs: input, outputs: [a, b] });
    const files = await saveTfjs(branched);
    branched.dispose();
    expect(() => planFromTfjs(files)).toThrow(/not a chain of layers/);
  });

  it('fuzz: 2000 mutated model.json files and weight sizes each plan or fail with our error', async () => {
    const { files, model: tfModel } = await saved({ name: 'fuzz', cell: 'gru', bidirectional: true, layers: 2, returnSequences: false, dense: 2 });
    tfModel.dispose();
    const text = JSON.stringify(files.json);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const pick = (n: number): number => Math.floor(rng.uniform() * n);
      let json = text;
      let weights: ArrayBuffer = files.weights;
      switch (pick(4)) {
        case 0: {
          const numbers = [...json.matchAll(/-?\d+/g)];
          const m = numbers[pick(numbers.length)];
          json = json.slice(0, m.index) + String([0, -1, 1, 3, 1e9, 2 ** 31][pick(6)]) + json.slice(m.index + m[0].length);
          break;
        }
        case 1: {
          const strings = [...json.matchAll(/"[A-Za-z_]+"/g)];
          const m = strings[pick(strings.length)];
          json = json.slice(0, m.index) + ['"x"', 'null', '3', '[]', '{}', '"LSTM"', '"Bidirectional"', 'true'][pick(8)] + json.slice(m.index + m[0].length);
          break;
        }
        case 2:
          json = json.slice(0, pick(json.length));
          break;
        default:
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
    expect(outcomes['invalid-file']).toBeGreaterThan(0);
  });
});
