/**
 * The options of a model that its weights cannot tell (batchFirst, an Elman RNN's
 * nonlinearity, dropout, an embedding's padding id, …), written by save() into the safetensors
 * metadata entry `webrnn.model` (as JSON, only those that differ from their defaults) and read by
 * engine.load as the defaults of its options, so that a file webrnn saved loads as the model it
 * was. A file without the entry (a PyTorch state dict) is read as before.
 */
import { WebRnnError } from '../errors.js';
import { isStack, MODEL_METADATA, type ModelSpec } from './spec.js';

export { MODEL_METADATA };

/** What the entry may hold. */
export interface SavedOptions {
  nonlinearity?: ModelSpec['nonlinearity'];
  linearBeforeReset?: boolean;
  batchFirst?: boolean;
  returnSequences?: boolean;
  seed?: number;
  dropout?: number;
  stateful?: boolean;
  goBackwards?: boolean;
  paddingIdx?: number;
  maskZero?: boolean;
  weightPrecision?: 'f16';
  /** A stack's layers' own options, one entry a layer (where some layer's differ from the defaults). */
  layers?: Array<{ nonlinearity?: ModelSpec['nonlinearity']; linearBeforeReset?: boolean }>;
}

/** The entry for `spec`: its options that differ from their defaults; null where none does. */
export function savedOptions(spec: ModelSpec): string | null {
  const o: SavedOptions = {};
  if (isStack(spec)) {
    const layers = spec.layers.map((l) => ({ ...(l.kind === 'rnn' && l.nonlinearity !== 'tanh' ? { nonlinearity: l.nonlinearity } : {}), ...(l.kind === 'gru' && !l.linearBeforeReset ? { linearBeforeReset: false } : {}) }));
    if (layers.some((l) => Object.keys(l).length > 0)) o.layers = layers;
  } else {
    if (spec.kind === 'rnn' && spec.nonlinearity !== 'tanh') o.nonlinearity = spec.nonlinearity;
    if (spec.kind === 'gru' && !spec.linearBeforeReset) o.linearBeforeReset = false;
  }
  if (spec.batchFirst) o.batchFirst = true;
  if (!spec.returnSequences) o.returnSequences = false;
  if (spec.seed !== 0) o.seed = spec.seed;
  if (spec.dropout > 0) o.dropout = spec.dropout;
  if (spec.stateful) o.stateful = true;
  if (spec.goBackwards) o.goBackwards = true;
  if (spec.embedding?.paddingIdx !== null && spec.embedding?.paddingIdx !== undefined) o.paddingIdx = spec.embedding.paddingIdx;
  if (spec.embedding?.maskZero) o.maskZero = true;
  if (spec.weightPrecision === 'f16') o.weightPrecision = 'f16';
  return Object.keys(o).length ? JSON.stringify(o) : null;
}

const TYPES: Record<keyof SavedOptions, 'boolean' | 'number' | 'string' | 'object'> = {
  nonlinearity: 'string',
  linearBeforeReset: 'boolean',
  batchFirst: 'boolean',
  returnSequences: 'boolean',
  seed: 'number',
  dropout: 'number',
  stateful: 'boolean',
  goBackwards: 'boolean',
  paddingIdx: 'number',
  maskZero: 'boolean',
  weightPrecision: 'string',
  layers: 'object',
};

/** Parse the entry; each value's range is checked where the model is made. */
export function readSavedOptions(json: string): SavedOptions {
  const fail = (message: string): never => {
    throw new WebRnnError('invalid-file', `load: the model's options (${MODEL_METADATA}): ${message}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail('a JSON object expected');
  for (const [k, v] of Object.entries(parsed as object)) {
    if (!Object.hasOwn(TYPES, k)) fail(`unknown option '${k}'`);
    if (k === 'layers') {
      const ok = Array.isArray(v) && v.every((l) => l !== null && typeof l === 'object' && Object.entries(l as object).every(([lk, lv]) => (lk === 'nonlinearity' && typeof lv === 'string') || (lk === 'linearBeforeReset' && typeof lv === 'boolean')));
      if (!ok) fail(`layers must be a list of { nonlinearity?, linearBeforeReset? }, got ${JSON.stringify(v)}`);
    } else if (typeof v !== TYPES[k as keyof SavedOptions]) fail(`${k} must be a ${TYPES[k as keyof SavedOptions]}, got ${JSON.stringify(v)}`);
  }
  return parsed as SavedOptions;
}
