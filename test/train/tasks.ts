/**
 * Tasks with known answers for the learning tests, from a seeded stream:
 * the adding problem, a noisy sine to predict one step ahead, and their evaluation.
 */
import type { Random } from '../../src/spec/random.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';

export interface Batch {
  x: Float32Array;
  target: Float32Array;
}

/**
 * Adding problem, sequence-major [T, B, 2]: channel 0 uniform values in [0, 1), channel 1
 * marks one step in the first half and one in the second; the target [B, 1] is the sum of the
 * two marked values. Predicting the mean (1) gives MSE 1/6.
 */
export function addingBatch(rng: Random, B: number, T: number): Batch {
  const x = new Float32Array(T * B * 2);
  const target = new Float32Array(B);
  const half = Math.floor(T / 2);
  for (let b = 0; b < B; b++) {
    const i = Math.floor(rng.uniform() * half);
    const j = half + Math.floor(rng.uniform() * (T - half));
    for (let t = 0; t < T; t++) {
      const v = rng.uniform();
      x[(t * B + b) * 2] = v;
      if (t === i || t === j) {
        x[(t * B + b) * 2 + 1] = 1;
        target[b] += v;
      }
    }
  }
  return { x, target };
}

/**
 * Noisy sine, sequence-major [T, B, 1]: x_t = sin(ωt + φ) + noise, target_t = sin(ω(t + 1) + φ),
 * the clean next value; ω in [0.3, 0.6], φ uniform, noise N(0, σ²).
 */
export function noisySineBatch(rng: Random, B: number, T: number, sigma = 0.1): Batch {
  const x = new Float32Array(T * B);
  const target = new Float32Array(T * B);
  for (let b = 0; b < B; b++) {
    const w = rng.range(0.3, 0.6);
    const phi = rng.range(0, 2 * Math.PI);
    for (let t = 0; t < T; t++) {
      x[t * B + b] = Math.sin(w * t + phi) + sigma * rng.normal();
      target[t * B + b] = Math.sin(w * (t + 1) + phi);
    }
  }
  return { x, target };
}

/** Mean squared error of the model's read-out against `target` ([T·B·O] all steps, or [B·O] last). */
export async function evaluateMse(model: RecurrentModel, batch: Batch, B: number, T: number, lastOnly: boolean): Promise<number> {
  const { y } = await model.forward(batch.x, { batch: B, seqLen: T });
  const O = model.spec.outputSize;
  const offset = lastOnly ? (T - 1) * B * O : 0;
  let s = 0;
  for (let i = 0; i < batch.target.length; i++) s += (y![offset + i] - batch.target[i]) ** 2;
  return s / batch.target.length;
}
