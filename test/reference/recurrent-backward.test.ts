/**
 * The whole-model gradient reference against central finite differences of the whole-model
 * forward reference, for every cell kind, stacked and bidirectional, batchFirst, with initial
 * states and gradients of hN and cN, and for stacks of unlike layers.
 */
import { describe, expect, it } from 'vitest';
import { parameterInfo, resolveSpec, stateSize, type CellKind, type GruOptions, type RnnOptions } from '../../src/spec/spec.js';
import { resolveStackSpec, type StackLayerOptions, type StackOptions } from '../../src/spec/stack.js';
import { recurrentBackwardReference } from '../../src/reference/recurrent-backward.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { dropoutKeys, dropoutMask } from '../../src/reference/dropout.js';
import { centralDifferences, dotLoss, expectMatchesDifferences, random64 } from '../kernels/cell-backward-harness.js';
import { testRandom } from '../helpers/seed.js';

const { rng } = testRandom('recurrent-backward');

const CONFIGS: Array<{ kind: CellKind; extra: RnnOptions | GruOptions | object; name: string }> = [
  { kind: 'lstm', extra: {}, name: 'lstm' },
  { kind: 'gru', extra: {}, name: 'gru' },
  { kind: 'rnn', extra: { nonlinearity: 'tanh' }, name: 'rnn tanh' },
  { kind: 'rnn', extra: { nonlinearity: 'relu' }, name: 'rnn relu' },
  { kind: 'rnn', extra: { nonlinearity: 'identity' }, name: 'rnn identity' },
];

describe('whole-model gradient reference against central differences', () => {
  for (const config of CONFIGS) {
    for (const [numLayers, bidirectional, batchFirst] of [
      [1, false, false],
      [2, true, true],
      [3, true, false],
    ] as Array<[number, boolean, boolean]>) {
      it(`${config.name} L=${numLayers} bidirectional=${bidirectional} batchFirst=${batchFirst}`, () => {
        const spec = resolveSpec(config.kind, { inputSize: 2, hiddenSize: 3, numLayers, bidirectional, batchFirst, ...config.extra });
        const B = 2;
        const T = 3;
        const D = bidirectional ? 2 : 1;
        const params: Record<string, Float64Array> = {};
        for (const p of parameterInfo(spec)) params[p.name] = random64(rng, p.shape.reduce((a, b) => a * b, 1), -0.7, 0.7);
        const x = random64(rng, T * B * 2);
        const state = numLayers * D * B * 3;
        const h0 = random64(rng, state);
        const c0 = random64(rng, state);
        const gradOutput = random64(rng, T * B * D * 3);
        const gradHN = random64(rng, state);
        const gradCN = random64(rng, state);
        const isLstm = config.kind === 'lstm';
        const opts = { batch: B, seqLen: T, h0, c0: isLstm ? c0 : undefined };
        const loss = (): number => {
          const r = recurrentForwardReference(spec, params, x, opts);
          return dotLoss(r.output, gradOutput) + dotLoss(r.hN, gradHN) + (r.cN ? dotLoss(r.cN, gradCN) : 0);
        };
        const g = recurrentBackwardReference(spec, params, x, { ...opts, gradOutput, gradHN, gradCN: isLstm ? gradCN : undefined });
        expect(Object.keys(g.params).sort()).toEqual(Object.keys(params).sort());
        for (const name of Object.keys(params)) expectMatchesDifferences(name, g.params[name], centralDifferences(loss, params[name]));
        expectMatchesDifferences('input', g.input, centralDifferences(loss, x));
        expectMatchesDifferences('h0', g.h0, centralDifferences(loss, h0));
        if (isLstm) expectMatchesDifferences('c0', g.c0!, centralDifferences(loss, c0));
        else expect(g.c0).toBeUndefined();
      });
    }
  }
});

describe('with dropout between layers', () => {
  for (const [kind, seqLens] of [['lstm', undefined], ['gru', [3, 1]], ['rnn', [2, 3]]] as const) {
    it(`${kind}, 3 layers, bidirectional${seqLens ? ', sequence lengths' : ''}: the masks' gradient against central differences`, () => {
      const spec = resolveSpec(kind, { inputSize: 2, hiddenSize: 3, numLayers: 3, bidirectional: true });
      const B = 2;
      const T = 3;
      const params: Record<string, Float64Array> = {};
      for (const p of parameterInfo(spec)) params[p.name] = random64(rng, p.shape.reduce((a, b) => a * b, 1), -0.7, 0.7);
      const x = random64(rng, T * B * 2);
      const masks = [0, 1].map((l) => dropoutMask(T * B * 6, 0.4, dropoutKeys(5, 0, l)));
      const gradOutput = random64(rng, T * B * 6);
      const gradHN = random64(rng, 3 * 2 * B * 3);
      const opts = { batch: B, seqLen: T, seqLens, dropoutMasks: masks };
      const loss = (): number => {
        const r = recurrentForwardReference(spec, params, x, opts);
        return dotLoss(r.output, gradOutput) + dotLoss(r.hN, gradHN);
      };
      const g = recurrentBackwardReference(spec, params, x, { ...opts, gradOutput, gradHN });
      for (const name of Object.keys(params)) expectMatchesDifferences(name, g.params[name], centralDifferences(loss, params[name]));
      expectMatchesDifferences('input', g.input, centralDifferences(loss, x));
      // The masks change the result: without them the output differs.
      const plain = recurrentForwardReference(spec, params, x, { batch: B, seqLen: T, seqLens });
      expect(plain.output.some((v, i) => Math.abs(v - recurrentForwardReference(spec, params, x, opts).output[i]) > 1e-6)).toBe(true);
    });
  }
});

