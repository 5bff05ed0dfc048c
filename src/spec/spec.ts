/**
 * Layer options, their validation, and the PyTorch parameter names and shapes they imply.
 */
import { WebRnnError } from '../errors.js';
import { resolvePrecision } from './model-options.js';
import { resolveCellOptions, type CellFunction, type CellOptions, type ResolvedCellOptions } from './cell-functions.js';

export type CellKind = 'rnn' | 'lstm' | 'gru';

/** The Elman RNN's nonlinearity: PyTorch's tanh and relu, and identity (the linear state-space recurrence). */
export type Nonlinearity = 'tanh' | 'relu' | 'identity';

/** Options shared by `engine.rnn`, `engine.lstm` and `engine.gru` (PyTorch's names and defaults). */
export interface RecurrentOptions {
  /** Features per input step (I). */
  inputSize: number;
  /** Hidden units per direction (H). */
  hiddenSize: number;
  /** Stacked layers (L), default 1. */
  numLayers?: number;
  /** Two directions per layer (D = 2), default false. */
  bidirectional?: boolean;
  /** Input and output are [B, T, ·] instead of [T, B, ·], default false. */
  batchFirst?: boolean;
  /** Layers have b_ih and b_hh, default true. */
  bias?: boolean;
  /** Seed of the initial weights, default 0: the same seed gives the same weights. */
  seed?: number;
  /** Check every input and loaded weight for NaN and ±Infinity (default false). */
  checkFinite?: boolean;
  /**
   * Dropout between layers, PyTorch's `dropout`: in training (trainStep, trainSequence, fit,
   * and gradients with `training: true`) each element of every layer's output but the last
   * layer's is zeroed with probability p and the rest scaled by 1/(1 − p) as the layer above
   * reads it; forward, evaluate and streams never drop. The masks are drawn on the backend from
   * `seed` and the model's count of training calls (src/spec/dropout.ts defines them), the
   * same on every backend, so a run repeats. In [0, 1), default 0.
   */
  dropout?: number;
  /**
   * Keras's stateful: forward and trainStep (each step of fit and each chunk of trainSequence
   * too) start from the final states of the model's previous such call, unless given h0/c0,
   * and leave theirs for the next; `model.resetStates()` zeroes them. The batch must stay the
   * same between resets. Default false.
   */
  stateful?: boolean;
  /**
   * Keras's go_backwards on the first layer: the model reads each sequence from its last step
   * (its own, with seqLens) back to its first, and its outputs are in that order. Whole
   * sequences only (no streams or truncated BPTT); not exported to ONNX. Default false.
   */
  goBackwards?: boolean;
  /**
   * Token ids in, instead of vectors (PyTorch's nn.Embedding before the recurrent layers,
   * Keras's Embedding): the parameter `embedding.weight` [numEmbeddings, inputSize] holds a
   * vector per id, and forward, stream steps, gradients and training take an Int32Array of ids
   * [T, B] ([B, T] when batchFirst; [B] a stream step). Training updates it; its gradient is
   * the sum over the steps that read each row, and row `paddingIdx` (initialised to zeros) is
   * never updated, as in PyTorch. `maskZero` (Keras's mask_zero) takes id 0 as padding at the
   * end of a sequence: each sequence's length is the count of steps before its trailing zeros.
   */
  embedding?: EmbeddingOptions;
  /**
   * Add a linear read-out y = output·Wᵀ + b of this many outputs on top of the last layer
   * (PyTorch's nn.Linear(D·H, outputSize), parameters `readout.weight` and `readout.bias`),
   * which the losses of trainStep act on. Default: none.
   */
  outputSize?: number;
  /**
   * What the model's output `y` is (Keras's return_sequences). true (default): one row per
   * step, [T, B, ·] — the read-out of every step, or the output itself without a read-out.
   * false: one row per sequence, [B, ·] — the read-out of (or, without one, just) the last
   * layer's final states, forward and backward concatenated: [h_fwd after each sequence's last
   * step | h_rev after its first]. For a bidirectional model this is not the output's last
   * step, whose reverse half has seen one step only. `output`, `hN` and `cN` are unchanged.
   */
  returnSequences?: boolean;
  /**
   * ONNX's cell functions (activations f, g, h with alpha and beta), clip and input_forget
   * (LSTM), for models imported from ONNX; PyTorch's cells are the defaults. A model with
   * anything else than the defaults is for inference only.
   */
  cell?: CellOptions;
  /**
   * How the forward recurrence is dispatched: true, all steps of a layer in one dispatch (the
   * persistent kernel: one workgroup per block of rows and direction keeps its state to itself,
   * no per-step dispatch cost); false, one dispatch per step spread over blocks of hidden
   * units; 'auto' (default), whichever measured faster for the adapter, batch, sequence
   * length and cell (see autoPersistent: on a software adapter the persistent kernel's
   * resident form up to H = 512; on a GPU the persistent kernel up to H = 128 and 64 rows, and
   * up to H = 256 below 64 rows). On a software adapter it also picks the backward sweep of
   * gradients and training steps: true, its resident form (one dispatch for all steps) wherever
   * the weights fit; 'auto', that form for the Elman cell at every batch and for the LSTM and
   * GRU below 8 rows up to H = 256 (autoPersistentSweep). Under 'auto', from H = 64 on a
   * software adapter, calls run the per-step kernels until the resident forms, compiled in the
   * background, are ready (seconds at H = 512); `warmup` waits for them.
   */
  persistent?: boolean | 'auto';
  /**
   * The recurrent weights W_hh, read at every step: 'f32' (default) or 'f16', rounded to IEEE
   * half precision (nearest even) wherever they are written, which stateDict then returns; on a
   * GPU the step kernels read them packed two to a word, half the bytes a step. The input
   * weights, biases and read-out stay float32. For inference: gradients and training are refused.
   */
  weightPrecision?: 'f32' | 'f16';
}

