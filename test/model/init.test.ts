/** Initialisers: bounds, orthogonality to float32 precision, forget-gate bias, seeds, errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { resolveSpec } from '../../src/spec/spec.js';
import { initialParameters } from '../../src/model/init.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

/** max |QᵀQ − I| of the n×n matrix stored row-major at `q` (float32 data, float64 arithmetic). */
function orthogonalityError(q: ArrayLike<number>, n: number, offset = 0): number {
  let worst = 0;
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[offset + i * n + a] * q[offset + i * n + b];
      worst = Math.max(worst, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

describe('initialisers', () => {
  it('orthogonal W_hh: every gate block orthogonal up to float32 rounding, on the GPU too', async () => {
    for (const H of [1, 7, 33, 64]) {
      const model = engine.lstm({ inputSize: 3, hiddenSize: H, numLayers: 2, bidirectional: true });
      model.initialize({ weightHh: 'orthogonal', seed: H });
      const dict = await model.stateDict();
      for (const name of ['weight_hh_l0', 'weight_hh_l1_reverse']) {
        for (let g = 0; g < 4; g++) {
          // float32 rounding of unit-norm columns: errors of a few 1e-7 at most.
          expect(orthogonalityError(dict[name], H, g * H * H), `${name} gate ${g}, H=${H}`).toBeLessThan(2e-6);
        }
      }
      // Not the identity or a permutation: the blocks are dense.
      if (H > 1) expect(Array.from(dict.weight_hh_l0).filter((v) => Math.abs(v) > 1e-3).length).toBeGreaterThan(4 * H * H * 0.5);
      model.destroy();
    }
  });

  it('Xavier uniform stays within √(6 / (fan_in + fan_out)) and fills the interval', () => {
    const spec = resolveSpec('gru', { inputSize: 10, hiddenSize: 20 });
    const dict = initialParameters(spec, { weightIh: 'xavier', weightHh: 'xavier', seed: 3 });
    for (const [name, rows, cols] of [
      ['weight_ih_l0', 60, 10],
      ['weight_hh_l0', 60, 20],
    ] as const) {
      const bound = Math.sqrt(6 / (rows + cols));
      const v = Array.from(dict[name]);
      expect(Math.max(...v.map(Math.abs)), name).toBeLessThanOrEqual(bound);
      expect(Math.max(...v), name).toBeGreaterThan(0.9 * bound);
      expect(Math.min(...v), name).toBeLessThan(-0.9 * bound);
    }
  });

  it('forget-gate bias: the f block of bias_ih holds it, bias_hh’s is 0, the rest default', () => {
    const spec = resolveSpec('lstm', { inputSize: 2, hiddenSize: 5 });
    const dict = initialParameters(spec, { forgetBias: 1, seed: 1 });
    expect(Array.from(dict.bias_ih_l0.subarray(5, 10))).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(dict.bias_hh_l0.subarray(5, 10))).toEqual([0, 0, 0, 0, 0]);
    expect(Math.max(...Array.from(dict.bias_ih_l0.subarray(0, 5)).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(5));
  });

  it('the same seed gives the same parameters, another seed others', () => {
    const spec = resolveSpec('rnn', { inputSize: 4, hiddenSize: 6, outputSize: 2 });
    const a = initialParameters(spec, { weightHh: 'orthogonal', seed: 9 });
    const b = initialParameters(spec, { weightHh: 'orthogonal', seed: 9 });
    const c = initialParameters(spec, { weightHh: 'orthogonal', seed: 10 });
    for (const k of Object.keys(a)) {
      expect(a[k], k).toEqual(b[k]);
      expect(a[k], k).not.toEqual(c[k]);
    }
  });

  it('refuses options that do not apply', () => {
    const gru = resolveSpec('gru', { inputSize: 2, hiddenSize: 3 });
    expect(() => initialParameters(gru, { forgetBias: 1 })).toThrow(/forgetBias is for LSTM/);
    expect(() => initialParameters(resolveSpec('lstm', { inputSize: 2, hiddenSize: 3, bias: false }), { forgetBias: 1 })).toThrow(/needs a model with bias/);
    expect(() => initialParameters(gru, { weightHh: 'identity' as never })).toThrow(/weightHh must be/);
    expect(() => initialParameters(gru, { gain: 2 } as never)).toThrow(/unknown option 'gain'/);
  });
});