describe('stacks of unlike layers', () => {
  // Each layer its own cell, width and directions; hN holds each layer's [D_l, B, H_l] in turn,
  // cN the LSTM layers' only.
  const STACKS: Array<{ name: string; layers: StackLayerOptions[] }> = [
    { name: 'bidirectional LSTM 3 → GRU 2 → Elman relu 4', layers: [{ kind: 'lstm', hiddenSize: 3, bidirectional: true }, { kind: 'gru', hiddenSize: 2 }, { kind: 'rnn', hiddenSize: 4, nonlinearity: 'relu' }] },
    { name: 'GRU 4 → bidirectional LSTM 2 → LSTM 3', layers: [{ kind: 'gru', hiddenSize: 4 }, { kind: 'lstm', hiddenSize: 2, bidirectional: true }, { kind: 'lstm', hiddenSize: 3 }] },
  ];
  for (const { name, layers } of STACKS) {
    for (const seqLens of [undefined, [3, 1]]) {
      it(`${name}${seqLens ? ', sequence lengths' : ''}, batchFirst, dropout: against central differences`, () => {
        const spec = resolveStackSpec({ inputSize: 2, layers, batchFirst: true });
        const B = 2;
        const T = 3;
        const params: Record<string, Float64Array> = {};
        for (const p of parameterInfo(spec)) params[p.name] = random64(rng, p.shape.reduce((a, b) => a * b, 1), -0.7, 0.7);
        const x = random64(rng, T * B * 2);
        const width = (l: number): number => spec.layers[l].numDirections * spec.layers[l].hiddenSize;
        const masks = [0, 1].map((l) => dropoutMask(T * B * width(l), 0.3, dropoutKeys(9, 0, l)));
        const h0 = random64(rng, stateSize(spec, B));
        const c0 = random64(rng, stateSize(spec, B, true));
        const gradOutput = random64(rng, T * B * width(2));
        const gradHN = random64(rng, stateSize(spec, B));
        const gradCN = random64(rng, stateSize(spec, B, true));
        const opts = { batch: B, seqLen: T, seqLens, h0, c0, dropoutMasks: masks };
        const r0 = recurrentForwardReference(spec, params, x, opts);
        expect(r0.hN.length).toBe(B * layers.reduce((a, l) => a + (l.bidirectional ? 2 : 1) * l.hiddenSize, 0));
        expect(r0.cN!.length).toBe(c0.length);
        const loss = (): number => {
          const r = recurrentForwardReference(spec, params, x, opts);
          return dotLoss(r.output, gradOutput) + dotLoss(r.hN, gradHN) + dotLoss(r.cN!, gradCN);
        };
        const g = recurrentBackwardReference(spec, params, x, { ...opts, gradOutput, gradHN, gradCN });
        expect(Object.keys(g.params).sort()).toEqual(Object.keys(params).sort());
        for (const n of Object.keys(params)) expectMatchesDifferences(n, g.params[n], centralDifferences(loss, params[n]));
        expectMatchesDifferences('input', g.input, centralDifferences(loss, x));
        expectMatchesDifferences('h0', g.h0, centralDifferences(loss, h0));
        expectMatchesDifferences('c0', g.c0!, centralDifferences(loss, c0));
      });
    }
  }

  it('a stack of alike layers is the model of that cell', () => {
    const stack = resolveStackSpec({ inputSize: 3, layers: [{ kind: 'gru', hiddenSize: 5, bidirectional: true }, { kind: 'gru', hiddenSize: 5, bidirectional: true }], seed: 2 });
    expect(stack).toEqual(resolveSpec('gru', { inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, seed: 2 }));
  });

  it('refuses what is not a stack, naming the layer', () => {
    expect(() => resolveStackSpec({ inputSize: 3, layers: [] })).toThrow(/non-empty array/);
    expect(() => resolveStackSpec({ inputSize: 3, layers: [{ kind: 'lstm', hiddenSize: 4 }, { kind: 'conv' as 'lstm', hiddenSize: 2 }] })).toThrow(/layers\[1\]: kind must be/);
    expect(() => resolveStackSpec({ inputSize: 3, layers: [{ kind: 'lstm', hiddenSize: 0 }] })).toThrow(/layers\[0\]: hiddenSize must be a positive integer/);
    expect(() => resolveStackSpec({ inputSize: 3, layers: [{ kind: 'lstm', hiddenSize: 4, nonlinearity: 'relu' }] })).toThrow(/layers\[0\]: lstm: unknown option 'nonlinearity'/);
    expect(() => resolveStackSpec({ inputSize: 3, hiddenSize: 4, layers: [{ kind: 'lstm', hiddenSize: 4 }] } as StackOptions)).toThrow(/'hiddenSize' is an option of each layer/);
  });
});

