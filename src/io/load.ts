/**
 * Building a model from a PyTorch state dict: the kind, sizes, layer count and directions are
 * read from the names and shapes (weight_ih_l{k}[_reverse], …, or a cell's weight_ih, …), under
 * any common prefix (`rnn.`, `lstm.`, `encoder.lstm.`), with an nn.Linear read-out recognised
 * beside it. Each layer is read on its own: several modules in a row, or a stack webrnn saved,
 * may differ from layer to layer (a stack, engine.stack).
 */
import { WebRnnError } from '../errors.js';
import { EMBEDDING_WEIGHT, READOUT_BIAS, READOUT_WEIGHT, type CellKind, type GruOptions, type LstmOptions, type Nonlinearity, type RnnOptions } from '../spec/spec.js';
import type { StackOptions } from '../spec/stack.js';

/** Options of `engine.load`. */
export interface LoadOptions {
  /**
   * The format the file must have: 'safetensors', 'onnx' or 'tfjs' (then a file of another
   * format is refused, and the result is typed accordingly). Default: told from the contents.
   */
  format?: 'safetensors' | 'onnx' | 'tfjs';
  /** The Elman RNN's nonlinearity (every Elman layer's), which the names cannot tell (default 'tanh'). */
  nonlinearity?: Nonlinearity;
  /** Which recurrent module to load when the file holds several (its prefix, e.g. 'encoder.lstm.'). */
  prefix?: string;
  /**
   * Recurrent modules that run one after the other, in order (e.g. ['lstm1', 'gru2']): loaded
   * as one model, whose layers are those of each module in turn (a stack, engine.stack, where
   * they differ in kind, size or directions; all with bias or all without). Default: the one
   * module, or two whose shapes chain them in one order only.
   */
  layers?: string[];
  /** The nn.Linear read-out's module name (e.g. 'fc'); by default the one Linear whose input matches. */
  readout?: string | false;
  /** Options the weights cannot carry (a TensorFlow.js model.json carries batchFirst and returnSequences; these override it). */
  batchFirst?: boolean;
  /** What y is, one row per step or one per sequence (see RecurrentOptions.returnSequences; default true). */
  returnSequences?: boolean;
  /** Seed of the model (its dropout masks). */
  seed?: number;
  /** Dropout between layers in training (RecurrentOptions.dropout), which a state dict does not record; default 0. */
  dropout?: number;
  /** Refuse NaN and ±Infinity in the weights (default true). */
  checkFinite?: boolean;
  /** Leave tensors that belong to neither the recurrent module nor the read-out (default: refuse them). */
  ignoreUnknown?: boolean;
  /**
   * The nn.Embedding's module name (e.g. 'embed'); by default the one 2-D weight without a bias
   * whose columns are the recurrent module's inputs. false: none (the model reads vectors).
   */
  embedding?: string | false;
  /** The embedding's padding_idx, which a state dict does not record (RecurrentOptions.embedding). */
  paddingIdx?: number;
  /** The recurrent weights' precision (RecurrentOptions.weightPrecision; default 'f32', or what the file saved). */
  weightPrecision?: 'f32' | 'f16';
}

/** What a state dict describes: a model of one cell, or a stack; the file's names by our names (PyTorch names under the prefix, and the read-out). */
export type StateDictPlan = { kind: CellKind; options: RnnOptions & GruOptions & LstmOptions; names: Record<string, string> } | { kind: 'stack'; options: StackOptions; names: Record<string, string> };

/** A layer module's tensor (nn.LSTM: weight_ih_l0, …) or, without the layer suffix, a cell's (nn.LSTMCell: weight_ih, …). */
const PARAM = /^(.*?)(weight|bias)_(ih|hh)(_l\d+(?:_reverse)?)?$/;

/** What the names of a recurrent module say it is. */
const MODULE_FORMS = 'weight_ih_l0 and weight_hh_l0 (nn.LSTM, nn.GRU, nn.RNN) or weight_ih and weight_hh (nn.LSTMCell, nn.GRUCell, nn.RNNCell)';

/** Up to `n` of `names`, quoted, for an error message. */
function someNames(names: readonly string[], n = 6): string {
  const shown = names.slice(0, n).map((x) => `'${x}'`).join(', ');
  return names.length > n ? `${shown} and ${names.length - n} more` : shown || 'no tensors';
}

/** A layer of a file: its cell, width, directions and an LSTM's projection (0: none). */
interface LayerPlan {
  kind: CellKind;
  hiddenSize: number;
  D: 1 | 2;
  projSize: number;
}

