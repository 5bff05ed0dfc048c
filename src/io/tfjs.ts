/**
 * TensorFlow.js layers models (model.json with a weights manifest, plus the weight bytes):
 * LSTM, GRU (both reset_after settings) and SimpleRNN layers, stacked, optionally in
 * Bidirectional wrappers (merge_mode 'concat'), with an optional Dense read-out. Keras's gate
 * orders are LSTM i, f, c, o (PyTorch's i, f, g, o) and GRU z, r, h (PyTorch's r, z, n);
 * Keras stores kernels transposed, [in, G·units], and inputs batch-first.
 */
import { WebRnnError } from '../errors.js';
import type { CellFunction, CellOptions } from '../model/cell-functions.js';
import { READOUT_BIAS, READOUT_WEIGHT, type CellKind, type GruOptions, type LstmOptions, type RnnOptions } from '../model/spec.js';

/** A tfjs layers model: the parsed (or text) model.json, and its weight shards in manifest order. */
export interface TfjsModelSource {
  json: unknown;
  weights: ArrayBuffer | Uint8Array | ReadonlyArray<ArrayBuffer | Uint8Array>;
}

const KINDS: Record<string, CellKind> = { LSTM: 'lstm', GRU: 'gru', SimpleRNN: 'rnn' };
/** PyTorch block k takes Keras block PERM[k]. */
const PERM: Record<CellKind, number[]> = { lstm: [0, 1, 2, 3], gru: [1, 0, 2], rnn: [0] };

function fail(message: string): never {
  throw new WebRnnError('invalid-file', `tfjs: ${message}`);
}

