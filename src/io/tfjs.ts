/**
 * TensorFlow.js layers models (model.json with a weights manifest, plus the weight bytes), as
 * TensorFlow.js's own `model.save` and the tensorflowjs converter write them: a Sequential
 * model, or a functional one whose layers form a chain, of LSTM, GRU (both reset_after
 * settings) and SimpleRNN layers, stacked, optionally in Bidirectional wrappers (merge_mode
 * 'concat'), with an optional linear Dense read-out; Dropout-type layers, identities at
 * inference, are passed over. Layers may differ in cell, width and direction (a stack, engine.stack,
 * whose layers then take the default activations). Keras's gate orders are LSTM i, f, c, o (PyTorch's i, f, g, o)
 * and GRU z, r, h (PyTorch's r, z, n); Keras stores kernels transposed, [in, G·units], and
 * inputs batch-first. The last recurrent layer's return_sequences becomes the model's
 * returnSequences (Keras's output of a layer with return_sequences false is its final state,
 * both directions' for a Bidirectional).
 *
 * go_backwards on the first recurrent layer and stateful layers (every one) become the model's
 * goBackwards and stateful. An Embedding layer may come first: the model then reads token ids; with mask_zero, id 0 is
 * padding at the end of a sequence (the lengths; outputs at padded steps are then 0, as with
 * PyTorch's packed sequences, where Keras repeats the last step's).
 *
 * Config fields that change what the model computes are honoured or refused by name; the
 * rest (initializers, regularizers, constraints, dropout rates, implementation, unroll,
 * trainable, …) do not change predict and are passed over, whatever their value.
 */
import { WebRnnError } from '../errors.js';
import type { CellFunction, CellOptions } from '../spec/cell-functions.js';
import { EMBEDDING_WEIGHT, READOUT_BIAS, READOUT_WEIGHT, type CellKind, type GruOptions, type LstmOptions, type RnnOptions } from '../spec/spec.js';
import type { StackLayerOptions, StackOptions } from '../spec/stack.js';

/** A tfjs layers model: the parsed (or text) model.json, and its weight shards in manifest order. */
export interface TfjsModelSource {
  json: unknown;
  weights: ArrayBuffer | Uint8Array | ReadonlyArray<ArrayBuffer | Uint8Array>;
}

const KINDS: Record<string, CellKind> = { LSTM: 'lstm', GRU: 'gru', SimpleRNN: 'rnn' };
/** PyTorch block k takes Keras block PERM[k]. */
const PERM: Record<CellKind, number[]> = { lstm: [0, 1, 2, 3], gru: [1, 0, 2], rnn: [0] };
/** Layers that are identities at inference (they act only while Keras trains). */
const INFERENCE_IDENTITIES = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/** Recurrent-layer fields that change the computation and that webrnn does not run when set. */
const REFUSED_WHEN_SET = ['return_state', 'time_major'];

type Json = Record<string, unknown>;

