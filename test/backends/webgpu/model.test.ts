/**
 * What the WebGPU backend's models do on the device: one submit and one readback per call,
 * nothing allocated on repeated calls, the dispatches the placement rules imply (resident
 * forms where they apply, compiled in the background), and the device's limits named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LimitError } from '../../../src/errors.js';
import { autoPersistent, autoPersistentSweep } from '../../../src/placement/rules.js';
import { gateCount, type CellKind, type LstmOptions } from '../../../src/spec/spec.js';
import { resolveOptimizer, type OptimizerConfig } from '../../../src/train/options.js';
import { trainStepReference, type ReferenceOptimizerState } from '../../../src/reference/train-step.js';
import { expectClose } from '../../helpers/compare.js';
import { gpuEngine } from '../../helpers/engines.js';
import { countDeviceCalls, randomFloats } from '../../helpers/gpu.js';
import { testRandom } from '../../helpers/seed.js';

const { rng, seed } = testRandom('webgpu model');
let engine: Awaited<ReturnType<typeof gpuEngine>>;
beforeAll(async () => {
  engine = await gpuEngine();
});
afterAll(() => engine?.destroy());

/** The error `fn` throws or rejects with. */
async function caught(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('webgpu model', () => {
  it('one submit and one readback; a repeated call allocates nothing', async () => {
    const model = engine.lstm({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true });
    const x = randomFloats(rng, 5 * 2 * 3);
    const gradOutput = randomFloats(rng, 5 * 2 * 8);
    await model.gradients(x, { batch: 2, seqLen: 5, gradOutput });
    const counts = await countDeviceCalls(engine.device, () => model.gradients(x, { batch: 2, seqLen: 5, gradOutput }));
    expect(counts).toEqual({ submit: 1, createBuffer: 0, mapAsync: 1 });
    model.destroy();
  });

  it('one submit and one readback per step, nothing allocated after the first', async () => {
    const model = engine.lstm({ inputSize: 4, hiddenSize: 8, numLayers: 2 });
    const s = model.stream({ batch: 2 });
    await s.step(randomFloats(rng, 8));
    const counts = await countDeviceCalls(engine.device, async () => {
      for (let t = 0; t < 3; t++) await s.step(randomFloats(rng, 8));
    });
    expect(counts.submit).toBe(3);
    expect(counts.mapAsync).toBe(3);
    expect(counts.createBuffer).toBe(0);
    model.destroy();
  });

  it('one submit per step, with or without readback; a repeated step allocates nothing', async () => {
    const model = engine.gru({ inputSize: 2, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 3 });
    const x = randomFloats(rng, 5 * 2 * 2);
    const target = randomFloats(rng, 5 * 2 * 3);
    const opts = { batch: 2, seqLen: 5, loss: 'mse' as const, optimizer: { type: 'adam' as const, lr: 0.01 }, clipGradNorm: 1 };
    await model.trainStep(x, target, opts);
    const withReadback = await countDeviceCalls(engine.device, () => model.trainStep(x, target, { ...opts, returnGradNorm: true, returnState: true }));
    const without = await countDeviceCalls(engine.device, () => model.trainStep(x, target, { ...opts, readLoss: false }));
    expect(withReadback).toEqual({ submit: 1, createBuffer: 0, mapAsync: 1 });
    expect(without).toEqual({ submit: 1, createBuffer: 0, mapAsync: 0 });
    model.destroy();
  });

  it("the backward sweep: one dispatch a layer where persistent: 'auto' picks the resident sweep, one a step otherwise", async () => {
    // [name, kind, options, batch, resident sweep on a software adapter, on a GPU (never: it has
    // no resident form there), extra dispatches for 3 more steps on a software adapter, on a GPU]:
    // the per-step kernels add one forward and one backward dispatch a step; on a GPU the
    // forward is persistent by size.
    const cases: Array<[string, CellKind, LstmOptions, number, boolean, number, number]> = [
      ['lstm, one row: persistent forward, resident sweep', 'lstm', { inputSize: 2, hiddenSize: 5, outputSize: 1 }, 1, true, 0, 3],
      ['gru, 3 rows: persistent forward, resident sweep', 'gru', { inputSize: 2, hiddenSize: 5, outputSize: 1 }, 3, true, 0, 3],
      ['lstm, 4 rows: persistent forward, resident sweep (below the wide tile)', 'lstm', { inputSize: 2, hiddenSize: 5, outputSize: 1 }, 4, true, 0, 3],
      ['gru, 8 rows: persistent forward, per-step sweep (the wide tile)', 'gru', { inputSize: 2, hiddenSize: 5, outputSize: 1 }, 8, false, 3, 3],
      ['rnn H=129, one row: persistent forward, resident sweep (the Elman cell at every size)', 'rnn', { inputSize: 2, hiddenSize: 129, outputSize: 1 }, 1, true, 0, 3],
      ['rnn H=300, 9 rows: persistent forward, resident sweep (the Elman cell at every batch)', 'rnn', { inputSize: 2, hiddenSize: 300, outputSize: 1 }, 9, true, 0, 6],
      ['gru H=257, one row: persistent forward, per-step sweep (the gated cells up to H = 256)', 'gru', { inputSize: 2, hiddenSize: 257, outputSize: 1 }, 1, false, 3, 6],
      ['lstm, persistent: false', 'lstm', { inputSize: 2, hiddenSize: 5, outputSize: 1, persistent: false }, 1, false, 6, 6],
    ];
    // The rules themselves (autoPersistentSweep, and autoPersistent for the forward, which the
    // dispatch counts imply), for both kinds of adapter: pure, nothing compiled.
    const software = { info: { ...engine.info, software: true } };
    const gpu = { info: { ...engine.info, software: false } };
    for (const [name, kind, options, batch, resident, onSoftware, onGpu] of cases.filter(([, , o]) => o.persistent === undefined)) {
      const facts = { gates: gateCount(kind), onePhase: true, hidden: options.hiddenSize, batch, seqLen: 4 };
      expect([autoPersistentSweep(software, facts), autoPersistentSweep(gpu, facts)], `${name}: resident sweep`).toEqual([resident, false]);
      expect([autoPersistent(software, facts), autoPersistent(gpu, facts)], `${name}: persistent forward`).toEqual([onSoftware === (resident ? 0 : 3), onGpu === 3]);
    }
    // And the dispatches a model records, on this adapter: the cases whose resident forms
    // compile in a second or two (H = 257 and 300 take 10-40 s each on SwiftShader; the rules
    // above cover their choice).
    for (const [name, kind, options, B, , onSoftware, onGpu] of cases.filter(([, , o]) => o.hiddenSize <= 129)) {
      const model = kind === 'lstm' ? engine.lstm(options) : kind === 'gru' ? engine.gru(options) : engine.rnn(options);
      // The choice itself, not the per-step kernels that run while a resident form compiles.
      await model.warmup(B, { training: true });
      const counts: number[] = [];
      for (const T of [4, 7]) {
        await model.trainStep(randomFloats(rng, T * B * 2), randomFloats(rng, T * B), { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.01 } });
        counts.push(model.lastTrainStats!.dispatches);
      }
      expect(counts[1] - counts[0], name).toBe(engine.info.software ? onSoftware : onGpu);
      model.destroy();
    }
  });

  it("'auto': the first steps run the per-step forward and sweep while their resident forms compile in the background (software adapters, H >= 64); warmup with training compiles them", async () => {
    const [I, H, O, B, T] = [2, 65, 1, 1, 4];
    const software = engine.info.software;
    const model = engine.lstm({ inputSize: I, hiddenSize: H, outputSize: O, seed });
    const params: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(await model.stateDict())) params[k] = Float64Array.from(v);
    const state: ReferenceOptimizerState = {};
    // SGD: an update linear in the gradient. (Adam's first step divides each gradient by its own
    // size, which turns float32 rounding of a near-zero gradient into a visible change.)
    const optimizer: OptimizerConfig = { type: 'sgd', lr: 0.05 };
    const dispatches: number[] = [];
    for (let step = 1; step <= 2; step++) {
      // The resident forms are ready from the second step on.
      if (step === 2) await model.warmup(B, { training: true });
      const x = randomFloats(rng, T * B * I);
      const target = randomFloats(rng, T * B * O);
      const got = await model.trainStep(x, target, { batch: B, seqLen: T, loss: 'mse', optimizer, returnGradNorm: true });
      dispatches.push(model.lastTrainStats!.dispatches);
      const ref = trainStepReference(model.spec, params, state, step, x, target, { batch: B, seqLen: T, loss: 'mse', lossOn: 'all', mask: new Float32Array(T * B).fill(1), optimizer: resolveOptimizer(optimizer), maxNorm: 0, clipValue: 0 });
      const label = `step ${step} (seed ${seed})`;
      expectClose(`${label}: loss`, [got.loss!], [ref.loss]);
      expectClose(`${label}: grad norm`, [got.gradNorm!], [ref.gradNorm]);
      const after = await model.stateDict();
      for (const name of Object.keys(params)) expectClose(`${label}: ${name}`, after[name], params[name]);
    }
    // Per step, one forward and one sweep dispatch (the sweep one more); the resident forms one each.
    expect(dispatches[0] - dispatches[1], 'dispatches the resident forms save').toBe(software ? 2 * T - 1 : 0);
    model.destroy();
  });

  it('a layer too large for the device names the limit', async () => {
    const H = Math.ceil(Math.sqrt(engine.limits.maxStorageBufferBindingSize / 16)) + 1;
    const e = (await caught(() => engine.lstm({ inputSize: 1, hiddenSize: H }))) as LimitError;
    expect(e).toBeInstanceOf(LimitError);
    expect(e.limit).toBe('maxStorageBufferBindingSize');
    expect(e.message).toMatch(/W_ih|W_hh/);
  });

  it('a batch beyond the dispatch limit names maxComputeWorkgroupsPerDimension', async () => {
    const m = engine.rnn({ inputSize: 1, hiddenSize: 1 });
    // Batches of 4 or more run 4 rows per workgroup.
    const batch = engine.limits.maxComputeWorkgroupsPerDimension * 4 + 1;
    const e = (await caught(() => m.forward(new Float32Array(batch), { batch, seqLen: 1 }))) as LimitError;
    expect(e.limit).toBe('maxComputeWorkgroupsPerDimension');
    // The model still works afterwards.
    const r = await m.forward(new Float32Array([0.5, -0.5]), { batch: 2, seqLen: 1 });
    expect(r.output).toHaveLength(2);
  });
});