function activationOf(name: unknown, what: string): CellFunction {
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
      // Keras's hard_sigmoid: max(0, min(1, 0.2 x + 0.5)).
      return { name: 'HardSigmoid', alpha: 0.2, beta: 0.5 };
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

/** What a tfjs model becomes: model options, and the weights under PyTorch names. */
export interface TfjsPlan {
  kind: CellKind;
  options: RnnOptions & GruOptions & LstmOptions;
  dict: Record<string, Float32Array>;
  /** The last recurrent layer returns only its last step (Keras return_sequences false). */
  lastStepOnly: boolean;
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
  if (json === null || typeof json !== 'object') fail('model.json is not an object');
  const model = json as { modelTopology?: { config?: { layers?: unknown }; model_config?: { config?: { layers?: unknown } } }; weightsManifest?: unknown };
  const topology = model?.modelTopology;
  const layers = (topology?.config?.layers ?? topology?.model_config?.config?.layers) as unknown[] | undefined;
  if (!Array.isArray(layers)) fail('modelTopology.config.layers missing');
  const manifest = model.weightsManifest as Array<{ weights?: Array<{ name: string; shape: number[]; dtype?: string; quantization?: unknown }> }> | undefined;
  if (!Array.isArray(manifest)) fail('weightsManifest missing');

  // The weight bytes: shards concatenated in manifest order, float32 only.
  const shards = Array.isArray(source.weights) ? source.weights : [source.weights as ArrayBuffer | Uint8Array];
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

  // A layer's weight: '<layer>/<leaf>', or '<layer>/<cell>/<leaf>' as TF2 names them.
  const weight = (name: string, shape: number[]): Float32Array => {
    const cut = name.lastIndexOf('/');
    const [layer, leaf] = [name.slice(0, cut), name.slice(cut + 1)];
    const matches = [...tensors.keys()].filter((k) => k === name || (k.startsWith(`${layer}/`) && k.split('/').pop() === leaf && k.split('/').length === layer.split('/').length + 2));
    if (matches.length > 1) fail(`weights ${matches.map((m) => `'${m}'`).join(', ')} all could be '${name}'`);
    const t = tensors.get(matches[0]);
    if (!t) fail(`weight '${name}' missing from the manifest`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) fail(`weight '${name}' has shape [${t.shape}], [${shape}] expected`);
    return t.data;
  };

  let kind: CellKind | undefined;
  let units = 0;
  let D = 0;
  let inputSize = 0;
  let features = 0;
  let lastStepOnly = false;
  let cell: CellOptions | undefined;
  let cellKey = '';
  let resetAfter = true;
  let useBias = true;
  const dict: Record<string, Float32Array> = {};
  let numLayers = 0;
  let outputSize = 0;
  const text = (v: unknown, what: string): string => {
    if (typeof v !== 'string') fail(`${what} must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  for (const layer of layers) {
    if (!isObject(layer) || !isObject(layer.config ?? {})) fail('a layer is not an object with a config');
    const cls = layer.class_name;
    const cfg = (layer.config ?? {}) as Record<string, unknown>;
    const shapeOf = (v: unknown): number => {
      if (!Array.isArray(v) || !v.length) fail(`batch_input_shape ${JSON.stringify(v)}`);
      const n = v[v.length - 1];
      if (!Number.isInteger(n) || n < 1) fail(`input size ${JSON.stringify(n)} in batch_input_shape`);
      return n as number;
    };
    if (cls === 'InputLayer') {
      const shape = cfg.batch_input_shape ?? cfg.batchInputShape;
      if (shape !== undefined) inputSize = shapeOf(shape);
      continue;
    }
    if (cls === 'Dense') {
      if (outputSize) fail('more than one Dense layer');
      if (!kind) fail('a Dense layer before any recurrent layer');
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
    if (outputSize) fail(`layer ${cls} after the Dense read-out`);
    if (lastStepOnly) fail('a recurrent layer after one with return_sequences false');
    let inner: Record<string, unknown> = layer;
    let dirs = 1;
    if (cls === 'Bidirectional') {
      if ((cfg.merge_mode ?? 'concat') !== 'concat') fail(`Bidirectional merge_mode '${String(cfg.merge_mode)}' (only concat)`);
      if (!isObject(cfg.layer) || !isObject(cfg.layer.config)) fail('Bidirectional without a layer');
      inner = cfg.layer;
      dirs = 2;
    } else if (typeof cls !== 'string' || !Object.hasOwn(KINDS, cls)) fail(`layer ${String(cls)} is not supported`);
    const innerClass = inner.class_name;
    const k = typeof innerClass === 'string' && Object.hasOwn(KINDS, innerClass) ? KINDS[innerClass] : undefined;
    if (!k) fail(`layer ${String(innerClass)} in Bidirectional is not supported`);
    const c = (inner.config ?? {}) as Record<string, unknown>;
    if (c.go_backwards) fail('go_backwards is not supported');
    if (c.stateful) fail('stateful layers are not supported');
    if (c.implementation !== undefined && c.implementation !== 1 && c.implementation !== 2) fail(`implementation ${String(c.implementation)}`);
    const H = c.units as number;
    if (!Number.isInteger(H) || H < 1) fail(`units ${String(c.units)}`);
    if (kind && (k !== kind || H !== units || dirs !== D)) fail('stacked recurrent layers of different kinds, sizes or directions');
    const layerCell: CellOptions = {};
    const act = activationOf(c.activation ?? 'tanh', 'activation');
    if (k === 'rnn') layerCell.f = act;
    else {
      layerCell.f = activationOf(c.recurrent_activation ?? 'sigmoid', 'recurrent_activation');
      layerCell.g = act;
      if (k === 'lstm') layerCell.h = act;
    }
    const key = JSON.stringify(layerCell);
    if (kind && key !== cellKey) fail('stacked layers with different activations');
    if (k === 'gru') {
      const ra = c.reset_after === undefined ? true : Boolean(c.reset_after);
      if (kind && ra !== resetAfter) fail('stacked GRUs with different reset_after');
      resetAfter = ra;
    }
    const ub = c.use_bias !== false;
    if (kind && ub !== useBias) fail('stacked layers with and without bias');
    useBias = ub;
    kind = k;
    units = H;
    D = dirs;
    cell = layerCell;
    cellKey = key;
    const G = PERM[k].length;
    const I = numLayers === 0 ? inputSize : D * H;
    if (numLayers === 0 && !inputSize) {
      const shape = c.batch_input_shape ?? cfg.batch_input_shape;
      inputSize = shape !== undefined ? shapeOf(shape) : 0;
    }
    const I0 = numLayers === 0 ? inputSize : I;
    if (!I0) fail('the input size cannot be told (no batch_input_shape)');
    for (let d = 0; d < D; d++) {
      const prefix = D === 2 ? `${text(cfg.name, 'the Bidirectional name')}/${d === 0 ? 'forward' : 'backward'}_${text(c.name, 'the layer name')}` : text(c.name, 'the layer name');
      const kernel = weight(`${prefix}/kernel`, [I0, G * H]);
      const recurrent = weight(`${prefix}/recurrent_kernel`, [H, G * H]);
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
      dict[`weight_ih${suffix}`] = toTorch(kernel, I0);
      dict[`weight_hh${suffix}`] = toTorch(recurrent, H);
      if (useBias) {
        if (k === 'gru' && resetAfter) {
          const bias = weight(`${prefix}/bias`, [2, G * H]);
          dict[`bias_ih${suffix}`] = reorder(bias, 0);
          dict[`bias_hh${suffix}`] = reorder(bias, G * H);
        } else {
          dict[`bias_ih${suffix}`] = reorder(weight(`${prefix}/bias`, [G * H]), 0);
          dict[`bias_hh${suffix}`] = new Float32Array(G * H);
        }
      }
    }
    numLayers++;
    features = D * H;
    lastStepOnly = c.return_sequences === false || c.return_sequences === undefined;
  }
  if (!kind) fail('no LSTM, GRU or SimpleRNN layer');
  const options: RnnOptions & GruOptions & LstmOptions = { inputSize, hiddenSize: units, numLayers, bidirectional: D === 2, batchFirst: true, bias: useBias };
  if (kind === 'gru') options.linearBeforeReset = resetAfter;
  const standard = kind === 'rnn' ? ['Tanh', 'Relu'].includes(cell!.f!.name) || (cell!.f!.name === 'Affine') : cell!.f!.name === 'Sigmoid' && cell!.g!.name === 'Tanh' && (kind !== 'lstm' || cell!.h!.name === 'Tanh');
  if (kind === 'rnn' && standard) options.nonlinearity = cell!.f!.name === 'Tanh' ? 'tanh' : cell!.f!.name === 'Relu' ? 'relu' : 'identity';
  else if (!standard) options.cell = cell;
  if (outputSize) options.outputSize = outputSize;
  return { kind, options, dict, lastStepOnly };
}