/** The embedding of token ids (RecurrentOptions.embedding). */
export interface EmbeddingOptions {
  /** Ids 0 … numEmbeddings − 1. */
  numEmbeddings: number;
  /** An id whose vector is zeros and never trained (PyTorch's padding_idx). */
  paddingIdx?: number;
  /** Id 0 pads sequences at their end (Keras's mask_zero): the lengths come from the ids. */
  maskZero?: boolean;
}

/** Options of `engine.rnn`. */
export interface RnnOptions extends RecurrentOptions {
  /** Default 'tanh'; 'identity' gives the linear state-space RNN. */
  nonlinearity?: Nonlinearity;
}

/** Options of `engine.gru`. */
export interface GruOptions extends RecurrentOptions {
  /**
   * Default true, PyTorch's form: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)). False gives
   * ONNX's default (linear_before_reset = 0): n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn).
   */
  linearBeforeReset?: boolean;
}

/** Options of `engine.lstm`. */
export interface LstmOptions extends RecurrentOptions {
  /**
   * Peephole connections (ONNX's P; PyTorch's LSTM has none): i and f also see P_i ⊙ c_{t−1}
   * and P_f ⊙ c_{t−1}, o sees P_o ⊙ c_t. Parameters `peephole_l{k}[_reverse]` [3H], blocks
   * i, f, o. Inference only. Default false.
   */
  peepholes?: boolean;
  /**
   * PyTorch's proj_size: each layer's h_t = W_hr (o_t ⊙ tanh(c_t)), W_hr [projSize, H] (the
   * parameters `weight_hr_l{k}[_reverse]`), so that h, the output and hN have projSize
   * features a direction (W_hh is [4H, projSize], a layer above reads D·projSize) while c and
   * cN keep H. In 1 … hiddenSize − 1; default 0, none.
   */
  projSize?: number;
}

/** One recurrent layer: its cell, width and directions (ModelSpec.layers). */
export interface LayerSpec {
  readonly kind: CellKind;
  readonly hiddenSize: number;
  readonly numDirections: 1 | 2;
  readonly nonlinearity: Nonlinearity;
  readonly linearBeforeReset: boolean;
  readonly cell: ResolvedCellOptions;
  /** An LSTM layer's projection of h (PyTorch's proj_size), 0 for none. */
  readonly projSize: number;
}

