/**
 * The optimizer's state in a safetensors file, so that training resumes where it stopped: the
 * configuration (learning rate and the rest, defaults filled in) and the step count as the JSON
 * metadata entry `webrnn.optimizer` (with the model's count of dropout calls where it drops), and each state tensor as `optimizer.<slot>.<name>`, where
 * slot is PyTorch's name for it (SGD's `momentum_buffer`, Adam's `exp_avg` and `exp_avg_sq`)
 * and name the parameter's name in the file.
 */
import { checkFinite } from '../arrays.js';
import { WebRnnError } from '../errors.js';
import type { StateDict } from '../spec/parameters.js';
import { parameterInfo, type ModelSpec } from '../spec/spec.js';
import { OPTIMIZER_METADATA, optimizerConfigOf, resolveOptimizer, type OptimizerConfig, type ResolvedOptimizer } from './options.js';

/**
 * The optimizer's state in the parameters' names and PyTorch layouts: SGD's momentum buffer
 * (`buffers[0]`) or Adam's first and second moments (`buffers[0]`, `buffers[1]`), each over
 * every trained parameter, and the number of steps taken.
 */
export interface OptimizerSnapshot {
  type: ResolvedOptimizer['type'];
  step: number;
  buffers: StateDict[];
}

export { OPTIMIZER_METADATA } from './options.js';
/** Prefix of the state tensors' names. */
export const OPTIMIZER_PREFIX = 'optimizer.';

/** PyTorch's names of each optimizer's per-parameter state. */
function slots(type: ResolvedOptimizer['type']): string[] {
  return type === 'sgd' ? ['momentum_buffer'] : ['exp_avg', 'exp_avg_sq'];
}

/** The tensors and metadata entry that record `snapshot` and `config`; `fileName` gives each parameter's name in the file. */
export function optimizerEntries(spec: ModelSpec, snapshot: OptimizerSnapshot, config: OptimizerConfig, fileName: (ours: string) => string, dropoutCalls: number): {
  tensors: Record<string, { shape: readonly number[]; data: Float32Array }>;
  metadata: Record<string, string>;
} {
  const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  slots(snapshot.type).forEach((slot, k) => {
    for (const p of parameterInfo(spec)) tensors[`${OPTIMIZER_PREFIX}${slot}.${fileName(p.name)}`] = { shape: p.shape, data: snapshot.buffers[k][p.name] };
  });
  return { tensors, metadata: { [OPTIMIZER_METADATA]: JSON.stringify({ ...config, step: snapshot.step, ...(dropoutCalls > 0 ? { dropoutCalls } : {}) }) } };
}

/**
 * The optimizer's configuration and state read from a file's tensors and metadata (see the top
 * of this file), for a model of `spec` whose parameters the file names by `fileName`. Every
 * state tensor must be there with its parameter's shape, and no other; throws a WebRnnError
 * ('invalid-file') naming what does not fit.
 */
export function readOptimizerEntries(
  spec: ModelSpec,
  json: string,
  tensors: Readonly<Record<string, { shape: readonly number[]; data: Float32Array }>>,
  fileName: (ours: string) => string,
  finite: boolean,
): { config: OptimizerConfig; snapshot: OptimizerSnapshot; dropoutCalls: number } {
  const fail = (message: string): never => {
    throw new WebRnnError('invalid-file', `load: the optimizer state (${OPTIMIZER_METADATA}): ${message}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail('a JSON object { type, lr, …, step } expected');
  const { step, dropoutCalls = 0, ...config } = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(step) || (step as number) < 1) fail(`step must be an integer ≥ 1, got ${JSON.stringify(step)}`);
  if (!Number.isSafeInteger(dropoutCalls) || (dropoutCalls as number) < 0) fail(`dropoutCalls must be an integer ≥ 0, got ${JSON.stringify(dropoutCalls)}`);
  let resolved: ResolvedOptimizer;
  try {
    resolved = resolveOptimizer(config as unknown as OptimizerConfig);
  } catch (e) {
    fail((e as Error).message);
  }
  if (spec.outputSize === 0) fail('the model has no read-out, so it cannot have trained');
  const buffers: StateDict[] = [];
  const expected = new Set<string>();
  for (const slot of slots(resolved!.type)) {
    const dict: StateDict = {};
    for (const p of parameterInfo(spec)) {
      const name = `${OPTIMIZER_PREFIX}${slot}.${fileName(p.name)}`;
      expected.add(name);
      const t = tensors[name];
      if (!t) fail(`'${name}' missing from the file`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) fail(`'${name}' has shape [${t.shape.join(', ')}], its parameter [${p.shape.join(', ')}]`);
      if (finite) checkFinite(name, t.data);
      dict[p.name] = t.data;
    }
    buffers.push(dict);
  }
  const stray = Object.keys(tensors).filter((n) => !expected.has(n));
  if (stray.length) fail(`tensors that belong to no parameter of a ${resolved!.type} state: ${stray.map((n) => `'${n}'`).join(', ')}`);
  return { config: optimizerConfigOf(resolved!), snapshot: { type: resolved!.type, step: step as number, buffers }, dropoutCalls: dropoutCalls as number };
}
