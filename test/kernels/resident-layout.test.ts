// The resident form's layout choices, which need no adapter: how many units an invocation takes
// and where their weights live (residentSplit) within WGSL's limits, how the generated product
// reads them (residentProductSource), and when a forward pass takes the batch tile
// (forwardBatchTile) and over how many workgroups its rows go (residentRowGroups). The kernels built from them are checked against the reference in the
// cell forward tests (persistentCases).
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.js';
import { forwardBatchTile, residentFits, residentProductSource, residentRowGroups, residentSplit } from '../../src/kernels/recurrent-step.js';

// Floats a weight: the LSTM's vec4f of gates, the GRU's three gates (GATES3), the Elman cell's one.
const CELLS = [
  { name: 'lstm', weightFloats: 4 },
  { name: 'gru', weightFloats: 3 },
  { name: 'rnn', weightFloats: 1 },
];

describe('residentSplit', () => {
  it('keeps private memory and main\'s function variable within 8192 bytes each, wherever the form fits', () => {
    for (const { name, weightFloats } of CELLS) {
      for (const batchTile of [false, true]) {
        // The private variables besides the weights: the accumulator (a vec3f or vec4f is 16
        // bytes, a mat4x3f or mat4x4f 64) and the step.
        const accBytes = weightFloats > 1 ? (batchTile ? 64 : 16) : batchTile ? 16 : 4;
        for (let H = 1; H <= 512; H++) {
          if (!residentFits(H, weightFloats, batchTile)) continue;
          const { units, privateWeights } = residentSplit(H, weightFloats, batchTile);
          const what = `${name} H=${H} tile ${batchTile}`;
          expect(units, what).toBeGreaterThanOrEqual(1);
          expect(privateWeights, what).toBeLessThanOrEqual(units * H);
          expect(privateWeights * 4 * weightFloats + accBytes + 4, what).toBeLessThanOrEqual(8192);
          // main's other function variables are two loop counters; 64 bytes are left for them.
          expect((units * H - privateWeights) * 4 * weightFloats, what).toBeLessThanOrEqual(8192 - 64);
        }
      }
    }
  });

  it('takes the measured unit counts: private memory alone where it holds them, else 3, 4 and 8 with the rest in main', () => {
    const cases: Array<[string, number, number, boolean, number, number]> = [
      // [cell, weightFloats, H, batchTile, units, weights in private memory]
      ['lstm A', 4, 128, false, 3, 384],
      ['lstm H=64', 4, 64, false, 4, 256],
      ['lstm B', 4, 256, false, 3, 510],
      ['lstm H=256, tile', 4, 256, true, 3, 507],
      ['gru A', 3, 128, false, 4, 512],
      ['gru B', 3, 256, false, 4, 681],
      ['rnn A', 1, 128, false, 8, 1024],
      ['rnn B', 1, 256, false, 8, 2046],
      ['rnn H=128, tile', 1, 128, true, 8, 1024],
    ];
    for (const [name, weightFloats, H, batchTile, units, privateWeights] of cases) {
      expect(residentSplit(H, weightFloats, batchTile), name).toEqual({ units, privateWeights });
    }
  });
});

describe('residentFits', () => {
  it('builds the resident forward up to H = 512 where the weights and units fit, the LSTM to H = 509', () => {
    // The LSTM at H = 509: two units, 1018 vec4f, 510 in private memory and 508 (8128 bytes) in main.
    expect(residentSplit(509, 4, false)).toEqual({ units: 2, privateWeights: 510 });
    expect(residentFits(509, 4, false)).toBe(true);
    // At H = 510 two units no longer fit, and one a unit needs 510 invocations.
    expect(residentFits(510, 4, false)).toBe(false);
    expect(residentFits(512, 4, false)).toBe(false);
    expect(residentSplit(512, 3, false)).toEqual({ units: 2, privateWeights: 681 });
    expect(residentFits(512, 3, false)).toBe(true);
    expect(residentSplit(512, 1, false)).toEqual({ units: 7, privateWeights: 2046 });
    expect(residentFits(512, 1, false)).toBe(true);
    for (const { weightFloats } of CELLS) {
      expect(residentFits(513, weightFloats, false)).toBe(false);
      expect(residentFits(0, weightFloats, false)).toBe(false);
      for (let H = 1; H <= 256; H++) expect(residentFits(H, weightFloats, false), `H=${H}`).toBe(true);
      for (let H = 1; H <= 128; H++) expect(residentFits(H, weightFloats, true), `H=${H}, tile`).toBe(true);
    }
  });
});