/** A validated model description with every default resolved. */
export interface ModelSpec {
  /**
   * The recurrent layers bottom up, numLayers of them: alike in a model of one cell
   * (engine.lstm, …), each its own in a stack (engine.stack). The fields kind, hiddenSize,
   * numDirections, nonlinearity, linearBeforeReset, cell and projSize are the last layer's, the one that
   * makes the output; code that works layer by layer reads layerSpec(spec, l).
   */
  readonly layers: readonly LayerSpec[];
  readonly kind: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numDirections: 1 | 2;
  readonly batchFirst: boolean;
  readonly bias: boolean;
  readonly nonlinearity: Nonlinearity;
  readonly linearBeforeReset: boolean;
  /** LSTM peephole connections (inference only). */
  readonly peepholes: boolean;
  /** The last layer's projection of h (PyTorch's proj_size; LayerSpec.projSize), 0 for none. */
  readonly projSize: number;
  /** Cell functions, clip and input_forget (all defaults unless imported from ONNX). */
  readonly cell: ResolvedCellOptions;
  readonly seed: number;
  readonly checkFinite: boolean;
  /** Dropout probability between layers, in training only. */
  readonly dropout: number;
  /** States carried from call to call (Keras's stateful). */
  readonly stateful: boolean;
  /** The input is read from each sequence's last step back (Keras's go_backwards). */
  readonly goBackwards: boolean;
  /** The embedding of token ids, or null when the model reads vectors. */
  readonly embedding: { readonly numEmbeddings: number; readonly paddingIdx: number | null; readonly maskZero: boolean } | null;
  /** Outputs of the linear read-out; 0 when the model has none. */
  readonly outputSize: number;
  /** y has a row per step (true) or one per sequence, from the final states (false). */
  readonly returnSequences: boolean;
  /** The forward recurrence's dispatch: true, persistent; false, one dispatch per step; 'auto', chosen per pass. */
  readonly persistent: boolean | 'auto';
  /** W_hh rounded to half precision ('f16') or not. */
  readonly weightPrecision: 'f32' | 'f16';
}

/** Gate blocks per hidden unit: LSTM i,f,g,o; GRU r,z,n; Elman one. */
export function gateCount(kind: CellKind): number {
  return kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
}

/**
 * Floats per (input unit, unit) in the packed W_hhᵀ: the gates of a unit sit in one vec4f
 * (zero-padded for the GRU's three); the Elman cell's single gate is a plain float.
 */
export function packedGateStride(gates: number): number {
  return gates === 1 ? 1 : 4;
}

