/**
 * Streaming inference: T calls of step equal one forward of T steps (outputs, read-out, final
 * states), for every cell kind and stacked layers, from zero or given states; reset, state,
 * refusals, and the one-submit-per-step contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { expectClose } from '../helpers/compare.js';
import { countDeviceCalls, randomFloats } from '../helpers/gpu.js';
import { CELL_CONFIGS, randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('stream');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe.each(CELL_CONFIGS)('$name stream', (config) => {
  it('T steps equal one forward of T steps, from given states; reset starts over', async () => {
    const [I, H, L, O, B, T] = [3, 7, 2, 2, 3, 6];
    const model = config.make(engine, { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O, batchFirst: true });
    model.loadStateDict(randomStateDict(model.spec, rng));
    const lstm = model.spec.kind === 'lstm';
    const h0 = randomFloats(rng, L * B * H);
    const c0 = lstm ? randomFloats(rng, L * B * H) : undefined;
    // batchFirst input [B, T, I]; a stream takes x_t [B, I].
    const x = randomFloats(rng, B * T * I);
    const xAt = (t: number): Float32Array => {
      const out = new Float32Array(B * I);
      for (let b = 0; b < B; b++) out.set(x.subarray((b * T + t) * I, (b * T + t + 1) * I), b * I);
      return out;
    };
    const whole = await model.forward(x, { batch: B, seqLen: T, h0, c0 });
    const s = model.stream({ batch: B, h0, c0 });
    for (let pass = 0; pass < 2; pass++) {
      for (let t = 0; t < T; t++) {
        const r = await s.step(xAt(t));
        const label = `${config.name} step ${t}, pass ${pass} (seed ${seed})`;
        const wantH = new Float32Array(B * H);
        const wantY = new Float32Array(B * O);
        for (let b = 0; b < B; b++) {
          wantH.set(whole.output.subarray((b * T + t) * H, (b * T + t + 1) * H), b * H);
          wantY.set(whole.y!.subarray((b * T + t) * O, (b * T + t + 1) * O), b * O);
        }
        expectClose(`${label}: h`, r.h, wantH);
        expectClose(`${label}: y`, r.y!, wantY);
      }
      expect(s.steps).toBe(T);
      const state = await s.state();
      expectClose(`${config.name} stream state h (seed ${seed})`, state.h, whole.hN);
      if (lstm) expectClose(`${config.name} stream state c (seed ${seed})`, state.c!, whole.cN!);
      await s.reset({ h0, c0 });
      expect(s.steps).toBe(0);
    }
    // From zeros: the same as a forward without initial states.
    const fromZero = await model.forward(x, { batch: B, seqLen: T });
    await s.reset();
    expect((await s.state()).h).toEqual(new Float32Array(L * B * H));
    let last: Float32Array = new Float32Array(0);
    for (let t = 0; t < T; t++) last = (await s.step(xAt(t))).h;
    const wantLast = new Float32Array(B * H);
    for (let b = 0; b < B; b++) wantLast.set(fromZero.output.subarray((b * T + T - 1) * H, (b * T + T) * H), b * H);
    expectClose(`${config.name} stream from zeros (seed ${seed})`, last, wantLast);
    s.close();
    model.destroy();
  });
});

describe('stream', () => {
  it('refuses what it cannot do, naming it', async () => {
    const bi = engine.gru({ inputSize: 2, hiddenSize: 3, bidirectional: true });
    expect(() => bi.stream({ batch: 1 })).toThrow(/bidirectional model needs the whole sequence/);
    bi.destroy();
    const model = engine.rnn({ inputSize: 2, hiddenSize: 3 });
    expect(() => model.stream({ batch: 0 })).toThrow(/batch must be a positive integer/);
    expect(() => model.stream({ batch: 1, c0: new Float32Array(3) })).toThrow(/c0 is only for LSTM/);
    expect(() => model.stream({ batch: 2, h0: new Float32Array(5) })).toThrow(WebRnnError);
    expect(() => model.stream({ batch: 1, seqLen: 4 } as never)).toThrow(/unknown option 'seqLen'/);
    const s = model.stream({ batch: 2 });
    expect(() => s.step(new Float32Array(3))).toThrow(/x: expected shape \[2, 2\]/);
    const checked = model.stream({ batch: 2, checkFinite: true });
    expect(() => checked.step(Float32Array.from([1, NaN, 0, 0]))).toThrow(/NaN/);
    checked.close();
    s.close();
    expect(() => s.step(new Float32Array(4))).toThrow(/stream has been closed/);
    const t = model.stream({ batch: 1 });
    model.destroy();
    expect(() => t.step(new Float32Array(2))).toThrow(/closed|destroyed/);
  });
});