/** One recurrent module of a file: its layers, and its tensors' names by our names (its own layers from 0). */
interface ModulePlan {
  prefix: string;
  inputSize: number;
  layers: LayerPlan[];
  bias: boolean;
  names: Record<string, string>;
}

const alikeLayers = (a: LayerPlan, b: LayerPlan): boolean => a.kind === b.kind && a.hiddenSize === b.hiddenSize && a.D === b.D && a.projSize === b.projSize;

/** The module under `prefix` (a cell's names when `cell`); throws a WebRnnError naming what does not fit. */
function modulePlan(shapes: Readonly<Record<string, readonly number[]>>, prefix: string, cell: boolean): ModulePlan {
  // A cell is one unidirectional layer: its names are layer 0's without the suffix.
  const theirName = (ours: string): string => prefix + (cell ? ours.replace(/_l0$/, '') : ours);
  const get = (ours: string): readonly number[] | undefined => shapes[theirName(ours)];
  const wih = get('weight_ih_l0');
  const expected = (ours: string, form: string): string => `${theirName(ours)} ${form}`;
  if (!wih || wih.length !== 2) throw new WebRnnError('state-dict', `load: ${expected('weight_ih_l0', '[G·H, inputSize]')} expected, ${wih ? `found shape [${wih.join(', ')}]` : 'missing'}`);
  let numLayers = 0;
  if (cell) numLayers = 1;
  else while (get(`weight_ih_l${numLayers}`)) numLayers++;
  // Each layer's cell and width from its W_hh [G·H, H] (with a projection, W_hr [P, H] and
  // W_hh [4H, P]), its directions from a _reverse twin.
  const layers: LayerPlan[] = Array.from({ length: numLayers }, (_, l) => {
    const whh = get(`weight_hh_l${l}`);
    const whr = cell ? undefined : get(`weight_hr_l${l}`);
    const name = `weight_hh_l${l}`;
    if (!whh || whh.length !== 2) throw new WebRnnError('state-dict', `load: ${expected(name, '[G·H, H]')} expected, ${whh ? `found shape [${whh.join(', ')}]` : 'missing'}`);
    if (whr && (whr.length !== 2 || whr[0] !== whh[1] || whr[1] !== whh[0] / 4)) throw new WebRnnError('state-dict', `load: ${theirName(`weight_hr_l${l}`)} of shape [${whr.join(', ')}] is not [P, H] for ${theirName(name)} [4H, P] of shape [${whh.join(', ')}]`);
    const H = whr ? whr[1] : whh[1];
    if (H < 1 || whh[0] % H !== 0) throw new WebRnnError('state-dict', `load: ${theirName(name)} of shape [${whh.join(', ')}] is not [G·H, H]`);
    const G = whh[0] / H;
    const kind: CellKind | undefined = G === 4 ? 'lstm' : G === 3 ? 'gru' : G === 1 ? 'rnn' : undefined;
    if (!kind) throw new WebRnnError('state-dict', `load: ${theirName(name)} has ${G} gate blocks; 1 (RNN), 3 (GRU) or 4 (LSTM) expected`);
    return { kind, hiddenSize: H, D: !cell && get(`weight_ih_l${l}_reverse`) !== undefined ? 2 : 1, projSize: whr ? whr[0] : 0 };
  });
  const bias = get('bias_ih_l0') !== undefined;
  const names: Record<string, string> = {};
  for (let l = 0; l < numLayers; l++) {
    for (let d = 0; d < layers[l].D; d++) {
      for (const role of ['weight_ih', 'weight_hh', ...(bias ? ['bias_ih', 'bias_hh'] : []), ...(layers[l].projSize ? ['weight_hr'] : [])]) {
        const ours = `${role}_l${l}${d ? '_reverse' : ''}`;
        names[ours] = theirName(ours);
      }
    }
  }
  return { prefix, inputSize: wih[1], layers, bias, names };
}

/** Features of a module's output: its last layer's D·H (D·P where it projects). */
function outputWidth(m: ModulePlan): number {
  const last = m.layers[m.layers.length - 1];
  return last.D * (last.projSize || last.hiddenSize);
}

/** What a module is, for an error message: 'lstm1.': LSTM of 64 units, 2 layers, bidirectional, 3 inputs. */
function describeModule(m: ModulePlan): string {
  const [first] = m.layers;
  const L = m.layers.length;
  const what = m.layers.every((l) => alikeLayers(l, first))
    ? `${first.kind.toUpperCase()} of ${first.hiddenSize} units, ${L} layer${L > 1 ? 's' : ''}${first.projSize ? `, projections of ${first.projSize}` : ''}${first.D === 2 ? ', bidirectional' : ''}`
    : `layers ${m.layers.map((l) => `${l.kind.toUpperCase()} ${l.hiddenSize}${l.projSize ? ` (projection ${l.projSize})` : ''}${l.D === 2 ? ' bidirectional' : ''}`).join(', ')}`;
  return `'${m.prefix}': ${what}${m.bias ? '' : ', no bias'}, ${m.inputSize} inputs`;
}

