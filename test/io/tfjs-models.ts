/**
 * Random TensorFlow.js layers models for the importer's tests, built and saved by TensorFlow.js
 * itself (4.22, CPU backend, in Node): the files are what its `tf.io.http` save handler sends,
 * model.json and model.weights.bin, and `predict` is the oracle.
 */
import * as tf from '@tensorflow/tfjs';
import type { Random } from '../../src/spec/random.js';

export { tf };

/** One model: the recurrent layers' settings (every layer alike) and what sits around them. */
export interface TfjsCase {
  name: string;
  cell: 'lstm' | 'gru' | 'simpleRNN';
  layers?: number;
  bidirectional?: boolean;
  /** Of the last recurrent layer; the others return sequences, as Keras requires. */
  returnSequences: boolean;
  useBias?: boolean;
  activation?: Activation;
  recurrentActivation?: Activation;
  /** Units of a linear Dense read-out; none when absent. */
  dense?: number;
  /** Dropout layers between the layers, and dropout rates in them (identities in predict). */
  dropout?: boolean;
  /** Built with tf.model from tf.input rather than tf.sequential. */
  functional?: boolean;
  /** A Masking layer first (mask value 0): only for predict, webrnn takes seqLens instead. */
  masking?: boolean;
  /** Extra config passed to every recurrent layer (implementation, unroll, …). */
  extra?: Partial<RecurrentArgs>;
}

type Activation = NonNullable<Parameters<typeof tf.layers.lstm>[0]['activation']>;
type RecurrentArgs = Parameters<typeof tf.layers.lstm>[0] & Parameters<typeof tf.layers.gru>[0] & Parameters<typeof tf.layers.simpleRNN>[0];

export const INPUT = 3;
export const UNITS = 5;

/** The TensorFlow.js model of `c`, with weights drawn from `rng` (biases too, so that none is zero). */
export function buildTfjs(c: TfjsCase, rng: Random): tf.LayersModel {
  const L = c.layers ?? 1;
  const recurrent = (l: number): tf.layers.Layer => {
    const args: RecurrentArgs = {
      units: UNITS,
      returnSequences: l < L - 1 || c.returnSequences,
      useBias: c.useBias ?? true,
      ...(c.activation ? { activation: c.activation } : {}),
      ...(c.recurrentActivation ? { recurrentActivation: c.recurrentActivation } : {}),
      ...(c.dropout ? { dropout: 0.3, recurrentDropout: 0.2 } : {}),
      ...c.extra,
    };
    const layer = c.cell === 'lstm' ? tf.layers.lstm(args) : c.cell === 'gru' ? tf.layers.gru(args) : tf.layers.simpleRNN(args);
    return c.bidirectional ? tf.layers.bidirectional({ layer }) : layer;
  };
  const stack: tf.layers.Layer[] = [];
  if (c.masking) stack.push(tf.layers.masking({ maskValue: 0 }));
  for (let l = 0; l < L; l++) {
    stack.push(recurrent(l));
    if (c.dropout) stack.push(tf.layers.dropout({ rate: 0.4 }));
  }
  if (c.dense) stack.push(tf.layers.dense({ units: c.dense }));
  let model: tf.LayersModel;
  if (c.functional) {
    const input = tf.input({ shape: [null, INPUT] });
    let at: tf.SymbolicTensor = input;
    for (const layer of stack) at = layer.apply(at) as tf.SymbolicTensor;
    model = tf.model({ inputs: input, outputs: at });
  } else {
    const s = tf.sequential();
    stack.forEach((layer, i) => {
      if (i === 0) s.add(tf.layers.inputLayer({ inputShape: [null, INPUT] }));
      s.add(layer);
    });
    model = s;
  }
  const scale = 1.2 / Math.sqrt(UNITS);
  model.setWeights(model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.range(-scale, scale)), w.shape)));
  return model;
}

/** What TensorFlow.js's http save handler sends for `model`: the model.json and the weights file. */
export async function saveTfjs(model: tf.LayersModel): Promise<{ json: Record<string, unknown>; weights: ArrayBuffer }> {
  let files: { json: Record<string, unknown>; weights: ArrayBuffer } | undefined;
  await model.save(
    tf.io.http('http://test/upload', {
      fetchFunc: async (_url: URL | RequestInfo, init?: RequestInit) => {
        const form = init?.body;
        if (!(form instanceof FormData)) throw new Error('the save handler sent no form');
        const part = (name: string): Blob => {
          const v = form.get(name);
          if (!(v instanceof Blob)) throw new Error(`the save handler sent no ${name}`);
          return v;
        };
        files = { json: JSON.parse(await part('model.json').text()) as Record<string, unknown>, weights: await part('model.weights.bin').arrayBuffer() };
        return new Response('{}', { status: 200 });
      },
    }),
  );
  if (!files) throw new Error('the save handler sent nothing');
  return files;
}

/** `model.predict` on [B, T, I] as a flat array. */
export function predict(model: tf.LayersModel, x: Float32Array, B: number, T: number): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor3d(x, [B, T, INPUT])) as tf.Tensor).dataSync() as Float32Array);
}

/** The parts of a model.json that tests change. */
export interface LayerJson {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { layer?: LayerJson; name?: string };
}
export interface ModelJson {
  modelTopology: { class_name: string; keras_version?: string; config: { name?: string; layers: LayerJson[] }; model_config?: unknown };
  weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[]; dtype: string }> }>;
}

/** A deep copy of saved files, for mutating. */
export function copyFiles(files: { json: object; weights: ArrayBuffer }): { json: ModelJson; weights: ArrayBuffer } {
  return { json: JSON.parse(JSON.stringify(files.json)) as ModelJson, weights: files.weights.slice(0) };
}
