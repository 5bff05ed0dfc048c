/**
 * GPU memory accounting (engine.memory) and leaks: repeated forwards and training steps hold
 * the same buffers after the first, plans for many shapes stay within the LRU's bound, and
 * destroying a model or closing a stream gives every buffer back.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { gpuEngine } from '../helpers/engines.js';
import { createReadbackBuffer, createStorageBuffer, createUniformBuffer } from '../../src/gpu/buffers.js';
import { GpuContext } from '../../src/gpu/device.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('memory');
let engine: Engine;
beforeAll(async () => {
  engine = await gpuEngine();
});
afterAll(() => engine?.destroy());

/**
 * Let every settled promise's callbacks run: a macrotask comes after the whole microtask
 * queue, so releases chained on promises that have already settled are done by then.
 */
const drained = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A full garbage collection, for heap measurements: Node exposes `gc` once the flag is set,
 * in contexts made after that (vitest's workers start without --expose-gc).
 */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('engine.memory', () => {
  it('counts each buffer once, however often it is destroyed; a fresh object per read', async () => {
    const ctx = await GpuContext.create();
    try {
      expect(ctx.memory).toEqual({ buffers: 0, bytes: 0 });
      const a = createStorageBuffer(ctx, 'memory test a', 3); // 12 bytes
      const b = createStorageBuffer(ctx, 'memory test b', 1); // 4 bytes
      const u = createUniformBuffer(ctx, 'memory test uniform', 5); // 8 bytes
      const r = createReadbackBuffer(ctx, 'memory test readback', 2); // 8 bytes
      expect(ctx.memory).toEqual({ buffers: 4, bytes: 32 });
      a.destroy();
      a.destroy();
      expect(ctx.memory).toEqual({ buffers: 3, bytes: 20 });
      u.destroy();
      r.destroy();
      r.destroy();
      expect(ctx.memory).toEqual({ buffers: 1, bytes: 4 });
      b.destroy();
      expect(ctx.memory).toEqual({ buffers: 0, bytes: 0 });
    } finally {
      ctx.destroy();
    }
    const first = engine.memory;
    first.buffers = -1;
    expect(engine.memory).not.toBe(first);
    expect(engine.memory.buffers).toBeGreaterThanOrEqual(0);
  });
});

describe('no leaks', () => {
  it('1000 forwards of one model hold exactly what the first one did (buffers and, after GC, JS heap)', async () => {
    const [I, H, L, B, T] = [3, 8, 2, 2, 5];
    const base = engine.memory;
    const model = engine.lstm({ inputSize: I, hiddenSize: H, numLayers: L, seed });
    const x = randomFloats(rng, T * B * I);
    const h0 = randomFloats(rng, L * B * H);
    const created = engine.memory;
    // Four parameter buffers per layer.
    expect(created.buffers - base.buffers).toBe(4 * L);
    await model.forward(x, { batch: B, seqLen: T, h0 });
    const afterFirst = engine.memory;
    expect(afterFirst.buffers).toBeGreaterThan(created.buffers);
    expect(afterFirst.bytes).toBeGreaterThan(created.bytes);

    // JS memory after a full collection: the heap, and the array buffers (each result's
    // output, hN and cN, ~600 bytes a call here) apart, since the latter are far steadier.
    const gc = collector();
    let at100 = { heapUsed: 0, arrayBuffers: 0 };
    let last: Float32Array | null = null;
    for (let i = 2; i <= 1000; i++) {
      last = (await model.forward(x, { batch: B, seqLen: T, h0 })).output;
      if (i === 100) {
        gc();
        at100 = process.memoryUsage();
      }
    }
    expect(last!.length).toBe(T * B * H);
    expect(engine.memory).toEqual(afterFirst);
    gc();
    const now = process.memoryUsage();
    const heapGrowth = now.heapUsed - at100.heapUsed;
    const bufferGrowth = now.arrayBuffers - at100.arrayBuffers;
    // Measured: the heap moves by a few hundred KB either way from run to run, the array
    // buffers by under 1 KB; keeping every result would add ~500 KB of array buffers.
    expect(heapGrowth, `JS heap grew by ${heapGrowth} bytes over 900 forwards`).toBeLessThan(4 * 1024 * 1024);
    expect(bufferGrowth, `array buffers grew by ${bufferGrowth} bytes over 900 forwards`).toBeLessThan(64 * 1024);

    model.destroy();
    await drained();
    expect(engine.memory).toEqual(base);
  });

  it('100 training steps (MSE, Adam) hold exactly what the first one did', async () => {
    const [I, H, O, B, T] = [3, 6, 2, 2, 3];
    const base = engine.memory;
    const model = engine.gru({ inputSize: I, hiddenSize: H, outputSize: O, seed });
    const x = randomFloats(rng, T * B * I);
    const target = randomFloats(rng, T * B * O);
    const options = { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'adam', lr: 0.01 } } as const;
    const first = await model.trainStep(x, target, options);
    const afterFirst = engine.memory;
    let loss = first.loss!;
    for (let i = 1; i < 100; i++) {
      loss = (await model.trainStep(x, target, options)).loss!;
      expect(engine.memory).toEqual(afterFirst);
    }
    expect(loss).toBeLessThan(first.loss!);
    model.destroy();
    await drained();
    expect(engine.memory).toEqual(base);
  });

  it('forwards cycling through 7 shapes stay within what the first round held (4 plans per model)', async () => {
    const [I, H] = [3, 8];
    const base = engine.memory;
    const model = engine.lstm({ inputSize: I, hiddenSize: H, numLayers: 2, outputSize: 2, seed });
    const created = engine.memory;
    const shapes: Array<[number, number]> = [[1, 1], [2, 3], [3, 5], [1, 7], [4, 2], [2, 8], [5, 4]];
    const inputs = shapes.map(([B, T]) => randomFloats(rng, T * B * I));
    const rounds: Array<Array<{ buffers: number; bytes: number }>> = [];
    for (let round = 0; round < 4; round++) {
      const seen: Array<{ buffers: number; bytes: number }> = [];
      for (const [k, [B, T]] of shapes.entries()) {
        const r = await model.forward(inputs[k], { batch: B, seqLen: T });
        expect(r.output.length).toBe(T * B * H);
        seen.push(engine.memory);
      }
      rounds.push(seen);
    }
    const maxBytes = Math.max(...rounds[0].map((m) => m.bytes));
    for (const [round, seen] of rounds.entries()) {
      for (const m of seen) expect(m.bytes, `round ${round}`).toBeLessThanOrEqual(maxBytes);
      expect(seen[6].buffers, `round ${round}`).toBe(rounds[0][6].buffers);
      // With the cache full, the same shapes are held at the same point of every round.
      if (round > 1) expect(seen).toEqual(rounds[1]);
    }
    // Every plan of this model has the same buffers, whatever its shape: one plan after the
    // first forward, four (the LRU's size) from the fourth on, never more.
    const perPlan = rounds[0][0].buffers - created.buffers;
    expect(perPlan).toBeGreaterThan(0);
    for (const [k, m] of rounds.flat().entries()) expect(m.buffers - created.buffers, `forward ${k}`).toBe(Math.min(k + 1, 4) * perPlan);
    model.destroy();
    await drained();
    expect(engine.memory).toEqual(base);
  });
});

