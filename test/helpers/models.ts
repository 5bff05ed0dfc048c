/** Model-level helpers: random state dicts and the configurations the tests sweep. */
import { parameterInfo, type ModelSpec } from '../../src/model/spec.js';
import type { Random } from '../../src/model/random.js';
import type { Engine } from '../../src/engine.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import type { RnnOptions, GruOptions } from '../../src/model/spec.js';
import { randomFloats } from './gpu.js';

/** A state dict with every parameter U(−scale, scale), larger than the default so gates saturate. */
export function randomStateDict(spec: ModelSpec, rng: Random, scale = 0.6): Record<string, Float32Array> {
  const dict: Record<string, Float32Array> = {};
  for (const p of parameterInfo(spec)) dict[p.name] = randomFloats(rng, p.shape.reduce((a, b) => a * b, 1), -scale, scale);
  return dict;
}

export interface CellConfig {
  name: string;
  make: (engine: Engine, options: RnnOptions & GruOptions) => RecurrentModel;
}

/** Every cell kind and cell option. */
export const CELL_CONFIGS: readonly CellConfig[] = [
  { name: 'rnn tanh', make: (e, o) => e.rnn({ ...o, nonlinearity: 'tanh' }) },
  { name: 'rnn relu', make: (e, o) => e.rnn({ ...o, nonlinearity: 'relu' }) },
  { name: 'rnn identity', make: (e, o) => e.rnn({ ...o, nonlinearity: 'identity' }) },
  { name: 'lstm', make: (e, o) => e.lstm(o) },
  { name: 'gru', make: (e, o) => e.gru(o) },
  { name: 'gru linearBeforeReset=false', make: (e, o) => e.gru({ ...o, linearBeforeReset: false }) },
];
