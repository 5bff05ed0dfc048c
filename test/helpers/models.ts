/** Model-level helpers: random state dicts and the configurations the tests sweep. */
import { parameterInfo, type ModelSpec } from '../../src/spec/spec.js';
import type { Random } from '../../src/spec/random.js';
import type { Engine } from '../../src/engine.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import type { RnnOptions, GruOptions } from '../../src/spec/spec.js';
import { randomFloats } from './gpu.js';

/**
 * A random state dict: each tensor U(−s, s) with s = gain·√(3 / fanIn), i.e. variance
 * gain²/fanIn (fanIn: the row length of a weight, H for a bias). With gain 1 every layer
 * roughly preserves the size of its input (twice PyTorch's default scale, so gates do
 * saturate): the linear and relu RNNs then neither explode nor turn their outputs into small
 * differences of large terms, where float32 rounding rather than the kernel would set the
 * error.
 */
export function randomStateDict(spec: ModelSpec, rng: Random, gain = 1): Record<string, Float32Array> {
  const dict: Record<string, Float32Array> = {};
  for (const p of parameterInfo(spec)) {
    const layer = spec.layers[p.layer] ?? spec;
    const fanIn = p.shape.length === 2 ? p.shape[1] : layer.hiddenSize;
    const scale = gain * Math.sqrt(3 / fanIn);
    const w = randomFloats(rng, p.shape.reduce((a, b) => a * b, 1), -scale, scale);
    if (p.role === 'weight_hh' && layer.kind === 'rnn' && layer.nonlinearity !== 'tanh') {
      // An unbounded (identity or relu) recurrence is stable only while W_hh contracts: scale
      // it to Frobenius norm 0.9, which bounds its spectral norm by 0.9. Small random
      // matrices otherwise often have spectral radius above 1 and grow like ρ^T.
      const norm = Math.hypot(...w);
      for (let i = 0; i < w.length; i++) w[i] *= 0.9 / norm;
    }
    dict[p.name] = w;
  }
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
