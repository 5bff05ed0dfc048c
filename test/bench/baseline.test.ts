// The old-against-new comparison of bench/baseline.mjs: the order of the builds round after
// round, and the summary of the rounds (medians, ranges, ratio, overlap).
import { describe, expect, it } from 'vitest';
import { alternate, summarise } from '../../bench/baseline.mjs';

type Row = { cell: string; workload: string; mode: string; ms: number };

describe('bench/baseline.mjs', () => {
  it('alternates which build goes first, every round, with only webrnn on one backend (WebGPU unless asked) and no ceilings, first use or streams', async () => {
    const calls: Array<[string, Record<string, unknown>]> = [];
    const results = await alternate(async (build, o) => {
      calls.push([build, o]);
      return [];
    }, { runs: 3 }, 3);
    expect(calls.map(([b]) => b)).toEqual(['new', 'old', 'old', 'new', 'new', 'old']);
    expect(calls[0][1]).toEqual({ runs: 3, backends: ['webgpu'], engines: ['webrnn'], ceilings: false, firstUse: false, stream: false });
    const wasm: Array<Record<string, unknown>> = [];
    await alternate(async (_build, o) => {
      wasm.push(o);
      return [];
    }, { backends: ['wasm'] }, 1);
    expect(wasm[0].backends).toEqual(['wasm']);
    expect(results.map((r) => r.round)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it('summarises each row: medians over the rounds, their ranges, new / old, and whether the ranges meet', () => {
    const row = (ms: number): Row => ({ cell: 'lstm', workload: 'A', mode: 'infer', ms });
    const slow = (ms: number): Row => ({ cell: 'gru', workload: 'B', mode: 'train', ms });
    const results = [
      { round: 0, build: 'new', rows: [row(10), slow(30)] },
      { round: 0, build: 'old', rows: [row(12), slow(20)] },
      { round: 1, build: 'old', rows: [row(11), slow(21), { ...row(0), ms: Number.NaN }] },
      { round: 1, build: 'new', rows: [row(13), slow(31)] },
      { round: 2, build: 'new', rows: [row(9), slow(29)] },
      { round: 2, build: 'old', rows: [row(14), slow(22)] },
    ];
    const [a, b] = summarise(results);
    expect(a).toMatchObject({ cell: 'lstm', new: [10, 13, 9], old: [12, 11, 14], newMedian: 10, oldMedian: 12, newRange: [9, 13], oldRange: [11, 14], overlap: true });
    expect(a.ratio).toBeCloseTo(10 / 12, 12);
    expect(b).toMatchObject({ cell: 'gru', newMedian: 30, oldMedian: 21, overlap: false });
  });
});
