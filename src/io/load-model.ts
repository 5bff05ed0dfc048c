/**
 * engine.load's work, loaded when a model is first loaded so that a page that only builds
 * models does not carry the readers (ONNX with protobufjs, TensorFlow.js, safetensors): the
 * source read (io/files.ts), its format told from its contents, the model made through the
 * engine and its weights written. Nothing is left behind on error.
 */
import { checkFinite } from '../arrays.js';
import { ShapeError, WebRnnError } from '../errors.js';
import type { RecurrentModel } from '../model/recurrent-model.js';
import { parameterInfo, resolveSpec } from '../spec/spec.js';
import { resolveStackSpec } from '../spec/stack.js';
import { fileBytes, tfjsFiles } from './files.js';
import { planFromStateDict, type LoadOptions } from './load.js';
import { OPTIMIZER_METADATA, OPTIMIZER_PREFIX, readOptimizerEntries } from '../train/checkpoint.js';
import { MODEL_METADATA, readSavedOptions } from '../spec/saved-options.js';
import type { ModelFactory } from './onnx.js';
import { importOnnx, looksLikeOnnx, type OnnxModel } from './onnx-model.js';
import { looksLikeSafetensors, readSafetensors } from './safetensors.js';
import { planFromTfjs, type TfjsModelSource } from './tfjs.js';

