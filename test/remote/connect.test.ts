/**
 * The engine behind a message channel (serveEngine at one end, connectEngine at the other, as a
 * page and its worker would be): every call answers what the engine itself answers, callbacks
 * and an AbortSignal cross, errors keep their code, and streams and files work through it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEngine, serveEngine, type RemoteEngine } from '../../src/worker.js';
import { WebRnnError } from '../../src/errors.js';
import type { Engine } from '../../src/engine.js';
import type { FitProgress } from '../../src/train/fit.js';
import { testEngine, TEST_BACKEND } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng } = testRandom('remote');
let remote: RemoteEngine;
let local: Engine;
let channel: MessageChannel;
beforeAll(async () => {
  channel = new MessageChannel();
  serveEngine(channel.port1);
  remote = await connectEngine(channel.port2, { backend: TEST_BACKEND });
  local = await testEngine();
});
afterAll(async () => {
  await remote?.destroy();
  local?.destroy();
  channel.port1.close();
  channel.port2.close();
});

const I = 3;
const H = 4;
const B = 2;
const T = 5;

describe('an engine served over a message channel', () => {
  it('says which backend runs, and makes models whose calls give the engine\'s own results', async () => {
    expect(remote.info.backend).toBe(TEST_BACKEND);
    const options = { inputSize: I, hiddenSize: H, numLayers: 2, outputSize: 2 };
    const model = await remote.lstm(options);
    const here = local.lstm(options);
    expect(model.spec).toEqual(here.spec);
    const dict = randomStateDict(here.spec, rng);
    here.loadStateDict(dict);
    await model.loadStateDict(dict);
    const x = randomFloats(rng, T * B * I);
    // The same backend and weights: the same bits.
    expect((await model.forward(x, { batch: B, seqLen: T })).y).toEqual((await here.forward(x, { batch: B, seqLen: T })).y);
    const gradOutput = randomFloats(rng, T * B * H);
    const g = await model.gradients(x, { batch: B, seqLen: T, gradOutput });
    expect(g.params.weight_hh_l1).toEqual((await here.gradients(x, { batch: B, seqLen: T, gradOutput })).params.weight_hh_l1);
    const target = randomFloats(rng, T * B * 2);
    const step = { batch: B, seqLen: T, loss: 'mse' as const, optimizer: { type: 'adam' as const, lr: 0.01 } };
    expect((await model.trainStep(x, target, step)).loss).toBe((await here.trainStep(x, target, step)).loss);
    expect(await model.get('optimizer')).toEqual(here.optimizer);
    expect(await model.save({ optimizer: true })).toEqual(await here.save({ optimizer: true }));
    // x is the caller's still: arguments are copied, not moved.
    expect(x.length).toBe(T * B * I);
    await model.destroy();
    here.destroy();
    // A stack of unlike layers, its spec crossing the channel with its layers.
    const stackOptions = { inputSize: I, outputSize: 2, layers: [{ kind: 'gru' as const, hiddenSize: 3, bidirectional: true }, { kind: 'lstm' as const, hiddenSize: 2 }] };
    const remoteStack = await remote.stack(stackOptions);
    const localStack = local.stack(stackOptions);
    expect(remoteStack.spec).toEqual(localStack.spec);
    const stackDict = randomStateDict(localStack.spec, rng);
    await remoteStack.loadStateDict(stackDict);
    localStack.loadStateDict(stackDict);
    expect((await remoteStack.forward(x, { batch: B, seqLen: T })).y).toEqual((await localStack.forward(x, { batch: B, seqLen: T })).y);
    await remoteStack.destroy();
    localStack.destroy();
  });

  it('fit reports its progress across the channel, and its AbortSignal stops it there', async () => {
    const model = await remote.gru({ inputSize: I, hiddenSize: H, outputSize: 1 });
    const N = 8;
    const x = randomFloats(rng, T * N * I);
    const y = randomFloats(rng, T * N);
    const seen: FitProgress[] = [];
    const controller = new AbortController();
    const history = await model.fit(x, y, {
      batch: N, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 }, epochs: 5, batchSize: 2,
      onProgress: (p) => {
        seen.push(p);
        if (seen.length === 6) controller.abort();
      },
      signal: controller.signal,
    });
    expect(history.stopped).toBe('aborted');
    // The abort reaches the worker while it runs on: at least the six steps seen, fewer than all twenty.
    expect(history.steps).toBeGreaterThanOrEqual(6);
    expect(history.steps).toBeLessThan(20);
    expect(seen.slice(0, 6).map((p) => [p.epoch, p.step])).toEqual([[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1]]);
    await model.destroy();
  });

  it('streams, loads files, and keeps the code of an error', async () => {
    const model = await remote.rnn({ inputSize: I, hiddenSize: H });
    const s = await model.stream({ batch: B });
    const x = randomFloats(rng, B * I);
    const { h } = await s.step(x);
    expect(h.length).toBe(B * H);
    expect((await s.state()).h).toEqual(h);
    await s.close();
    await expect(s.step(x)).rejects.toThrow(/the model or stream is gone/);
    const bytes = await model.save();
    const loaded = await remote.load(bytes, { format: 'safetensors' });
    expect(loaded.spec.hiddenSize).toBe(H);
    const e = await model.forward(new Float32Array(3), { batch: B, seqLen: T }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(WebRnnError);
    expect((e as WebRnnError).code).toBe('shape');
    await expect(remote.lstm({ inputSize: 0, hiddenSize: 2 })).rejects.toThrow(/inputSize must be a positive integer/);
    await expect(model.fit(x, x, { batch: 1, seqLen: 1, loss: 'mse', optimizer: { type: 'sgd', lr: 1 }, onProgress: 3 as never })).rejects.toThrow(WebRnnError);
    await loaded.destroy();
    await model.destroy();
    expect((await remote.memory()).bytes).toBeGreaterThanOrEqual(0);
  });
});