function fail(message: string): never {
  throw new WebRnnError('invalid-file', `tfjs: ${message}`);
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A Keras activation as a cell function. hard_sigmoid is max(0, min(1, a·x + 0.5)) with
 * a = 0.2 in TensorFlow.js and Keras 2, 1/6 in Keras 3.
 */
function activationOf(name: unknown, what: string, keras3: boolean): CellFunction {
  switch (name ?? 'linear') {
    case 'sigmoid':
      return { name: 'Sigmoid' };
    case 'tanh':
      return { name: 'Tanh' };
    case 'relu':
      return { name: 'Relu' };
    case 'linear':
      return { name: 'Affine', alpha: 1, beta: 0 };
    case 'hard_sigmoid':
      return { name: 'HardSigmoid', alpha: keras3 ? 1 / 6 : 0.2, beta: 0.5 };
    case 'softsign':
      return { name: 'Softsign' };
    case 'softplus':
      return { name: 'Softplus' };
    case 'elu':
      return { name: 'Elu', alpha: 1 };
    default:
      fail(`${what} '${String(name)}' is not supported`);
  }
}

/** A layer's dtype: 'float32' (Keras 3: a DTypePolicy of that name); others compute differently. */
function checkDtype(dtype: unknown): void {
  const name = isObject(dtype) && isObject(dtype.config) ? dtype.config.name : dtype;
  if (name !== undefined && name !== null && name !== 'float32') fail(`dtype ${JSON.stringify(name)} (webrnn computes in float32)`);
}

/** What a tfjs model becomes: model options (returnSequences included), and the weights under PyTorch names. */
export type TfjsPlan =
  | { kind: CellKind; options: RnnOptions & GruOptions & LstmOptions; dict: Record<string, Float32Array> }
  | { kind: 'stack'; options: StackOptions; dict: Record<string, Float32Array> };

/** The weight tensors by manifest name: shards concatenated in manifest order, float32 only. */
function readWeights(manifestValue: unknown, weights: TfjsModelSource['weights']): Map<string, { shape: number[]; data: Float32Array }> {
  const manifest = manifestValue as Array<{ weights?: Array<{ name: string; shape: number[]; dtype?: string; quantization?: unknown }> }> | undefined;
  if (!Array.isArray(manifest)) fail('weightsManifest missing');
  const shards = Array.isArray(weights) ? weights : [weights as ArrayBuffer | Uint8Array];
  const total = shards.reduce((n, s) => n + (s instanceof Uint8Array ? s.byteLength : (s as ArrayBuffer).byteLength), 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const s of shards) {
    const u = s instanceof Uint8Array ? s : new Uint8Array(s as ArrayBuffer);
    bytes.set(u, at);
    at += u.byteLength;
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let offset = 0;
  for (const group of manifest) {
    if (group === null || typeof group !== 'object' || (group.weights !== undefined && !Array.isArray(group.weights))) fail('weightsManifest entries must be objects with a weights list');
    for (const w of group.weights ?? []) {
      if (w === null || typeof w !== 'object' || typeof w.name !== 'string') fail('a manifest weight without a name');
      if (w.quantization) fail(`weight '${w.name}' is quantized, which is not supported`);
      if ((w.dtype ?? 'float32') !== 'float32') fail(`weight '${w.name}' has dtype ${w.dtype}; float32 expected`);
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`weight '${w.name}' has shape ${JSON.stringify(w.shape)}`);
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (offset + 4 * n > total) fail(`weight '${w.name}' runs past the ${total} bytes of weights`);
      const view = new DataView(bytes.buffer, offset, 4 * n);
      tensors.set(w.name, { shape: w.shape, data: Float32Array.from({ length: n }, (_, i) => view.getFloat32(4 * i, true)) });
      offset += 4 * n;
    }
  }
  if (offset !== total) fail(`the manifest covers ${offset} bytes of the ${total} given`);
  return tensors;
}

/** The names of the layers a functional model's layer reads (TensorFlow.js, Keras 2 and Keras 3 forms). */
function inboundNames(layer: Json): string[] {
  const nodes = layer.inbound_nodes;
  if (nodes === undefined || (Array.isArray(nodes) && nodes.length === 0)) return [];
  if (!Array.isArray(nodes) || nodes.length !== 1) fail(`layer '${String(layer.name)}' is called more than once (a shared layer)`);
  const node = nodes[0];
  // TensorFlow.js and Keras 2: [[name, nodeIndex, tensorIndex, kwargs], ...]; Keras 3:
  // { args: [{ config: { keras_history: [name, nodeIndex, tensorIndex] } }], kwargs }.
  const entries: unknown[] = Array.isArray(node) ? node : isObject(node) && Array.isArray(node.args) ? node.args.map((a) => (isObject(a) && isObject(a.config) ? a.config.keras_history : a)) : [];
  const names = entries.map((e) => (Array.isArray(e) && typeof e[0] === 'string' ? e[0] : fail(`cannot tell what layer '${String(layer.name)}' reads`)));
  if (!names.length) fail(`cannot tell what layer '${String(layer.name)}' reads`);
  return names;
}

/** The layers of a Sequential model, or of a functional model that is a chain, in order. */
function chainOfLayers(topology: unknown): Json[] {
  if (!isObject(topology)) fail('modelTopology missing');
  // A converted Keras model nests the model under model_config.
  const model = isObject(topology.model_config) ? topology.model_config : topology;
  const config = model.config;
  // Keras before 2.2.3 wrote a Sequential model's config as the list of layers itself.
  const layers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(layers)) fail('modelTopology.config.layers missing');
  for (const layer of layers) if (!isObject(layer) || !isObject(layer.config ?? {})) fail('a layer is not an object with a config');
  const list = layers as Json[];
  if (model.class_name === 'Sequential' || model.class_name === undefined) return list;
  if (model.class_name !== 'Model' && model.class_name !== 'Functional') fail(`model class ${String(model.class_name)} is not supported`);
  // A functional model: each layer must read the one before it, and the model's one output be the last.
  const name = (l: Json): string => String(l.name ?? (l.config as Json | undefined)?.name);
  list.forEach((layer, i) => {
    const from = inboundNames(layer);
    const expected = i === 0 ? [] : [name(list[i - 1])];
    if (from.length !== expected.length || from.some((n, k) => n !== expected[k])) {
      fail(`the functional model is not a chain of layers: layer '${name(layer)}' reads ${from.length ? from.map((n) => `'${n}'`).join(', ') : 'the model input'}${i ? `, not '${expected[0]}'` : ''}`);
    }
  });
  const outputs = isObject(config) ? config.output_layers : undefined;
  const outs = Array.isArray(outputs) && Array.isArray(outputs[0]) ? outputs : [outputs];
  if (outs.length !== 1 || !Array.isArray(outs[0]) || outs[0][0] !== name(list[list.length - 1])) fail('the functional model must have one output, its last layer');
  return list;
}

