/** Truncated BPTT: chunks are trainSteps with the state carried across them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng } = testRandom('tbptt');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe('trainSequence', () => {
  for (const batchFirst of [false, true]) {
    it(`equals chunk-by-chunk trainSteps with the state carried (batchFirst=${batchFirst})`, async () => {
      const B = 3;
      const T = 10;
      const chunkLength = 4;
      const make = () => engine.lstm({ inputSize: 2, hiddenSize: 5, outputSize: 2, batchFirst, numLayers: 2 });
      const a = make();
      const b = make();
      const dict = randomStateDict(a.spec, rng);
      a.loadStateDict(dict);
      b.loadStateDict(dict);
      const x = randomFloats(rng, T * B * 2);
      const target = randomFloats(rng, T * B * 2);
      const optimizer = { type: 'adam' as const, lr: 0.01 };
      const seq = await a.trainSequence(x, target, { batch: B, seqLen: T, chunkLength, loss: 'mse', optimizer });
      expect(seq.losses).toHaveLength(3);

      // By hand: slice the time axis, carry hN and cN.
      const slice = (arr: Float32Array, f: number, t0: number, t1: number): Float32Array => {
        if (!batchFirst) return arr.slice(t0 * B * f, t1 * B * f);
        const out = new Float32Array(B * (t1 - t0) * f);
        for (let q = 0; q < B; q++) out.set(arr.subarray((q * T + t0) * f, (q * T + t1) * f), q * (t1 - t0) * f);
        return out;
      };
      let h0: Float32Array | undefined;
      let c0: Float32Array | undefined;
      const losses: number[] = [];
      for (const [t0, t1] of [
        [0, 4],
        [4, 8],
        [8, 10],
      ]) {
        const r = await b.trainStep(slice(x, 2, t0, t1), slice(target, 2, t0, t1), { batch: B, seqLen: t1 - t0, h0, c0, loss: 'mse', optimizer, returnState: true });
        losses.push(r.loss!);
        h0 = r.hN;
        c0 = r.cN;
      }
      expect(seq.losses).toEqual(losses);
      expect(seq.hN).toEqual(h0);
      expect(seq.cN).toEqual(c0);
      const [pa, pb] = [await a.stateDict(), await b.stateDict()];
      for (const k of Object.keys(pa)) expect(pa[k], k).toEqual(pb[k]);
      a.destroy();
      b.destroy();
    });
  }

  it('carries the state: a chunk that starts from zeros trains differently', async () => {
    const B = 2;
    const T = 6;
    const a = engine.gru({ inputSize: 1, hiddenSize: 4, outputSize: 1, seed: 1 });
    const b = engine.gru({ inputSize: 1, hiddenSize: 4, outputSize: 1, seed: 1 });
    const x = randomFloats(rng, T * B);
    const target = randomFloats(rng, T * B);
    const opts = { batch: B, seqLen: T, loss: 'mse' as const, optimizer: { type: 'sgd' as const, lr: 0.5 } };
    const seq = await a.trainSequence(x, target, { ...opts, chunkLength: 3 });
    // The second chunk alone, from zero state, after the same first chunk.
    await b.trainStep(x.slice(0, 3 * B), target.slice(0, 3 * B), { ...opts, seqLen: 3 });
    const second = await b.trainStep(x.slice(3 * B), target.slice(3 * B), { ...opts, seqLen: 3 });
    expect(second.loss).not.toBe(seq.losses[1]);
    a.destroy();
    b.destroy();
  });

  for (const batchFirst of [false, true]) {
    it(`with seqLens, each chunk trains the sequences that reach into it (batchFirst=${batchFirst})`, async () => {
      const B = 3;
      const T = 7;
      const seqLens = [7, 3, 5];
      const make = () => engine.lstm({ inputSize: 2, hiddenSize: 3, outputSize: 1, batchFirst, bidirectional: true });
      const a = make();
      const b = make();
      const dict = randomStateDict(a.spec, rng);
      a.loadStateDict(dict);
      b.loadStateDict(dict);
      const x = randomFloats(rng, T * B * 2);
      const target = randomFloats(rng, T * B);
      const optimizer = { type: 'sgd' as const, lr: 0.2, momentum: 0.5 };
      const seq = await a.trainSequence(x, target, { batch: B, seqLen: T, seqLens, chunkLength: 3, loss: 'mse', optimizer });

      // By hand: chunk [0, 3) trains all three (lengths 3, 3, 3); [3, 6) sequences 0 and 2
      // (3 and 2 steps); [6, 7) sequence 0 alone. States [L·D, B, H] = [2, 3, 3].
      const at = (q: number, t: number) => (batchFirst ? q * T + t : t * B + q);
      const part = (arr: Float32Array, f: number, t0: number, t1: number, bs: number[]) => {
        const out: number[] = [];
        if (batchFirst) for (const q of bs) for (let t = t0; t < t1; t++) out.push(...arr.subarray(at(q, t) * f, at(q, t) * f + f));
        else for (let t = t0; t < t1; t++) for (const q of bs) out.push(...arr.subarray(at(q, t) * f, at(q, t) * f + f));
        return Float32Array.from(out);
      };
      const h = new Float32Array(2 * B * 3);
      const c = new Float32Array(2 * B * 3);
      const rowsOf = (s: Float32Array, bs: number[]) => Float32Array.from(bs.length === B ? s : [0, 1].flatMap((d) => bs.flatMap((q) => [...s.subarray((d * B + q) * 3, (d * B + q + 1) * 3)])));
      const putRows = (into: Float32Array, s: Float32Array, bs: number[]) => [0, 1].forEach((d) => bs.forEach((q, k) => into.set(s.subarray((d * bs.length + k) * 3, (d * bs.length + k + 1) * 3), (d * B + q) * 3)));
      const losses: number[] = [];
      const chunks: Array<[number, number, number[], number[]]> = [
        [0, 3, [0, 1, 2], [3, 3, 3]],
        [3, 6, [0, 2], [3, 2]],
        [6, 7, [0], [1]],
      ];
      for (const [t0, t1, bs, lens] of chunks) {
        const r = await b.trainStep(part(x, 2, t0, t1, bs), part(target, 1, t0, t1, bs), {
          batch: bs.length,
          seqLen: t1 - t0,
          seqLens: lens,
          h0: t0 === 0 ? undefined : rowsOf(h, bs),
          c0: t0 === 0 ? undefined : rowsOf(c, bs),
          loss: 'mse',
          optimizer,
          returnState: true,
        });
        losses.push(r.loss!);
        putRows(h, r.hN!, bs);
        putRows(c, r.cN!, bs);
      }
      expect(seq.losses).toEqual(losses);
      expect(seq.hN).toEqual(h);
      expect(seq.cN).toEqual(c);
      const [pa, pb] = [await a.stateDict(), await b.stateDict()];
      for (const k of Object.keys(pa)) expect(pa[k], k).toEqual(pb[k]);
      a.destroy();
      b.destroy();
    });
  }

  it('a stack of unlike layers: each chunk starts from the rows of every layer\'s states', async () => {
    const B = 3;
    const T = 6;
    const seqLens = [6, 2, 4];
    const make = () => engine.stack({ inputSize: 2, outputSize: 1, layers: [{ kind: 'gru', hiddenSize: 3, bidirectional: true }, { kind: 'lstm', hiddenSize: 2 }] });
    const a = make();
    const b = make();
    const dict = randomStateDict(a.spec, rng);
    a.loadStateDict(dict);
    b.loadStateDict(dict);
    const x = randomFloats(rng, T * B * 2);
    const target = randomFloats(rng, T * B);
    const optimizer = { type: 'sgd' as const, lr: 0.2 };
    const seq = await a.trainSequence(x, target, { batch: B, seqLen: T, seqLens, chunkLength: 3, loss: 'mse', optimizer });
    // By hand: hN holds the GRU's two [B, 3] blocks, then the LSTM's [B, 2]; cN the LSTM's [B, 2].
    // Chunk [0, 3) trains all three (lengths 3, 2, 3); [3, 6) sequences 0 and 2 (3 and 1 steps).
    const part = (arr: Float32Array, f: number, t0: number, t1: number, bs: number[]) => Float32Array.from(Array.from({ length: t1 - t0 }, (_, k) => bs.flatMap((q) => [...arr.subarray(((t0 + k) * B + q) * f, ((t0 + k) * B + q + 1) * f)])).flat());
    const rowsOf = (s: Float32Array, blocks: number[], bs: number[]) => {
      let at = 0;
      return Float32Array.from(
        blocks.flatMap((H) => {
          const rows = bs.flatMap((q) => [...s.subarray(at + q * H, at + (q + 1) * H)]);
          at += B * H;
          return rows;
        }),
      );
    };
    const putRows = (into: Float32Array, s: Float32Array, blocks: number[], bs: number[]) => {
      let at = 0;
      let from = 0;
      for (const H of blocks) {
        bs.forEach((q, k) => into.set(s.subarray(from + k * H, from + (k + 1) * H), at + q * H));
        at += B * H;
        from += bs.length * H;
      }
    };
    const h = new Float32Array(B * (3 + 3 + 2));
    const c = new Float32Array(B * 2);
    const losses: number[] = [];
    for (const [t0, t1, bs, lens] of [
      [0, 3, [0, 1, 2], [3, 2, 3]],
      [3, 6, [0, 2], [3, 1]],
    ] as Array<[number, number, number[], number[]]>) {
      const r = await b.trainStep(part(x, 2, t0, t1, bs), part(target, 1, t0, t1, bs), {
        batch: bs.length,
        seqLen: t1 - t0,
        seqLens: lens,
        h0: t0 === 0 ? undefined : rowsOf(h, [3, 3, 2], bs),
        c0: t0 === 0 ? undefined : rowsOf(c, [2], bs),
        loss: 'mse',
        optimizer,
        returnState: true,
      });
      losses.push(r.loss!);
      putRows(h, r.hN!, [3, 3, 2], bs);
      putRows(c, r.cN!, [2], bs);
    }
    expect(seq.losses).toEqual(losses);
    expect(seq.hN).toEqual(h);
    expect(seq.cN).toEqual(c);
    a.destroy();
    b.destroy();
  });

  it('refuses a bad chunk length', async () => {
    const m = engine.rnn({ inputSize: 1, hiddenSize: 2, outputSize: 1 });
    await expect(m.trainSequence(new Float32Array(4), new Float32Array(4), { batch: 1, seqLen: 4, chunkLength: 0, loss: 'mse', optimizer: { type: 'sgd', lr: 1 } })).rejects.toThrow(/chunkLength must be a positive integer/);
    m.destroy();
  });
});