describe('destroy and close give the memory back', () => {
  it('a closed stream releases its plan once its queued work is done; destroy waits for a forward in flight', async () => {
    const [I, H, L, B, T] = [3, 5, 2, 2, 4];
    const base = engine.memory;
    const model = engine.lstm({ inputSize: I, hiddenSize: H, numLayers: L, outputSize: 2, seed });
    const x = randomFloats(rng, T * B * I);
    await model.forward(x, { batch: B, seqLen: T });
    const withPlan = engine.memory;

    const s = model.stream({ batch: 3 });
    await s.step(randomFloats(rng, 3 * I));
    await s.step(randomFloats(rng, 3 * I));
    const withStream = engine.memory;
    expect(withStream.bytes).toBeGreaterThan(withPlan.bytes);
    s.close();
    s.close();
    // The release is queued behind the model's earlier work; a forward queued now runs after it.
    await model.forward(x, { batch: B, seqLen: T });
    expect(engine.memory).toEqual(withPlan);

    // Accepted before destroy: the forward still runs, and the buffers go after it.
    const inFlight = model.forward(x, { batch: B, seqLen: T });
    model.destroy();
    expect(engine.memory).toEqual(withPlan);
    expect((await inFlight).output.length).toBe(T * B * H);
    await drained();
    expect(engine.memory).toEqual(base);
    model.destroy();
    await drained();
    expect(engine.memory).toEqual(base);
  });

  it.each(['rnn', 'gru', 'lstm'] as const)('%s: a model that ran forwards, gradients, training, stateDict and an open stream gives everything back', async (kind) => {
    const [I, H, O, B, T] = [2, 4, 3, 2, 3];
    const base = engine.memory;
    const options = { inputSize: I, hiddenSize: H, numLayers: 2, outputSize: O, seed };
    const model = kind === 'rnn' ? engine.rnn(options) : kind === 'gru' ? engine.gru(options) : engine.lstm(options);
    const x = randomFloats(rng, T * B * I);
    await model.forward(x, { batch: B, seqLen: T });
    await model.gradients(x, { batch: B, seqLen: T, gradOutput: randomFloats(rng, T * B * H) });
    await model.trainStep(x, randomFloats(rng, T * B * O), { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'adam', lr: 0.01 } });
    await model.stateDict();
    const s = model.stream({ batch: 1 });
    await s.step(randomFloats(rng, I));
    expect(engine.memory.buffers).toBeGreaterThan(base.buffers);
    model.destroy(); // closes the stream too
    await drained();
    expect(engine.memory).toEqual(base);
  });

  it('destroying an engine releases the buffers of every model it made', async () => {
    const other = await gpuEngine();
    // Few kernels to compile on this new device: one small RNN that runs, one GRU that does not.
    const a = other.rnn({ inputSize: 2, hiddenSize: 3, outputSize: 1 });
    other.gru({ inputSize: 2, hiddenSize: 3 });
    await a.forward(randomFloats(rng, 2), { batch: 1, seqLen: 1 });
    const stream = a.stream({ batch: 1 });
    await stream.step(randomFloats(rng, 2));
    expect(other.memory.buffers).toBeGreaterThan(0);
    other.destroy();
    await drained();
    expect(other.memory).toEqual({ buffers: 0, bytes: 0 });
  });
});