/** Read a tfjs layers model into a plan; every unsupported layer or setting is named. */
export function planFromTfjs(source: TfjsModelSource): TfjsPlan {
  let json = source.json;
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (e) {
      fail(`model.json is not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(json)) fail('model.json is not an object');
  const topology = json.modelTopology;
  const layers = chainOfLayers(topology);
  const keras3 = isObject(topology) && typeof topology.keras_version === 'string' && topology.keras_version.startsWith('3.');
  const tensors = readWeights(json.weightsManifest, source.weights);

  // A layer's weight: '<layer>/<leaf>', or '<layer>/<cell>/<leaf>' as TF2 names them.
  const lookup = (name: string): { shape: number[]; data: Float32Array } | undefined => {
    const cut = name.lastIndexOf('/');
    const [layer, leaf] = [name.slice(0, cut), name.slice(cut + 1)];
    const matches = [...tensors.keys()].filter((k) => k === name || (k.startsWith(`${layer}/`) && k.split('/').pop() === leaf && k.split('/').length === layer.split('/').length + 2));
    if (matches.length > 1) fail(`weights ${matches.map((m) => `'${m}'`).join(', ')} all could be '${name}'`);
    return tensors.get(matches[0]);
  };
  const weight = (name: string, shape: number[]): Float32Array => {
    const t = lookup(name);
    if (!t) fail(`weight '${name}' missing from the manifest`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) fail(`weight '${name}' has shape [${t.shape}], [${shape}] expected`);
    return t.data;
  };
  const text = (v: unknown, what: string): string => {
    if (typeof v !== 'string') fail(`${what} must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const shapeOf = (v: unknown): number => {
    if (!Array.isArray(v) || !v.length) fail(`batch_input_shape ${JSON.stringify(v)}`);
    const n = v[v.length - 1];
    if (!Number.isInteger(n) || n < 1) fail(`input size ${JSON.stringify(n)} in batch_input_shape`);
    return n as number;
  };
  const inputShape = (c: Json): unknown => c.batch_input_shape ?? c.batch_shape ?? c.batchInputShape;

  let kind: CellKind | undefined;
  let units = 0;
  let D = 0;
  let inputSize = 0;
  let features = 0;
  let returnSequences = true;
  let cell: CellOptions | undefined;
  let cellKey = '';
  let resetAfter = false;
  let useBias = true;
  const dict: Record<string, Float32Array> = {};
  let numLayers = 0;
  let outputSize = 0;
  let embedding: { numEmbeddings: number; maskZero: boolean } | null = null;
  // Each recurrent layer: its cell, width, directions, activations and GRU form.
  const stack: Array<StackLayerOptions & { cell: CellOptions; cellKey: string }> = [];
  let goBackwards = false;
  let stateful = false;
  for (const layer of layers) {
    const cls = layer.class_name;
    const cfg = (layer.config ?? {}) as Json;
    if (cls === 'Embedding') {
      if (kind || embedding) fail('an Embedding layer after another layer than the input (only first)');
      checkDtype(cfg.dtype);
      const V = cfg.input_dim;
      const E = cfg.output_dim;
      if (!Number.isInteger(V) || (V as number) < 1) fail(`Embedding input_dim ${JSON.stringify(V)}`);
      if (!Number.isInteger(E) || (E as number) < 1) fail(`Embedding output_dim ${JSON.stringify(E)}`);
      dict[EMBEDDING_WEIGHT] = weight(`${text(cfg.name, 'the Embedding name')}/embeddings`, [V as number, E as number]);
      embedding = { numEmbeddings: V as number, maskZero: cfg.mask_zero === true };
      inputSize = E as number;
      continue;
    }
    if (cls === 'InputLayer') {
      const shape = inputShape(cfg);
      if (shape !== undefined) inputSize = shapeOf(shape);
      continue;
    }
    if (typeof cls === 'string' && INFERENCE_IDENTITIES.has(cls)) {
      if (!kind && inputShape(cfg) !== undefined) inputSize = shapeOf(inputShape(cfg));
      continue;
    }
    if (cls === 'Dense') {
      if (outputSize) fail('more than one Dense layer');
      if (!kind) fail('a Dense layer before any recurrent layer');
      checkDtype(cfg.dtype);
      if ((cfg.activation ?? 'linear') !== 'linear') fail(`the Dense layer's activation '${String(cfg.activation)}' (only linear read-outs; apply it to y)`);
      const O = cfg.units as number;
      if (!Number.isInteger(O) || O < 1) fail(`Dense units ${JSON.stringify(cfg.units)}`);
      const name = text(cfg.name, 'the Dense layer name');
      const kernel = weight(`${name}/kernel`, [features, O]);
      // Keras's Dense kernel is [in, out]; the read-out's weight is [out, in].
      const w = new Float32Array(O * features);
      for (let o = 0; o < O; o++) for (let f = 0; f < features; f++) w[o * features + f] = kernel[f * O + o];
      dict[READOUT_WEIGHT] = w;
      dict[READOUT_BIAS] = cfg.use_bias === false ? new Float32Array(O) : weight(`${name}/bias`, [O]);
      outputSize = O;
      continue;
    }
    if (outputSize) fail(`layer ${String(cls)} after the Dense read-out`);
    if (!returnSequences) fail('a recurrent layer after one with return_sequences false');
    let inner: Json = layer;
    let dirs = 1;
    if (cls === 'Bidirectional') {
      if ((cfg.merge_mode ?? 'concat') !== 'concat') fail(`Bidirectional merge_mode '${String(cfg.merge_mode)}' (only concat)`);
      if (cfg.backward_layer !== undefined && cfg.backward_layer !== null) fail('Bidirectional with its own backward_layer is not supported');
      if (cfg.num_constants) fail('Bidirectional with constants (num_constants) is not supported');
      if (!isObject(cfg.layer) || !isObject(cfg.layer.config)) fail('Bidirectional without a layer');
      inner = cfg.layer;
      dirs = 2;
    } else if (typeof cls !== 'string' || !Object.hasOwn(KINDS, cls)) fail(`layer ${String(cls)} is not supported`);
    const innerClass = inner.class_name;
    const k = typeof innerClass === 'string' && Object.hasOwn(KINDS, innerClass) ? KINDS[innerClass] : undefined;
    if (!k) fail(`layer ${String(innerClass)} in Bidirectional is not supported`);
    const c = (inner.config ?? {}) as Json;
    for (const field of REFUSED_WHEN_SET) if (c[field]) fail(`${field} is not supported`);
    // go_backwards: the first layer reading its input from the end; stateful: every layer alike.
    if (c.go_backwards) {
      if (dirs === 2) fail('go_backwards inside Bidirectional is not supported');
      if (numLayers > 0) fail('go_backwards on a recurrent layer after the first is not supported');
      goBackwards = true;
    }
    const layerStateful = c.stateful === true;
    if (numLayers > 0 && layerStateful !== stateful) fail('stateful on some recurrent layers and not on others');
    stateful = layerStateful;
    checkDtype(c.dtype ?? cfg.dtype);
    const H = c.units as number;
    if (!Number.isInteger(H) || H < 1) fail(`units ${String(c.units)}`);
    const layerCell: CellOptions = {};
    const act = activationOf(c.activation ?? 'tanh', 'activation', keras3);
    if (k === 'rnn') layerCell.f = act;
    else {
      layerCell.f = activationOf(c.recurrent_activation ?? 'sigmoid', 'recurrent_activation', keras3);
      layerCell.g = act;
      if (k === 'lstm') layerCell.h = act;
    }
    const key = JSON.stringify(layerCell);
    const ub = c.use_bias !== false;
    if (kind && ub !== useBias) fail('stacked layers with and without bias');
    const wrapperName = dirs === 2 ? text(cfg.name, 'the Bidirectional name') : '';
    const innerName = text(c.name, 'the layer name');
    const prefix = (d: number): string => (dirs === 2 ? `${wrapperName}/${d === 0 ? 'forward' : 'backward'}_${innerName}` : innerName);
    if (k === 'gru') {
      // Written by TensorFlow.js (always false) and Keras ≥ 2.1.3; older files have neither the
      // field nor the second bias row, which then tells.
      resetAfter = c.reset_after === undefined ? ub && lookup(`${prefix(0)}/bias`)?.shape.length === 2 : Boolean(c.reset_after);
    }
    useBias = ub;
    kind = k;
    units = H;
    D = dirs;
    cell = layerCell;
    cellKey = key;
    const G = PERM[k].length;
    if (numLayers === 0 && !inputSize) {
      const shape = inputShape(c) ?? inputShape(cfg);
      // Without a declared input shape, the kernel [I, G·H] tells I.
      inputSize = shape !== undefined ? shapeOf(shape) : (lookup(`${prefix(0)}/kernel`)?.shape[0] ?? 0);
      if (!inputSize) fail('the input size cannot be told (no batch_input_shape, no kernel)');
    }
    const I = numLayers === 0 ? inputSize : features;
    for (let d = 0; d < D; d++) {
      const kernel = weight(`${prefix(d)}/kernel`, [I, G * H]);
      const recurrent = weight(`${prefix(d)}/recurrent_kernel`, [H, G * H]);
      // Keras's [in, G·H] with blocks in its order → PyTorch's [G·H, in] in its order.
      const toTorch = (src: Float32Array, rows: number): Float32Array => {
        const out = new Float32Array(G * H * rows);
        PERM[k].forEach((from, to) => {
          for (let j = 0; j < H; j++) for (let i = 0; i < rows; i++) out[(to * H + j) * rows + i] = src[i * G * H + from * H + j];
        });
        return out;
      };
      const reorder = (src: ArrayLike<number>, base: number): Float32Array => {
        const out = new Float32Array(G * H);
        PERM[k].forEach((from, to) => {
          for (let j = 0; j < H; j++) out[to * H + j] = src[base + from * H + j];
        });
        return out;
      };
      const suffix = `_l${numLayers}${d === 1 ? '_reverse' : ''}`;
      dict[`weight_ih${suffix}`] = toTorch(kernel, I);
      dict[`weight_hh${suffix}`] = toTorch(recurrent, H);
      if (useBias) {
        if (k === 'gru' && resetAfter) {
          const bias = weight(`${prefix(d)}/bias`, [2, G * H]);
          dict[`bias_ih${suffix}`] = reorder(bias, 0);
          dict[`bias_hh${suffix}`] = reorder(bias, G * H);
        } else {
          dict[`bias_ih${suffix}`] = reorder(weight(`${prefix(d)}/bias`, [G * H]), 0);
          dict[`bias_hh${suffix}`] = new Float32Array(G * H);
        }
      }
    }
    stack.push({ kind: k, hiddenSize: H, bidirectional: D === 2, ...(k === 'gru' ? { linearBeforeReset: resetAfter } : {}), cell: layerCell, cellKey: key });
    numLayers++;
    features = D * H;
    // Keras's default is false.
    returnSequences = c.return_sequences === true;
  }
  if (!kind) fail('no LSTM, GRU or SimpleRNN layer');
  const [first] = stack;
  if (stack.some((l) => l.kind !== first.kind || l.hiddenSize !== first.hiddenSize || l.bidirectional !== first.bidirectional || l.cellKey !== first.cellKey || l.linearBeforeReset !== first.linearBeforeReset)) {
    return { kind: 'stack', options: stackOptions(stack, { inputSize, batchFirst: true, bias: useBias, returnSequences, outputSize, embedding, goBackwards, stateful }), dict };
  }
  const options: RnnOptions & GruOptions & LstmOptions = { inputSize, hiddenSize: units, numLayers, bidirectional: D === 2, batchFirst: true, bias: useBias, returnSequences };
  if (kind === 'gru') options.linearBeforeReset = resetAfter;
  Object.assign(options, cellOf(kind, cell!));
  if (outputSize) options.outputSize = outputSize;
  if (embedding) options.embedding = embedding;
  if (goBackwards) options.goBackwards = true;
  if (stateful) options.stateful = true;
  return { kind, options, dict };
}

/** Keras's activations of a layer as its options: the Elman cell's as a nonlinearity, PyTorch's cell functions as nothing, others as `cell`. */
function cellOf(kind: CellKind, cell: CellOptions): { nonlinearity?: RnnOptions['nonlinearity']; cell?: CellOptions } {
  const f = cell.f!.name;
  if (kind === 'rnn') return f === 'Tanh' ? { nonlinearity: 'tanh' } : f === 'Relu' ? { nonlinearity: 'relu' } : f === 'Affine' ? { nonlinearity: 'identity' } : { cell };
  return f === 'Sigmoid' && cell.g!.name === 'Tanh' && (kind !== 'lstm' || cell.h!.name === 'Tanh') ? {} : { cell };
}

/** The options of a stack of unlike layers. */
function stackOptions(
  layers: ReadonlyArray<StackLayerOptions & { cell: CellOptions; cellKey: string }>,
  model: { inputSize: number; batchFirst: boolean; bias: boolean; returnSequences: boolean; outputSize: number; embedding: { numEmbeddings: number; maskZero: boolean } | null; goBackwards: boolean; stateful: boolean },
): StackOptions {
  const out = layers.map(({ cell, cellKey: _, ...layer }): StackLayerOptions => ({ ...layer, ...cellOf(layer.kind, cell) }));
  const options: StackOptions = { inputSize: model.inputSize, layers: out, batchFirst: model.batchFirst, bias: model.bias, returnSequences: model.returnSequences };
  if (model.outputSize) options.outputSize = model.outputSize;
  if (model.embedding) options.embedding = model.embedding;
  if (model.goBackwards) options.goBackwards = true;
  if (model.stateful) options.stateful = true;
  return options;
}
