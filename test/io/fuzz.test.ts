/**
 * Fuzzing the readers: thousands of mutated safetensors files (flipped bytes, truncations,
 * rewritten header numbers and lengths, spliced chunks) must each either load or fail with a
 * WebRnnError — never any other exception, hang or partial model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { planFromStateDict } from '../../src/io/load.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import type { Random } from '../../src/spec/random.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('fuzz');
let engine: Engine;
const seeds: Uint8Array[] = [];

beforeAll(async () => {
  engine = await testEngine();
  const models = [
    engine.lstm({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 2 }),
    engine.gru({ inputSize: 2, hiddenSize: 3 }),
    engine.rnn({ inputSize: 1, hiddenSize: 2, bias: false, outputSize: 1 }),
  ];
  for (const m of models) {
    seeds.push(await m.save({ metadata: { format: 'pt' } }));
    m.destroy();
  }
});
afterAll(() => engine?.destroy());

function headerEnd(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

/** One random mutation of `src`. */
function mutate(r: Random, src: Uint8Array): Uint8Array {
  const pick = (n: number): number => Math.floor(r.uniform() * n);
  const b = src.slice();
  const end = Math.min(headerEnd(src), b.length);
  switch (pick(7)) {
    case 0: // flip bytes anywhere
      for (let k = 1 + pick(4); k > 0; k--) b[pick(b.length)] ^= 1 << pick(8);
      return b;
    case 1: // flip bytes in the header
      for (let k = 1 + pick(3); k > 0; k--) b[8 + pick(end - 8)] = pick(256);
      return b;
    case 2: // truncate
      return b.subarray(0, pick(b.length));
    case 3: {
      // rewrite one number of the header JSON
      const text = new TextDecoder().decode(b.subarray(8, end));
      const numbers = [...text.matchAll(/\d+/g)];
      if (!numbers.length) return b;
      const m = numbers[pick(numbers.length)];
      const replacement = String([0, 1, -1, 2 ** 31, 2 ** 53, 1e300, pick(1000)][pick(7)]);
      const edited = text.slice(0, m.index) + replacement + text.slice(m.index! + m[0].length);
      const h = new TextEncoder().encode(edited);
      const out = new Uint8Array(8 + h.length + (b.length - end));
      new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
      out.set(h, 8);
      out.set(b.subarray(end), 8 + h.length);
      return out;
    }
    case 4: // lie about the header length
      new DataView(b.buffer).setBigUint64(0, BigInt([0, 1, end - 9, end - 7, b.length, 2 ** 40][pick(6)]), true);
      return b;
    case 5: {
      // splice: cut a chunk out, or repeat one
      const i = pick(b.length);
      const j = Math.min(b.length, i + 1 + pick(16));
      return pick(2) ? new Uint8Array([...b.subarray(0, i), ...b.subarray(j)]) : new Uint8Array([...b.subarray(0, j), ...b.subarray(i)]);
    }
    default: // data bytes only: the file stays valid, values change (NaN payloads among them)
      for (let k = 1 + pick(8); k > 0 && b.length > end; k--) b[end + pick(b.length - end)] = pick(256);
      return b;
  }
}

/** Parse and plan on the CPU; returns 'ok' or the WebRnnError code, rethrowing anything else. */
function cpuOutcome(bytes: Uint8Array): string {
  try {
    const file = readSafetensors(bytes);
    const shapes: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(file.tensors)) shapes[k] = t.shape;
    planFromStateDict(shapes);
    return 'ok';
  } catch (e) {
    if (e instanceof WebRnnError) return e.code;
    throw new Error(`not a WebRnnError: ${String(e)} (seed ${seed})`);
  }
}

describe('fuzzing the safetensors reader and the state-dict planner', () => {
  it('5000 mutated files on the CPU: each loads or fails with our error', () => {
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 5000; i++) {
      const o = cpuOutcome(mutate(rng, seeds[i % seeds.length]));
      outcomes[o] = (outcomes[o] ?? 0) + 1;
    }
    console.info(`fuzz (CPU): 5000 inputs, outcomes ${JSON.stringify(outcomes)}`);
    // Both sides are exercised: some mutants still load, most are refused.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(5000 - outcomes.ok).toBeGreaterThan(2500);
  });

  it('300 mutated files through engine.load on the GPU: our errors only, no model left behind', async () => {
    const models = (engine as unknown as { models: Set<unknown> }).models;
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const bytes = mutate(rng, seeds[i % seeds.length]);
      let outcome = 'ok';
      try {
        (await engine.load(bytes, { nonlinearity: undefined })).destroy();
      } catch (e) {
        if (!(e instanceof WebRnnError)) throw new Error(`not a WebRnnError: ${String(e)} (seed ${seed})`);
        outcome = e.code;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      expect(models.size).toBe(0);
    }
    console.info(`fuzz (engine.load): 300 inputs, outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.ok).toBeGreaterThan(0);
  });
});
