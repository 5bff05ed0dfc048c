/**
 * Stacks of unlike recurrent layers (engine.stack): each layer its own cell, width and
 * directions, as a Keras Sequential model or a PyTorch module of several recurrent modules is
 * written. A stack whose layers turn out alike resolves to the spec of that one cell.
 */
import { WebRnnError } from '../errors.js';
import type { CellOptions } from './cell-functions.js';
import { isStack, resolveSpec, type CellKind, type GruOptions, type LayerSpec, type LstmOptions, type ModelSpec, type Nonlinearity, type RecurrentOptions, type RnnOptions } from './spec.js';

/** One layer of a stack. */
export interface StackLayerOptions {
  /** The layer's cell: 'rnn' (Elman), 'lstm' or 'gru'. */
  kind: CellKind;
  /** Hidden units per direction. */
  hiddenSize: number;
  /** Two directions, concatenated forward first (default false). */
  bidirectional?: boolean;
  /** The Elman cell's nonlinearity (default 'tanh'). */
  nonlinearity?: Nonlinearity;
  /** The GRU's form (default true, PyTorch's). */
  linearBeforeReset?: boolean;
  /** ONNX's and Keras's cell functions, as RecurrentOptions.cell (inference only). */
  cell?: CellOptions;
  /** An LSTM layer's projection of h (LstmOptions.projSize). */
  projSize?: number;
}

/** Options of `engine.stack`: the model's options, with the layers given one by one. */
export interface StackOptions extends Omit<RecurrentOptions, 'hiddenSize' | 'numLayers' | 'bidirectional' | 'cell'> {
  /** The recurrent layers bottom up; layer l > 0 reads the D·H outputs of layer l − 1. */
  layers: StackLayerOptions[];
}

const LAYER_KEYS = ['kind', 'hiddenSize', 'bidirectional', 'nonlinearity', 'linearBeforeReset', 'cell', 'projSize'];

/** Validate a stack's options and fill in the defaults. */
export function resolveStackSpec(options: StackOptions): ModelSpec {
  if (options === null || typeof options !== 'object') throw new WebRnnError('invalid-option', 'stack: options object expected');
  const { layers, ...model } = options;
  if (!Array.isArray(layers) || layers.length === 0) throw new WebRnnError('invalid-option', `stack: layers must be a non-empty array of { kind, hiddenSize, bidirectional? }, got ${String(layers)}`);
  for (const key of ['hiddenSize', 'numLayers', 'bidirectional', 'cell']) {
    if (key in model) throw new WebRnnError('invalid-option', `stack: '${key}' is an option of each layer (layers[i]), not of the stack`);
  }
  const resolved: LayerSpec[] = layers.map((layer, i) => {
    const what = `stack: layers[${i}]`;
    if (layer === null || typeof layer !== 'object') throw new WebRnnError('invalid-option', `${what}: { kind, hiddenSize, bidirectional? } expected, got ${String(layer)}`);
    for (const k of Object.keys(layer)) if (!LAYER_KEYS.includes(k)) throw new WebRnnError('invalid-option', `${what}: unknown option '${k}' (known: ${LAYER_KEYS.join(', ')})`);
    if (!['rnn', 'lstm', 'gru'].includes(layer.kind)) throw new WebRnnError('invalid-option', `${what}: kind must be 'rnn', 'lstm' or 'gru', got ${String(layer.kind)}`);
    const { kind, ...rest } = layer;
    try {
      const one = resolveSpec(kind, { inputSize: 1, ...rest } as RnnOptions & GruOptions & LstmOptions);
      return one.layers[0];
    } catch (e) {
      if (e instanceof WebRnnError) throw new WebRnnError(e.code, `${what}: ${e.message}`);
      throw e;
    }
  });
  const last = layers[layers.length - 1];
  const spec = resolveSpec(last.kind, { ...model, hiddenSize: last.hiddenSize, numLayers: layers.length, bidirectional: last.bidirectional, ...cellOptions(last) } as RnnOptions & GruOptions & LstmOptions);
  if (spec.peepholes) throw new WebRnnError('invalid-option', 'stack: peepholes are for models of one LSTM cell (engine.lstm)');
  const stack: ModelSpec = { ...spec, layers: resolved };
  if (spec.weightPrecision === 'f16' && resolved.some((l) => l.projSize)) throw new WebRnnError('invalid-option', "stack: weightPrecision 'f16' with projSize is not supported");
  // A stack of alike layers is that cell's model, on the same kernels and names.
  return isStack(stack) ? stack : spec;
}

function cellOptions(layer: StackLayerOptions): { nonlinearity?: Nonlinearity; linearBeforeReset?: boolean; cell?: CellOptions; projSize?: number } {
  const out: { nonlinearity?: Nonlinearity; linearBeforeReset?: boolean; cell?: CellOptions; projSize?: number } = {};
  if (layer.projSize !== undefined) out.projSize = layer.projSize;
  if (layer.nonlinearity !== undefined) out.nonlinearity = layer.nonlinearity;
  if (layer.linearBeforeReset !== undefined) out.linearBeforeReset = layer.linearBeforeReset;
  if (layer.cell !== undefined) out.cell = layer.cell;
  return out;
}