function positiveInteger(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new WebRnnError('invalid-option', `${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function boolean<F extends boolean | 'auto'>(name: string, v: unknown, fallback: F): boolean | F {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new WebRnnError('invalid-option', `${name} must be a boolean${fallback === 'auto' ? " or 'auto'" : ''}, got ${String(v)}`);
  return v;
}

const KNOWN: Record<CellKind, readonly string[]> = {
  rnn: ['nonlinearity'],
  lstm: ['peepholes', 'projSize'],
  gru: ['linearBeforeReset'],
};
const COMMON = ['inputSize', 'hiddenSize', 'numLayers', 'bidirectional', 'batchFirst', 'bias', 'seed', 'checkFinite', 'dropout', 'embedding', 'stateful', 'goBackwards', 'outputSize', 'returnSequences', 'cell', 'persistent', 'weightPrecision'];
const NONLINEARITY_FUNCTION: Record<Nonlinearity, CellFunction> = { tanh: { name: 'Tanh' }, relu: { name: 'Relu' }, identity: { name: 'Affine', alpha: 1, beta: 0 } };

/** Validate `options` for a layer of `kind` and fill in the defaults. */
export function resolveSpec(kind: CellKind, options: RnnOptions & GruOptions & LstmOptions): ModelSpec {
  if (options === null || typeof options !== 'object') throw new WebRnnError('invalid-option', `${kind}: options object expected`);
  for (const key of Object.keys(options)) {
    if (!COMMON.includes(key) && !KNOWN[kind].includes(key)) {
      throw new WebRnnError('invalid-option', `${kind}: unknown option '${key}'`);
    }
  }
  const nonlinearity = options.nonlinearity ?? 'tanh';
  if (!['tanh', 'relu', 'identity'].includes(nonlinearity)) {
    throw new WebRnnError('invalid-option', `nonlinearity must be 'tanh', 'relu' or 'identity', got '${String(nonlinearity)}'`);
  }
  if (kind === 'rnn' && options.cell?.f && options.nonlinearity !== undefined) {
    throw new WebRnnError('invalid-option', 'rnn: give either nonlinearity or cell.f, not both');
  }
  const cell = resolveCellOptions(kind, options.cell, kind === 'rnn' ? NONLINEARITY_FUNCTION[nonlinearity] : { name: 'Sigmoid' });
  if (options.cell?.reverse !== undefined && options.bidirectional !== true) {
    throw new WebRnnError('invalid-option', `${kind}: cell.reverse gives the reverse direction's functions; the model is not bidirectional`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new WebRnnError('invalid-option', `seed must be an integer, got ${String(seed)}`);
  const dropout = options.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new WebRnnError('invalid-option', `dropout must be a probability in [0, 1), got ${String(options.dropout)}`);
  let layer: LayerSpec = {
    kind,
    hiddenSize: positiveInteger('hiddenSize', options.hiddenSize),
    numDirections: boolean('bidirectional', options.bidirectional, false) ? 2 : 1,
    nonlinearity,
    linearBeforeReset: boolean('linearBeforeReset', options.linearBeforeReset, true),
    cell,
    projSize: 0,
  };
  if (options.projSize !== undefined && options.projSize !== 0) {
    const P = positiveInteger('projSize', options.projSize);
    if (P >= layer.hiddenSize) throw new WebRnnError('invalid-option', `projSize must be smaller than hiddenSize (${layer.hiddenSize}), got ${P}`);
    if (options.peepholes) throw new WebRnnError('invalid-option', 'lstm: projSize with peepholes is not supported (PyTorch has no peepholes, ONNX no projection)');
    if (!cell.standard) throw new WebRnnError('invalid-option', 'lstm: projSize with ONNX cell functions, clip or input_forget is not supported');
    layer = { ...layer, projSize: P };
  }
  const numLayers = positiveInteger('numLayers', options.numLayers ?? 1);
  return {
    ...layer,
    layers: Array.from({ length: numLayers }, () => layer),
    embedding: resolveEmbedding(options.embedding),
    inputSize: positiveInteger('inputSize', options.inputSize),
    numLayers,
    batchFirst: boolean('batchFirst', options.batchFirst, false),
    bias: boolean('bias', options.bias, true),
    peepholes: boolean('peepholes', options.peepholes, false),
    seed,
    checkFinite: boolean('checkFinite', options.checkFinite, false),
    dropout,
    stateful: boolean('stateful', options.stateful, false),
    goBackwards: boolean('goBackwards', options.goBackwards, false),
    outputSize: options.outputSize === undefined ? 0 : positiveInteger('outputSize', options.outputSize),
    returnSequences: boolean('returnSequences', options.returnSequences, true),
    persistent: options.persistent === 'auto' ? 'auto' : boolean('persistent', options.persistent, 'auto'),
    weightPrecision: resolvePrecision(options.weightPrecision, layer.projSize),
  };
}


function resolveEmbedding(e: EmbeddingOptions | undefined): ModelSpec['embedding'] {
  if (e === undefined) return null;
  if (e === null || typeof e !== 'object') throw new WebRnnError('invalid-option', `embedding: { numEmbeddings, paddingIdx?, maskZero? } expected, got ${String(e)}`);
  for (const k of Object.keys(e)) if (!['numEmbeddings', 'paddingIdx', 'maskZero'].includes(k)) throw new WebRnnError('invalid-option', `embedding: unknown option '${k}' (known: numEmbeddings, paddingIdx, maskZero)`);
  const numEmbeddings = positiveInteger('embedding.numEmbeddings', e.numEmbeddings);
  const p = e.paddingIdx;
  if (p !== undefined && !(Number.isInteger(p) && p >= 0 && p < numEmbeddings)) throw new WebRnnError('invalid-option', `embedding.paddingIdx must be an id in [0, ${numEmbeddings}), got ${String(p)}`);
  return { numEmbeddings, paddingIdx: p ?? null, maskZero: boolean('embedding.maskZero', e.maskZero, false) };
}


/** The safetensors metadata entry holding the options a model's weights cannot tell (spec/saved-options.ts). */
export const MODEL_METADATA = 'webrnn.model';

/** The embedding's parameter. */
export const EMBEDDING_WEIGHT = 'embedding.weight';

/** Floats of layer l's bhh buffer: b_hh [D, G·H], then the peepholes [D, 3H] where the model has them. */
export function bhhBufferSize(spec: ModelSpec, l: number): number {
  const { numDirections: D, hiddenSize: H, kind } = spec.layers[l];
  return D * gateCount(kind) * H + (spec.peepholes ? D * 3 * H : 0);
}

/**
 * The model as layer l sees it: its fields kind, hiddenSize, numDirections, nonlinearity,
 * linearBeforeReset and cell are layer l's (the same spec where the layers are alike).
 */
export function layerSpec(spec: ModelSpec, l: number): ModelSpec {
  const layer = spec.layers[l];
  return layer === spec.layers[spec.numLayers - 1] ? spec : { ...spec, ...layer };
}

/** Whether the layers differ (a stack, engine.stack); false where every layer is alike. */
export function isStack(spec: ModelSpec): boolean {
  const [first] = spec.layers;
  return spec.layers.some((l) => l.kind !== first.kind || l.hiddenSize !== first.hiddenSize || l.numDirections !== first.numDirections || l.nonlinearity !== first.nonlinearity || l.linearBeforeReset !== first.linearBeforeReset || l.projSize !== first.projSize);
}

/** Features of a layer's h a direction: its projSize where it projects, else H. */
export function stateWidth(layer: Pick<LayerSpec, 'hiddenSize' | 'projSize'>): number {
  return layer.projSize || layer.hiddenSize;
}

/** Features of the model's output a step: the last layer's D·H (D·projSize where it projects). */
export function outputWidth(spec: ModelSpec): number {
  const last = spec.layers[spec.numLayers - 1];
  return last.numDirections * stateWidth(last);
}

/** Input features of layer `l`: I for the first layer, D·H of the layer below above it. */
export function layerInputSize(spec: ModelSpec, l: number): number {
  if (l === 0) return spec.inputSize;
  const below = spec.layers[l - 1];
  return below.numDirections * stateWidth(below);
}

/**
 * Where layer l's block of a state tensor starts, in floats, for `batch` rows: hN and h0 hold
 * each layer's [D_l, B, H_l] in layer order (for alike layers [L·D, B, H], index l·D + d; H_l
 * its projSize where it projects); with `cells`, cN and c0, which hold the blocks of the LSTM
 * layers only ([D_l, B, H_l], H_l the hidden size).
 */
export function stateOffset(spec: ModelSpec, l: number, batch: number, cells = false): number {
  let at = 0;
  for (let k = 0; k < l; k++) {
    const layer = spec.layers[k];
    if (!cells) at += layer.numDirections * batch * stateWidth(layer);
    else if (layer.kind === 'lstm') at += layer.numDirections * batch * layer.hiddenSize;
  }
  return at;
}

/** Floats of hN (with `cells`, of cN) for `batch` rows. */
export function stateSize(spec: ModelSpec, batch: number, cells = false): number {
  return stateOffset(spec, spec.numLayers, batch, cells);
}

/**
 * The shape of h0 and hN (with `cells`, of c0 and cN) for `batch` rows: [L·D, B, H] where the
 * layers are alike; in a stack, the length of its layers' [D_l, B, H_l] blocks in turn.
 */
export function stateShape(spec: ModelSpec, batch: number, cells = false): number[] {
  return isStack(spec) ? [stateSize(spec, batch, cells)] : [spec.numLayers * spec.numDirections, batch, cells ? spec.hiddenSize : stateWidth(spec)];
}

/** The model's cell in words: 'lstm', or a stack's layers ('stack of lstm(64, bidirectional), gru(32)'). */
export function describeLayers(spec: ModelSpec): string {
  if (!isStack(spec)) return spec.kind;
  return `stack of ${spec.layers.map((l) => `${l.kind}(${l.hiddenSize}${l.projSize ? `, projSize ${l.projSize}` : ''}${l.numDirections === 2 ? ', bidirectional' : ''})`).join(', ')}`;
}

/** Whether the model has cell states (c0, cN): an LSTM layer. */
export function hasCellState(spec: ModelSpec): boolean {
  return spec.layers.some((l) => l.kind === 'lstm');
}

/** One parameter tensor in PyTorch's naming. */
export interface ParameterInfo {
  name: string;
  shape: readonly number[];
  layer: number;
  direction: number;
  role: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh' | 'peephole' | 'weight_hr' | 'readout_weight' | 'readout_bias' | 'embedding';
}

/** Names of the read-out's parameters. */
export const READOUT_WEIGHT = 'readout.weight';
export const READOUT_BIAS = 'readout.bias';

/**
 * Every parameter of the model in PyTorch's order (per layer, per direction: weight_ih,
 * weight_hh, bias_ih, bias_hh), named `weight_ih_l{k}[_reverse]` etc., then the read-out's
 * `readout.weight` [O, D·H] and `readout.bias` [O] when the model has one, and `embedding.weight` [numEmbeddings, I] when it reads token ids.
 */
export function parameterInfo(spec: ModelSpec): ParameterInfo[] {
  const out: ParameterInfo[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const { kind, hiddenSize: H, numDirections, projSize } = spec.layers[l];
    const G = gateCount(kind);
    for (let d = 0; d < numDirections; d++) {
      const suffix = `_l${l}${d === 1 ? '_reverse' : ''}`;
      out.push({ name: `weight_ih${suffix}`, shape: [G * H, layerInputSize(spec, l)], layer: l, direction: d, role: 'weight_ih' });
      out.push({ name: `weight_hh${suffix}`, shape: [G * H, projSize || H], layer: l, direction: d, role: 'weight_hh' });
      if (spec.bias) {
        out.push({ name: `bias_ih${suffix}`, shape: [G * H], layer: l, direction: d, role: 'bias_ih' });
        out.push({ name: `bias_hh${suffix}`, shape: [G * H], layer: l, direction: d, role: 'bias_hh' });
      }
      if (spec.peepholes) out.push({ name: `peephole${suffix}`, shape: [3 * H], layer: l, direction: d, role: 'peephole' });
      // PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr.
      if (projSize) out.push({ name: `weight_hr${suffix}`, shape: [projSize, H], layer: l, direction: d, role: 'weight_hr' });
    }
  }
  if (spec.outputSize > 0) {
    const DH = outputWidth(spec);
    out.push({ name: READOUT_WEIGHT, shape: [spec.outputSize, DH], layer: spec.numLayers, direction: 0, role: 'readout_weight' });
    out.push({ name: READOUT_BIAS, shape: [spec.outputSize], layer: spec.numLayers, direction: 0, role: 'readout_bias' });
  }
  // Last, so that the layers' and the read-out's places do not depend on it.
  if (spec.embedding) out.push({ name: EMBEDDING_WEIGHT, shape: [spec.embedding.numEmbeddings, spec.inputSize], layer: -1, direction: 0, role: 'embedding' });
  return out;
}

/** Name of the parameter of `role` for layer `l`, direction `d`. */
export function parameterName(role: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh' | 'peephole' | 'weight_hr', l: number, d: number): string {
  return `${role}_l${l}${d === 1 ? '_reverse' : ''}`;
}
