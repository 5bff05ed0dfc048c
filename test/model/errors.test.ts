/** Bad input gets a clear error naming the tensor and shapes, and changes nothing. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { LimitError, NonFiniteError, ShapeError, WebRnnError } from '../../src/errors.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng } = testRandom('errors');
let engine: Engine;

beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

/** The error `fn` throws (synchronously or as a rejection). */
async function caught(fn: () => unknown): Promise<WebRnnError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebRnnError);
    return e as WebRnnError;
  }
  throw new Error('expected an error, none was thrown');
}

describe('forward input checks', () => {
  it('x of the wrong length names x and both shapes', async () => {
    const m = engine.lstm({ inputSize: 3, hiddenSize: 4 });
    const e = (await caught(() => m.forward(new Float32Array(5), { batch: 2, seqLen: 3 }))) as ShapeError;
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.tensor).toBe('x');
    expect(e.expected).toEqual([3, 2, 3]);
    expect(e.actual).toEqual([5]);
    expect(e.message).toMatch(/x: expected shape \[3, 2, 3\] \(18 elements\), got \[5\]/);
    const bf = engine.gru({ inputSize: 3, hiddenSize: 4, batchFirst: true });
    const e2 = (await caught(() => bf.forward(new Float32Array(5), { batch: 2, seqLen: 3 }))) as ShapeError;
    expect(e2.expected).toEqual([2, 3, 3]);
  });

  it('h0 and c0 of the wrong length, c0 for a model without cell state', async () => {
    const m = engine.lstm({ inputSize: 2, hiddenSize: 4, numLayers: 2, bidirectional: true });
    const x = new Float32Array(3 * 2 * 2);
    const e = (await caught(() => m.forward(x, { batch: 2, seqLen: 3, h0: new Float32Array(7) }))) as ShapeError;
    expect([e.tensor, e.expected]).toEqual(['h0', [4, 2, 4]]);
    const e2 = (await caught(() => m.forward(x, { batch: 2, seqLen: 3, c0: new Float32Array(33) }))) as ShapeError;
    expect([e2.tensor, e2.expected, e2.actual]).toEqual(['c0', [4, 2, 4], [33]]);
    const g = engine.gru({ inputSize: 2, hiddenSize: 4 });
    const e3 = await caught(() => g.forward(x, { batch: 2, seqLen: 3, c0: new Float32Array(8) }));
    expect(e3.message).toMatch(/c0 is only for LSTM/);
  });

  it('batch and seqLen must be positive integers; unknown options and non-Float32Array inputs are refused', async () => {
    const m = engine.rnn({ inputSize: 2, hiddenSize: 3 });
    expect((await caught(() => m.forward(new Float32Array(0), { batch: 0, seqLen: 1 }))).message).toMatch(/batch must be a positive integer, got 0/);
    expect((await caught(() => m.forward(new Float32Array(4), { batch: 2, seqLen: 1.5 }))).message).toMatch(/seqLen must be a positive integer/);
    expect((await caught(() => m.forward(new Float32Array(4), { batch: 2, seqLen: 1, hx: 1 } as never))).message).toMatch(/unknown option 'hx'/);
    expect((await caught(() => m.forward([1, 2, 3, 4] as never, { batch: 2, seqLen: 1 }))).message).toMatch(/x: Float32Array of shape \[1, 2, 2\] expected/);
  });

  it('sequence lengths must be B integers in [1, seqLen]', async () => {
    const m = engine.gru({ inputSize: 1, hiddenSize: 2, outputSize: 1 });
    const x = new Float32Array(3 * 2);
    const e = (await caught(() => m.forward(x, { batch: 2, seqLen: 3, seqLens: [3] }))) as ShapeError;
    expect([e.tensor, e.expected, e.actual]).toEqual(['seqLens', [2], [1]]);
    expect((await caught(() => m.forward(x, { batch: 2, seqLen: 3, seqLens: [3, 4] }))).message).toMatch(/element 1 is 4; lengths in \[1, 3\]/);
    expect((await caught(() => m.forward(x, { batch: 2, seqLen: 3, seqLens: [0, 1] }))).message).toMatch(/element 0 is 0/);
    expect((await caught(() => m.forward(x, { batch: 2, seqLen: 3, seqLens: [1.5, 1] }))).message).toMatch(/element 0 is 1.5/);
    const grad = { batch: 2, seqLen: 3, gradOutput: new Float32Array(6), seqLens: [3, 0] };
    expect((await caught(() => m.gradients(x, grad))).message).toMatch(/element 1 is 0/);
    m.destroy();
  });

  it('non-finite values are refused where checking is asked for', async () => {
    const m = engine.lstm({ inputSize: 2, hiddenSize: 3 });
    const x = randomFloats(rng, 2 * 1 * 2);
    x[3] = NaN;
    const e = (await caught(() => m.forward(x, { batch: 1, seqLen: 2, checkFinite: true }))) as NonFiniteError;
    expect(e).toBeInstanceOf(NonFiniteError);
    expect([e.tensor, e.index]).toEqual(['x', 3]);
    const h0 = new Float32Array(3);
    h0[1] = Infinity;
    const e2 = (await caught(() => m.forward(randomFloats(rng, 4), { batch: 1, seqLen: 2, h0, checkFinite: true }))) as NonFiniteError;
    expect([e2.tensor, e2.index, e2.value]).toEqual(['h0', 1, Infinity]);
    // The model-wide option applies to forward and to loaded weights.
    const checked = engine.gru({ inputSize: 2, hiddenSize: 3, checkFinite: true });
    expect((await caught(() => checked.forward(x, { batch: 1, seqLen: 2 }))).code).toBe('non-finite');
    const dict = randomStateDict(checked.spec, rng);
    dict.weight_hh_l0[4] = -Infinity;
    expect(((await caught(() => checked.loadStateDict(dict))) as NonFiniteError).tensor).toBe('weight_hh_l0');
  });
});

