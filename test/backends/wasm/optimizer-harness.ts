/** The wasm optimizer updates against their float64 references: norm parts from grad-norm, clipping, several steps. */
import { gradNormReference } from '../../../src/reference/grad-norm.js';
import type { Random } from '../../../src/spec/random.js';
import type { WasmRuntime } from '../../../src/backends/wasm/runtime.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { Arena, runKernel, runShares } from './harness.js';

export interface UpdateCase {
  n: number;
  maxNorm: number;
  clipValue: number;
  via: 'program' | 'shares3';
}

export const UPDATE_CASES: UpdateCase[] = [
  { n: 1, maxNorm: 0, clipValue: 0, via: 'program' },
  { n: 37, maxNorm: 0.5, clipValue: 0, via: 'shares3' },
  { n: 130, maxNorm: 0, clipValue: 0.05, via: 'program' },
  { n: 1001, maxNorm: 2, clipValue: 0.3, via: 'shares3' },
];

/**
 * Three steps of an update: each step the gradient's norm parts are made by gradNorm (one part
 * per thread share), then `kernel` updates param and state; `reference` does the same in float64.
 */
export function checkUpdate(
  rt: WasmRuntime,
  rng: Random,
  c: UpdateCase,
  kernel: 'sgdUpdate' | 'adamUpdate',
  args: (step: number, p: { p: number; grad: number; s1: number; s2: number; partials: number; count: number }) => Record<string, number>,
  reference: (step: number, scale: number, param: Float64Array, grad: Float32Array, s1: Float64Array, s2: Float64Array) => void,
): void {
  const { n } = c;
  const param = randomFloats(rng, n);
  const arena = new Arena(rt);
  try {
    const p = arena.tensor(param);
    const s1 = arena.tensor(new Float32Array(n));
    const s2 = arena.tensor(new Float32Array(n));
    const count = c.via === 'program' ? rt.threads : 3;
    const partials = arena.tensor(2 * count);
    const ref = { param: Float64Array.from(param), s1: new Float64Array(n), s2: new Float64Array(n) };
    for (let step = 1; step <= 3; step++) {
      const g = randomFloats(rng, n, -1, 1);
      const grad = arena.tensor(g);
      const a = args(step, { p, grad, s1, s2, partials, count });
      if (c.via === 'program') {
        runKernel(arena, 'gradNorm', { g: grad, n, partials });
        runKernel(arena, kernel, a as never);
      } else {
        runShares(arena, 'gradNorm', { g: grad, n, partials }, 3);
        runShares(arena, kernel, a as never, 3);
      }
      const { scale } = gradNormReference([g], c.maxNorm);
      reference(step, scale, ref.param, g, ref.s1, ref.s2);
      expectClose(`param after step ${step}`, arena.read(p, n), ref.param);
      expectClose(`state after step ${step}`, arena.read(s1, n), ref.s1);
      if (kernel === 'adamUpdate') expectClose(`second moment after step ${step}`, arena.read(s2, n), ref.s2);
    }
  } finally {
    arena.release();
  }
}