/** A model from `source` (see Engine.load); `alive` throws once the engine is gone. */
export async function loadModel(factory: ModelFactory, source: Uint8Array | ArrayBuffer | string | TfjsModelSource, options: LoadOptions, alive: () => void): Promise<RecurrentModel | OnnxModel> {
  const given = options.format;
  if (given !== undefined && given !== 'safetensors' && given !== 'onnx' && given !== 'tfjs') {
    throw new WebRnnError('invalid-option', `load: format must be 'safetensors', 'onnx' or 'tfjs', got '${String(given)}'`);
  }
  // A name that ends in .onnx, .safetensors or .json says the format as the option would (and
  // Engine.load's types take it at its word).
  const named = typeof source === 'string' ? formatOfName(source) : undefined;
  if (given !== undefined && named !== undefined && given !== named) {
    throw new WebRnnError('invalid-option', `load: format '${given}' given for ${String(source)}, whose name says ${named}`);
  }
  const format = given ?? named;
  const wrongFormat = (found: string): never => {
    throw new WebRnnError('invalid-file', `load: the file is ${found}, not ${format} as ${given ? 'the format option' : 'its name'} says`);
  };
  if (typeof source === 'string' && format === 'tfjs') source = await tfjsFiles(source, 'load');
  if (typeof source === 'object' && source !== null && !(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    if (format !== undefined && format !== 'tfjs') wrongFormat('a TensorFlow.js model');
    return loadTfjs(factory, source, options);
  }
  const bytes = await fileBytes(source, 'load');
  alive();
  if (looksLikeSafetensors(bytes)) return format === undefined || format === 'safetensors' ? loadSafetensors(factory, bytes, options) : wrongFormat('safetensors');
  if (looksLikeOnnx(bytes)) {
    if (format !== undefined && format !== 'onnx') wrongFormat('an ONNX model');
    // An ONNX graph says everything these options would: none is taken silently.
    const others = Object.keys(options).filter((k) => k !== 'format' && options[k as keyof LoadOptions] !== undefined);
    if (others.length) throw new WebRnnError('invalid-option', `load: ${others.join(', ')}: options of safetensors and TensorFlow.js files, not of ONNX models`);
    return importOnnx(factory, bytes);
  }
  throw new WebRnnError('invalid-file', `load: ${format ? `not ${format === 'onnx' ? 'an ONNX model' : `a ${format} file`}` : 'neither a safetensors file nor an ONNX model'} (TensorFlow.js: pass { json, weights } or the model.json URL)`);
}

/** The format a file's name says (its extension, before any query or fragment of a URL). */
function formatOfName(name: string): LoadOptions['format'] {
  const ext = /\.([a-z]+)(?:[?#].*)?$/i.exec(name)?.[1]?.toLowerCase();
  return ext === 'onnx' ? 'onnx' : ext === 'safetensors' ? 'safetensors' : ext === 'json' ? 'tfjs' : undefined;
}

/** An ONNX model from `source` (see Engine.loadOnnx). */
export async function loadOnnxModel(factory: ModelFactory, source: Uint8Array | ArrayBuffer | string, alive: () => void): Promise<OnnxModel> {
  const bytes = await fileBytes(source, 'loadOnnx');
  alive();
  return importOnnx(factory, bytes);
}

/** A PyTorch `state_dict` saved as safetensors (see Engine.load). */
function loadSafetensors(factory: ModelFactory, bytes: Uint8Array, given: LoadOptions): RecurrentModel {
  const file = readSafetensors(bytes);
  // The options webrnn saved with the model are the defaults of those given (spec/saved-options.ts).
  const saved = file.metadata[MODEL_METADATA] === undefined ? {} : readSavedOptions(file.metadata[MODEL_METADATA]);
  const { stateful, goBackwards, maskZero, linearBeforeReset, layers: savedLayers, ...loadDefaults } = saved;
  const options: LoadOptions = { ...loadDefaults, ...given };
  // A file saved with its optimizer's state (train/checkpoint.ts) holds those tensors beside the parameters.
  const optimizerJson = file.metadata[OPTIMIZER_METADATA];
  const isState = (name: string): boolean => optimizerJson !== undefined && name.startsWith(OPTIMIZER_PREFIX);
  const shapes: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(file.tensors)) if (!isState(name)) shapes[name] = t.shape;
  const plan = planFromStateDict(shapes, options);
  if (stateful !== undefined) plan.options.stateful = stateful;
  if (goBackwards !== undefined) plan.options.goBackwards = goBackwards;
  if (options.weightPrecision !== undefined) plan.options.weightPrecision = options.weightPrecision;
  if (maskZero !== undefined && plan.options.embedding) plan.options.embedding.maskZero = maskZero;
  if (plan.kind === 'stack') {
    // A stack's layers' own options, as saved (a nonlinearity given to load applies to every Elman layer).
    plan.options.layers.forEach((layer, i) => {
      const own = savedLayers?.[i];
      if (own?.nonlinearity !== undefined && layer.kind === 'rnn' && given.nonlinearity === undefined) layer.nonlinearity = own.nonlinearity;
      if (own?.linearBeforeReset !== undefined && layer.kind === 'gru') layer.linearBeforeReset = own.linearBeforeReset;
    });
  } else if (linearBeforeReset !== undefined) plan.options.linearBeforeReset = linearBeforeReset;
  const spec = plan.kind === 'stack' ? resolveStackSpec(plan.options) : resolveSpec(plan.kind, plan.options);
  const dict: Record<string, Float32Array> = {};
  for (const p of parameterInfo(spec)) {
    const theirs = plan.names[p.name];
    const t = file.tensors[theirs];
    if (!t) throw new WebRnnError('state-dict', `load: '${theirs}' missing from the file`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) throw new ShapeError(theirs, p.shape, t.shape);
    if (options.checkFinite ?? true) checkFinite(theirs, t.data);
    dict[p.name] = t.data;
  }
  const optimizer =
    optimizerJson === undefined
      ? null
      : readOptimizerEntries(spec, optimizerJson, Object.fromEntries(Object.entries(file.tensors).filter(([n]) => isState(n))), (ours) => plan.names[ours], options.checkFinite ?? true);
  const model = plan.kind === 'stack' ? factory.stack(plan.options) : factory[plan.kind](plan.options);
  try {
    model.loadStateDict(dict);
    if (optimizer) model.restoreOptimizer(optimizer.config, optimizer.snapshot, optimizer.dropoutCalls);
  } catch (e) {
    model.destroy();
    throw e;
  }
  model.fileNames = plan.names;
  return model;
}

/** A TensorFlow.js layers model (see io/tfjs.ts); nothing is left behind on error. */
function loadTfjs(factory: ModelFactory, source: TfjsModelSource, options: LoadOptions): RecurrentModel {
  for (const key of ['nonlinearity', 'prefix', 'readout', 'ignoreUnknown', 'embedding', 'paddingIdx', 'layers'] as const) {
    if (options[key] !== undefined) throw new WebRnnError('invalid-option', `load: ${key} is an option of safetensors files, not of TensorFlow.js models`);
  }
  const plan = planFromTfjs(source);
  // The model's own options, which the file does not say, as given.
  const given: Pick<LoadOptions, 'seed' | 'dropout' | 'batchFirst' | 'returnSequences' | 'weightPrecision'> = {};
  for (const key of ['seed', 'dropout', 'batchFirst', 'returnSequences', 'weightPrecision'] as const) if (options[key] !== undefined) Object.assign(given, { [key]: options[key] });
  if (options.checkFinite ?? true) for (const [name, t] of Object.entries(plan.dict)) checkFinite(name, t);
  const model = plan.kind === 'stack' ? factory.stack({ ...plan.options, ...given }) : factory[plan.kind]({ ...plan.options, ...given });
  try {
    model.loadStateDict(plan.dict);
  } catch (e) {
    model.destroy();
    throw e;
  }
  return model;
}