describe('LSTM projections (projSize)', () => {
  for (const [numLayers, bidirectional, seqLens] of [
    [1, false, undefined],
    [2, true, [3, 2]],
  ] as Array<[number, boolean, number[] | undefined]>) {
    it(`L=${numLayers} bidirectional=${bidirectional}${seqLens ? ', sequence lengths' : ''}: against central differences`, () => {
      const spec = resolveSpec('lstm', { inputSize: 2, hiddenSize: 4, projSize: 3, numLayers, bidirectional, batchFirst: true });
      const B = 2;
      const T = 3;
      const D = bidirectional ? 2 : 1;
      const params: Record<string, Float64Array> = {};
      for (const p of parameterInfo(spec)) params[p.name] = random64(rng, p.shape.reduce((a, b) => a * b, 1), -0.7, 0.7);
      expect(parameterInfo(spec).filter((p) => p.role === 'weight_hr').map((p) => p.shape)).toEqual(Array(numLayers * D).fill([3, 4]));
      const x = random64(rng, T * B * 2);
      const h0 = random64(rng, stateSize(spec, B));
      const c0 = random64(rng, stateSize(spec, B, true));
      expect([h0.length, c0.length]).toEqual([numLayers * D * B * 3, numLayers * D * B * 4]);
      const gradOutput = random64(rng, T * B * D * 3);
      const gradHN = random64(rng, h0.length);
      const gradCN = random64(rng, c0.length);
      const opts = { batch: B, seqLen: T, seqLens, h0, c0 };
      const loss = (): number => {
        const r = recurrentForwardReference(spec, params, x, opts);
        return dotLoss(r.output, gradOutput) + dotLoss(r.hN, gradHN) + dotLoss(r.cN!, gradCN);
      };
      const g = recurrentBackwardReference(spec, params, x, { ...opts, gradOutput, gradHN, gradCN });
      expect(Object.keys(g.params).sort()).toEqual(Object.keys(params).sort());
      for (const n of Object.keys(params)) expectMatchesDifferences(n, g.params[n], centralDifferences(loss, params[n]));
      expectMatchesDifferences('input', g.input, centralDifferences(loss, x));
      expectMatchesDifferences('h0', g.h0, centralDifferences(loss, h0));
      expectMatchesDifferences('c0', g.c0!, centralDifferences(loss, c0));
    });
  }

  it('h is W_hr (o ⊙ tanh c): a projection by the identity rows is the plain LSTM\'s first units', () => {
    // W_hr = [I_3 | 0] picks the first 3 of 4 units, and W_hh's columns see only them.
    const proj = resolveSpec('lstm', { inputSize: 2, hiddenSize: 4, projSize: 3 });
    const plain = resolveSpec('lstm', { inputSize: 2, hiddenSize: 4 });
    const params: Record<string, Float64Array> = {};
    for (const p of parameterInfo(plain)) params[p.name] = random64(rng, p.shape.reduce((a, b) => a * b, 1), -0.7, 0.7);
    for (let r = 0; r < 16; r++) params.weight_hh_l0[r * 4 + 3] = 0;
    const projected = { ...params, weight_hh_l0: Float64Array.from({ length: 16 * 3 }, (_, i) => params.weight_hh_l0[Math.floor(i / 3) * 4 + (i % 3)]), weight_hr_l0: Float64Array.from({ length: 12 }, (_, i) => (i % 4 === Math.floor(i / 4) ? 1 : 0)) };
    const x = random64(rng, 3 * 2 * 2);
    const a = recurrentForwardReference(proj, projected, x, { batch: 2, seqLen: 3 });
    const b = recurrentForwardReference(plain, params, x, { batch: 2, seqLen: 3 });
    for (let i = 0; i < 3 * 2; i++) for (let j = 0; j < 3; j++) expect(a.output[i * 3 + j]).toBeCloseTo(b.output[i * 4 + j], 12);
    expect(Array.from(a.cN!)).toEqual(Array.from(b.cN!));
  });

  it('refuses what a projection cannot be', () => {
    expect(() => resolveSpec('lstm', { inputSize: 2, hiddenSize: 4, projSize: 4 })).toThrow(/projSize must be smaller than hiddenSize \(4\), got 4/);
    expect(() => resolveSpec('lstm', { inputSize: 2, hiddenSize: 4, projSize: 1.5 })).toThrow(/projSize must be a positive integer/);
    expect(() => resolveSpec('gru', { inputSize: 2, hiddenSize: 4, projSize: 2 } as never)).toThrow(/gru: unknown option 'projSize'/);
    expect(() => resolveSpec('lstm', { inputSize: 2, hiddenSize: 4, projSize: 2, peepholes: true })).toThrow(/projSize with peepholes/);
  });
});
