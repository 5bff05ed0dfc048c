/**
 * The wasm backend as a user meets it: createEngine's choice and options, engine.info and
 * engine.memory, repeated calls that allocate nothing, threads that agree with one thread,
 * destroy freeing everything and ending the workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type WasmEngineInfo } from '../../../src/engine.js';
import { relaxedSimdAvailable } from '../../../src/backends/wasm/module.js';
import { chooseBackend } from '../../../src/placement/backend.js';
import { expectClose } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';

const { rng } = testRandom('wasm model');
let one: Engine;
let two: Engine;
beforeAll(async () => {
  one = await createEngine({ backend: 'wasm', threads: 1 });
  two = await createEngine({ backend: 'wasm', threads: 2 });
});
afterAll(() => {
  one?.destroy();
  two?.destroy();
});

describe('createEngine and the wasm backend', () => {
  it("'auto' takes wasm where the only adapter is a software one, and says why", async () => {
    // This machine's WebGPU is SwiftShader (or there is none): either way 'auto' is wasm.
    const engine = await createEngine();
    try {
      expect(engine.info.backend).toBe('wasm');
      expect(engine.info.reason).toMatch(/software|no WebGPU adapter/);
    } finally {
      engine.destroy();
    }
  });

  it('the choice itself, for every kind of machine (decision D10)', () => {
    const hw = { software: false, description: 'a GPU' };
    const sw = { software: true, description: 'SwiftShader' };
    expect(chooseBackend({ adapter: hw, wasm: true })?.backend).toBe('webgpu');
    expect(chooseBackend({ adapter: hw, wasm: false })?.backend).toBe('webgpu');
    expect(chooseBackend({ adapter: sw, wasm: true })?.backend).toBe('wasm');
    expect(chooseBackend({ adapter: sw, wasm: false })?.backend).toBe('webgpu');
    expect(chooseBackend({ adapter: null, noAdapter: 'none found', wasm: true })).toEqual({ backend: 'wasm', reason: 'no WebGPU adapter (none found)' });
    expect(chooseBackend({ adapter: null, wasm: false })).toBeNull();
  });

  it('engine.info names the backend, its threads and SIMD; GPU-only members refuse clearly', () => {
    const info = two.info as WasmEngineInfo;
    expect(info).toMatchObject({ backend: 'wasm', reason: 'asked for', runtime: 'node', threads: 2, threadNote: 'as asked' });
    expect(info.simd).toBe(relaxedSimdAvailable() ? 'relaxed' : 'plain');
    expect(info.description).toMatch(/WebAssembly .*SIMD, 2 threads/);
    expect(() => two.device).toThrow(/wasm backend, which has no GPU device/);
    expect(() => two.limits).toThrow(/wasm backend/);

  });

  it('measureCeilings gives the wasm ceilings', async () => {
    const c = await two.measureCeilings({ gemmSizes: [32], runs: 1 });
    expect(c.backend).toBe('wasm');
    if (c.backend === 'wasm') expect(c.peak.map((p) => p.threads)).toEqual([1, 2]);
  });

  it('refuses bad options before anything starts', async () => {
    await expect(createEngine({ backend: 'cuda' as never })).rejects.toThrow(/backend must be 'auto', 'webgpu' or 'wasm'/);
    await expect(createEngine({ backend: 'wasm', threads: 0 })).rejects.toThrow(/threads must be an integer from 1 to 256/);
    await expect(createEngine({ backend: 'wasm', threads: 1.5 })).rejects.toThrow(/threads must be/);
    await expect(createEngine({ backend: 'wasm', simd: 'avx' as never })).rejects.toThrow(/simd must be/);
    if (!relaxedSimdAvailable()) await expect(createEngine({ backend: 'wasm', simd: 'relaxed' })).rejects.toThrow(/does not validate relaxed SIMD/);
  });

  it('the plain SIMD build gives the relaxed build’s results within the float32 tolerance', async () => {
    const plain = await createEngine({ backend: 'wasm', simd: 'plain', threads: 1 });
    try {
      expect((plain.info as WasmEngineInfo).simd).toBe('plain');
      const a = plain.lstm({ inputSize: 5, hiddenSize: 19, numLayers: 2, seed: 3 });
      const b = one.lstm({ inputSize: 5, hiddenSize: 19, numLayers: 2, seed: 3 });
      const x = randomFloats(rng, 6 * 3 * 5);
      const [ra, rb] = [await a.forward(x, { batch: 3, seqLen: 6 }), await b.forward(x, { batch: 3, seqLen: 6 })];
      expectClose('output', ra.output, rb.output);
      a.destroy();
      b.destroy();
    } finally {
      plain.destroy();
    }
  });
});

describe('threads', () => {
  it('two threads give one thread’s forward, gradients and training steps', async () => {
    for (const kind of ['lstm', 'gru', 'rnn'] as const) {
      const opts = { inputSize: 7, hiddenSize: 37, numLayers: 2, bidirectional: true, outputSize: 3, seed: 11 };
      const [a, b] = [one, two].map((e) => (kind === 'lstm' ? e.lstm(opts) : kind === 'gru' ? e.gru(opts) : e.rnn(opts)));
      const [B, T] = [5, 9];
      const x = randomFloats(rng, T * B * 7);
      const gradOutput = randomFloats(rng, T * B * 2 * 37);
      const seqLens = [9, 3, 7, 1, 9];
      const [fa, fb] = [await a.forward(x, { batch: B, seqLen: T, seqLens }), await b.forward(x, { batch: B, seqLen: T, seqLens })];
      expectClose(`${kind} output`, fb.output, fa.output);
      const [ga, gb] = [await a.gradients(x, { batch: B, seqLen: T, gradOutput }), await b.gradients(x, { batch: B, seqLen: T, gradOutput })];
      for (const name of Object.keys(ga.params)) expectClose(`${kind} d${name}`, gb.params[name], ga.params[name]);
      expectClose(`${kind} dx`, gb.input, ga.input);
      const target = randomFloats(rng, T * B * 3);
      for (let step = 0; step < 3; step++) {
        const o = { batch: B, seqLen: T, loss: 'mse' as const, optimizer: { type: 'adam' as const, lr: 0.01 }, clipGradNorm: 1, returnGradNorm: true };
        const [ta, tb] = [await a.trainStep(x, target, o), await b.trainStep(x, target, o)];
        expectClose(`${kind} loss, step ${step}`, [tb.loss!], [ta.loss!]);
        expectClose(`${kind} norm, step ${step}`, [tb.gradNorm!], [ta.gradNorm!]);
      }
      const [pa, pb] = [await a.stateDict(), await b.stateDict()];
      for (const name of Object.keys(pa)) expectClose(`${kind} ${name} after training`, pb[name], pa[name]);
      a.destroy();
      b.destroy();
    }
  });
});

describe('engine.memory', () => {
  it('repeated forwards, gradients, training steps and stream steps allocate nothing; destroy gives it all back', async () => {
    const engine = await createEngine({ backend: 'wasm', threads: 2 });
    try {
      const empty = engine.memory;
      expect(empty.buffers).toBeGreaterThan(0); // the threads' control words
      const model = engine.gru({ inputSize: 3, hiddenSize: 10, outputSize: 2 });
      const x = randomFloats(rng, 4 * 2 * 3);
      const calls = [
        () => model.forward(x, { batch: 2, seqLen: 4 }),
        () => model.gradients(x, { batch: 2, seqLen: 4, gradOutput: randomFloats(rng, 4 * 2 * 10) }),
        () => model.trainStep(x, randomFloats(rng, 4 * 2 * 2), { batch: 2, seqLen: 4, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } }),
      ];
      for (const call of calls) {
        await call();
        const after = engine.memory;
        await call();
        await call();
        expect(engine.memory).toEqual(after);
      }
      const stream = model.stream({ batch: 2 });
      await stream.step(randomFloats(rng, 6));
      const streaming = engine.memory;
      for (let t = 0; t < 3; t++) await stream.step(randomFloats(rng, 6));
      expect(engine.memory).toEqual(streaming);
      stream.close();
      // Closing releases once the stream's queued steps are done.
      await new Promise((resolve) => setImmediate(resolve));
      expect(engine.memory.bytes).toBeLessThan(streaming.bytes);
      model.destroy();
      await new Promise((resolve) => setImmediate(resolve));
      expect(engine.memory).toEqual(empty);
    } finally {
      engine.destroy();
    }
  });

  it('a destroyed engine refuses calls; its workers end', async () => {
    const engine = await createEngine({ backend: 'wasm', threads: 3 });
    const model = engine.lstm({ inputSize: 2, hiddenSize: 5 });
    await model.forward(randomFloats(rng, 2), { batch: 1, seqLen: 1 });
    engine.destroy();
    await expect(model.forward(randomFloats(rng, 2), { batch: 1, seqLen: 1 })).rejects.toThrow(/destroyed/);
    expect(() => engine.lstm({ inputSize: 2, hiddenSize: 5 })).toThrow(/destroyed/);
  });
});