/**
 * Modules that run one after the other as one model: each reading the one before's output,
 * all with bias or all without. Their layers in turn, our layer numbers going on across them.
 */
function stackModules(modules: readonly ModulePlan[]): ModulePlan {
  const [first] = modules;
  modules.forEach((m, i) => {
    if (m.bias !== first.bias) throw new WebRnnError('state-dict', `load: modules with and without bias in one stack (${describeModule(first)}; ${describeModule(m)})`);
    if (i > 0 && m.inputSize !== outputWidth(modules[i - 1])) throw new WebRnnError('state-dict', `load: ${describeModule(m)} cannot read the ${outputWidth(modules[i - 1])} features of the module before it`);
  });
  const names: Record<string, string> = {};
  let at = 0;
  for (const m of modules) {
    for (const [ours, theirs] of Object.entries(m.names)) names[ours.replace(/_l(\d+)/, (_, l: string) => `_l${Number(l) + at}`)] = theirs;
    at += m.layers.length;
  }
  return { ...first, prefix: modules.map((m) => m.prefix).join(' + '), layers: modules.flatMap((m) => m.layers), names };
}

/** Read kind, sizes and names from tensor shapes; throws a WebRnnError naming what does not fit. */
export function planFromStateDict(shapes: Readonly<Record<string, readonly number[]>>, options: LoadOptions = {}): StateDictPlan {
  // Each module's prefix, and whether its names are a cell's (no _l{k} suffix).
  const modules = new Map<string, boolean>();
  for (const name of Object.keys(shapes)) {
    const m = PARAM.exec(name);
    if (m?.[2] === 'weight') {
      const cell = m[4] === undefined;
      if (modules.get(m[1]) === !cell) throw new WebRnnError('state-dict', `load: '${name}' is a cell's name beside layer names under the same prefix '${m[1]}'`);
      modules.set(m[1], cell);
    }
  }
  if (modules.size === 0) throw new WebRnnError('state-dict', `load: no recurrent weights in the file: expected ${MODULE_FORMS}, found ${someNames(Object.keys(shapes))}`);
  const found = [...modules.keys()].map((p) => `'${p}'`).join(', ');
  const plan = (prefix: string): ModulePlan => {
    if (!modules.has(prefix)) throw new WebRnnError('state-dict', `load: no recurrent weights under prefix '${prefix}' (found ${found})`);
    return modulePlan(shapes, prefix, modules.get(prefix)!);
  };
  if (options.prefix !== undefined && options.layers !== undefined) throw new WebRnnError('invalid-option', 'load: give prefix (one module) or layers (several, in order), not both');
  let module: ModulePlan;
  if (options.layers !== undefined) {
    if (!Array.isArray(options.layers) || options.layers.length === 0 || !options.layers.every((n) => typeof n === 'string')) throw new WebRnnError('invalid-option', 'load: layers must be a list of the recurrent modules\' names, in order');
    module = stackModules(options.layers.map((n) => plan(n === '' || n.endsWith('.') ? n : `${n}.`)));
  } else if (options.prefix !== undefined) module = plan(options.prefix);
  else if (modules.size === 1) module = plan([...modules.keys()][0]);
  else {
    // Several modules: one stack where exactly one order chains them (two modules, one of
    // which reads the other's output and not the other way round); otherwise the caller says.
    const all = [...modules.keys()].map(plan);
    const feeds = (a: ModulePlan, b: ModulePlan): boolean => b.inputSize === outputWidth(a);
    const orders = all.length === 2 ? [all, [all[1], all[0]]].filter(([a, b]) => feeds(a, b)) : [];
    if (orders.length !== 1) throw new WebRnnError('state-dict', `load: the file holds several recurrent modules (${found}); choose one with the prefix option, or stack them with layers: [names in order]`);
    module = stackModules(orders[0]);
  }
  const { bias, names } = module;
  const DH = outputWidth(module);
  // Leftovers: a read-out, or tensors that are not ours.
  const rest = Object.keys(shapes).filter((n) => !Object.values(names).includes(n));
  // The model's options besides its layers.
  const modelOptions: Omit<StackOptions, 'layers'> = { inputSize: module.inputSize, bias };
  if (options.nonlinearity !== undefined && !module.layers.some((l) => l.kind === 'rnn')) throw new WebRnnError('invalid-option', `load: nonlinearity is for RNN models; the file holds ${describeModule(module)}`);
  if (options.readout !== false) {
    const linears = rest
      .filter((n) => n.endsWith('.weight') && shapes[n].length === 2 && shapes[n][1] === DH)
      .map((n) => n.slice(0, -'weight'.length))
      .filter((m) => shapes[`${m}bias`]?.length === 1 && shapes[`${m}bias`][0] === shapes[`${m}weight`][0]);
    let chosen: string | undefined;
    if (options.readout !== undefined) {
      chosen = options.readout.endsWith('.') ? options.readout : `${options.readout}.`;
      if (!linears.includes(chosen)) throw new WebRnnError('state-dict', `load: no nn.Linear '${options.readout}' with ${DH} inputs in the file`);
    } else if (linears.length === 1) chosen = linears[0];
    else if (linears.length > 1) throw new WebRnnError('state-dict', `load: several possible read-outs (${linears.map((m) => `'${m.slice(0, -1)}'`).join(', ')}); choose one with the readout option`);
    if (chosen) {
      names[READOUT_WEIGHT] = `${chosen}weight`;
      names[READOUT_BIAS] = `${chosen}bias`;
      modelOptions.outputSize = shapes[`${chosen}weight`][0];
    }
  }
  // An nn.Embedding before the recurrent module: a weight [V, I] with no bias beside it.
  if (options.embedding !== false) {
    const taken = new Set(Object.values(names));
    const embeddings = Object.keys(shapes).filter((n) => !taken.has(n) && n.endsWith('weight') && shapes[n].length === 2 && shapes[n][1] === module.inputSize && shapes[`${n.slice(0, -'weight'.length)}bias`] === undefined);
    let chosen: string | undefined;
    if (options.embedding !== undefined) {
      chosen = `${options.embedding.endsWith('.') ? options.embedding : `${options.embedding}.`}weight`;
      if (!embeddings.includes(chosen)) throw new WebRnnError('state-dict', `load: no nn.Embedding '${options.embedding}' of ${module.inputSize} features in the file (expected '${chosen}' [numEmbeddings, ${module.inputSize}])`);
    } else if (embeddings.length === 1) chosen = embeddings[0];
    else if (embeddings.length > 1) throw new WebRnnError('state-dict', `load: several possible embeddings (${embeddings.map((n) => `'${n}'`).join(', ')}); choose one with the embedding option`);
    if (chosen) {
      names[EMBEDDING_WEIGHT] = chosen;
      modelOptions.embedding = { numEmbeddings: shapes[chosen][0], ...(options.paddingIdx !== undefined ? { paddingIdx: options.paddingIdx } : {}) };
    }
  }
  if (options.paddingIdx !== undefined && !modelOptions.embedding) throw new WebRnnError('invalid-option', 'load: paddingIdx given, but the file has no embedding');
  const unknown = Object.keys(shapes).filter((n) => !Object.values(names).includes(n));
  if (unknown.length && !options.ignoreUnknown) {
    throw new WebRnnError('state-dict', `load: tensors that belong to no recurrent layer or read-out: ${unknown.map((n) => `'${n}'`).join(', ')} (pass ignoreUnknown: true to leave them)`);
  }
  if (options.batchFirst !== undefined) modelOptions.batchFirst = options.batchFirst;
  if (options.returnSequences !== undefined) modelOptions.returnSequences = options.returnSequences;
  if (options.seed !== undefined) modelOptions.seed = options.seed;
  if (options.dropout !== undefined) modelOptions.dropout = options.dropout;
  const [first] = module.layers;
  const nonlinearity = options.nonlinearity ?? 'tanh';
  if (module.layers.every((l) => alikeLayers(l, first))) {
    const one: RnnOptions & GruOptions & LstmOptions = { ...modelOptions, hiddenSize: first.hiddenSize, numLayers: module.layers.length, bidirectional: first.D === 2 };
    if (first.kind === 'rnn') one.nonlinearity = nonlinearity;
    if (first.projSize) one.projSize = first.projSize;
    return { kind: first.kind, options: one, names };
  }
  const layers = module.layers.map((l) => ({ kind: l.kind, hiddenSize: l.hiddenSize, bidirectional: l.D === 2, ...(l.kind === 'rnn' ? { nonlinearity } : {}), ...(l.projSize ? { projSize: l.projSize } : {}) }));
  return { kind: 'stack', options: { ...modelOptions, layers }, names };
}