describe('loadStateDict checks, and a failed load changes nothing', () => {
  it('unknown, missing, mis-sized and mis-typed tensors', async () => {
    const m = engine.lstm({ inputSize: 3, hiddenSize: 4, bidirectional: true });
    const before = await m.stateDict();
    const good = randomStateDict(m.spec, rng);

    const unknown = { ...good, weight_ih_l1: new Float32Array(48) };
    expect((await caught(() => m.loadStateDict(unknown))).message).toMatch(/unknown 'weight_ih_l1'/);

    const { bias_hh_l0_reverse: _dropped, ...missing } = good;
    expect((await caught(() => m.loadStateDict(missing))).message).toMatch(/missing 'bias_hh_l0_reverse'/);

    const wrong = { ...good, weight_hh_l0: new Float32Array(15) };
    const e = (await caught(() => m.loadStateDict(wrong))) as ShapeError;
    expect([e.tensor, e.expected, e.actual]).toEqual(['weight_hh_l0', [16, 4], [15]]);

    const typed = { ...good, bias_ih_l0: new Float64Array(16) as unknown as Float32Array };
    expect((await caught(() => m.loadStateDict(typed))).message).toMatch(/bias_ih_l0 must be a Float32Array/);

    const after = await m.stateDict();
    for (const name of Object.keys(before)) expect(after[name], name).toEqual(before[name]);
  });
});

describe('unknown keys are named at every level of an options object', () => {
  it('inside optimizer, cell functions and load options', async () => {
    const m = engine.gru({ inputSize: 2, hiddenSize: 3, outputSize: 1 });
    const x = new Float32Array(2 * 1 * 2);
    const target = new Float32Array(2);
    const msg = async (optimizer: unknown): Promise<string> => (await caught(() => m.trainStep(x, target, { batch: 1, seqLen: 2, loss: 'mse', optimizer } as never))).message;
    // A misspelled lr is named, not reported as missing.
    expect(await msg({ type: 'adam', learningRate: 1e-3 })).toMatch(/optimizer: unknown option 'learningRate' for adam \(known: type, lr, betas, eps, weightDecay\)/);
    expect(await msg({ type: 'sgd', lr: 0.1, momentun: 0.9 })).toMatch(/unknown option 'momentun' for sgd/);
    expect(await msg({ type: 'toString', lr: 0.1 })).toMatch(/optimizer.type must be/);
    m.destroy();
    expect((await caught(() => engine.lstm({ inputSize: 2, hiddenSize: 3, cell: { f: { name: 'Sigmoid', alfa: 1 } } } as never))).message).toMatch(/unknown option 'alfa' \(known: name, alpha, beta\)/);
    expect((await caught(() => engine.load(new Uint8Array(8), { formt: 'onnx' } as never))).message).toMatch(/load: unknown option 'formt'/);
  });
});

describe('options and limits', () => {
  it('invalid layer options', async () => {
    expect((await caught(() => engine.lstm({ inputSize: 3, hiddenSize: 0 }))).message).toMatch(/hiddenSize must be a positive integer, got 0/);
    expect((await caught(() => engine.lstm({ inputSize: 3, hiddenSize: 2, dropuot: 0.1 } as never))).message).toMatch(/unknown option 'dropuot'/);
    expect((await caught(() => engine.rnn({ inputSize: 3, hiddenSize: 2, nonlinearity: 'sigmoid' as never }))).message).toMatch(/nonlinearity must be/);
    expect((await caught(() => engine.lstm({ inputSize: 3, hiddenSize: 2, nonlinearity: 'relu' } as never))).message).toMatch(/unknown option 'nonlinearity'/);
    expect((await caught(() => engine.gru({ inputSize: 3, hiddenSize: 2, persistent: 'sometimes' as never }))).message).toMatch(/persistent must be a boolean or 'auto', got sometimes/);
  });

});

describe('use after destroy', () => {
  it('a destroyed model refuses every call', async () => {
    const m = engine.gru({ inputSize: 2, hiddenSize: 3 });
    m.destroy();
    for (const call of [() => m.forward(new Float32Array(2), { batch: 1, seqLen: 1 }), () => m.stateDict(), () => m.loadStateDict({})]) {
      expect((await caught(call)).code).toBe('destroyed');
    }
    m.destroy(); // a second destroy is harmless
  });

  it('a forward already queued when its model is destroyed still completes', async () => {
    const m = engine.lstm({ inputSize: 2, hiddenSize: 3 });
    const pending = m.forward(randomFloats(rng, 4), { batch: 1, seqLen: 2 });
    m.destroy();
    const r = await pending;
    expect(r.output).toHaveLength(6);
    expect(r.output.every(Number.isFinite)).toBe(true);
  });

  it('a destroyed engine refuses new models and its models refuse calls', async () => {
    const own = await testEngine();
    const m = own.lstm({ inputSize: 2, hiddenSize: 3 });
    own.destroy();
    expect((await caught(() => own.lstm({ inputSize: 2, hiddenSize: 3 }))).code).toBe('destroyed');
    expect((await caught(() => m.forward(new Float32Array(2), { batch: 1, seqLen: 1 }))).code).toBe('destroyed');
  });
});