describe('residentProductSource', () => {
  /** The weight reads of input unit k's line: the array expression of each unit's term. */
  function readsOf(source: string, k: number): string[] {
    const line = source.split('\n').find((l) => l.includes(`let s = sRes[${k}];`));
    expect(line, `line of k = ${k}`).toBeDefined();
    return [...line!.matchAll(/residentTerm\((.*?), s\)/g)].map((m) => m[1]);
  }

  it('reads weight k units + u from wRes below the private count and from *w2 past it', () => {
    // H = 3, 2 units, 4 weights in private memory: weights 0-3 (k = 0, 1) private, 4-5 (k = 2) in w2.
    const source = residentProductSource(3, 2, 1, 4);
    expect(readsOf(source, 0)).toEqual(['wRes[0]', 'wRes[1]']);
    expect(readsOf(source, 1)).toEqual(['wRes[2]', 'wRes[3]']);
    expect(readsOf(source, 2)).toEqual(['(*w2)[0]', '(*w2)[1]']);
    expect(source).toContain('const RES_WP: u32 = 4u;');
    expect(source).toContain('const RES_WS: u32 = 2u;');
    expect(source).toContain('fn residentProduct(w2: ptr<function, ResSpill>)');
  });

  it('splits inside a unit and reads three floats a weight with GATES3', () => {
    // H = 2, 3 units, 4 weights private: weight 4 = (k 1, u 1) is the first in w2.
    const source = residentProductSource(2, 3, 3, 4);
    expect(readsOf(source, 1)).toEqual(['vec3f(wRes[9], wRes[10], wRes[11])', 'vec3f((*w2)[0], (*w2)[1], (*w2)[2])', 'vec3f((*w2)[3], (*w2)[4], (*w2)[5])']);
  });

  it('takes no pointer where every weight is private', () => {
    const source = residentProductSource(4, 2, 4);
    expect(source).toContain('fn residentProduct()');
    expect(source).toContain('const RES_WS: u32 = 0u;');
    expect(readsOf(source, 3)).toEqual(['wRes[6]', 'wRes[7]']);
  });
});

describe('forwardBatchTile', () => {
  const software = { info: { software: true } } as unknown as GpuContext;
  const gpu = { info: { software: false } } as unknown as GpuContext;
  const facts = (hidden: number, batch: number, onePhase = true, gates = 4) => ({ hidden, batch, onePhase, gates });

  it('runs the resident form one row a workgroup past H = 128 or below 8 rows, with the tile elsewhere', () => {
    expect(forwardBatchTile(software, facts(256, 16), true)).toBe(false);
    expect(forwardBatchTile(software, facts(256, 64), true)).toBe(false);
    expect(forwardBatchTile(software, facts(129, 8), true)).toBe(false);
    expect(forwardBatchTile(software, facts(128, 4), true)).toBe(false);
    expect(forwardBatchTile(software, facts(128, 7), true)).toBe(false);
    expect(forwardBatchTile(software, facts(128, 8), true)).toBe(true);
    expect(forwardBatchTile(software, facts(64, 64), true)).toBe(true);
    expect(forwardBatchTile(software, facts(128, 3), true)).toBe(false);
  });

  it('keeps the tile from 4 rows for the per-step kernels, the staged persistent kernel and past the resident form', () => {
    expect(forwardBatchTile(software, facts(256, 4), false)).toBe(true);
    expect(forwardBatchTile(software, facts(510, 16), true)).toBe(true);
    expect(forwardBatchTile(software, facts(512, 16, true, 3), true)).toBe(false);
    expect(forwardBatchTile(software, facts(513, 16, true, 1), true)).toBe(true);
    expect(forwardBatchTile(software, facts(256, 16, false), true)).toBe(true);
    expect(forwardBatchTile(gpu, facts(256, 16), true)).toBe(true);
    expect(forwardBatchTile(gpu, facts(128, 4), false)).toBe(true);
    expect(forwardBatchTile(gpu, facts(128, 3), true)).toBe(false);
  });
});

describe('residentRowGroups', () => {
  const on = (cpuThreads: number | undefined) => ({ info: { software: true, cpuThreads } }) as unknown as GpuContext;

  it('spreads the workgroups of both directions over the CPU threads, four where the runtime does not say', () => {
    expect(residentRowGroups(on(2), 1)).toBe(2);
    expect(residentRowGroups(on(2), 2)).toBe(1);
    expect(residentRowGroups(on(3), 2)).toBe(2);
    expect(residentRowGroups(on(16), 1)).toBe(16);
    expect(residentRowGroups(on(1), 2)).toBe(1);
    expect(residentRowGroups(on(undefined), 1)).toBe(4);
    expect(residentRowGroups(on(undefined), 2)).toBe(2);
  });
});
