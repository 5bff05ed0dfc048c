// The resident forms' layout choices (src/kernels/resident.ts), which need no adapter: how many units an invocation takes
// and where their weights live (residentSplit) within WGSL's limits, how the generated product
// reads them (residentProductSource), how many lanes share its loads (residentLanes), and when a forward pass takes the batch tile
// (forwardBatchTile), over how many workgroups its rows go (residentRowGroups) and whether
// 'auto' compiles it in the background (residentCompilesInBackground). The kernels built from
// them are checked against the reference in the cell forward tests (persistentCases).
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.js';
import { residentFits, residentLanes, residentProductSource, residentRowGroups, residentSplit } from '../../src/kernels/resident.js';
import { forwardBatchTile, residentCompilesInBackground } from '../../src/placement/rules.js';

// Floats a weight: the LSTM's vec4f of gates, the GRU's three gates (GATES3), the Elman cell's one.
const CELLS = [
  { name: 'lstm', weightFloats: 4 },
  { name: 'gru', weightFloats: 3 },
  { name: 'rnn', weightFloats: 1 },
];

describe('residentSplit', () => {
  it('keeps private memory, main\'s and residentWalk\'s function variables within 8192 bytes each, wherever the form fits', () => {
    for (const { name, weightFloats } of CELLS) {
      for (const batchTile of [false, true]) {
        // The private variables besides the weights: the accumulator (a vec3f or vec4f is 16
        // bytes, a mat4x3f or mat4x4f 64), the step, the subgroup lane, and the row block's
        // first row and four lengths.
        const accBytes = weightFloats > 1 ? (batchTile ? 64 : 16) : batchTile ? 16 : 4;
        const bytes = (weights: number) => weights * 4 * weightFloats;
        for (let H = 1; H <= 512; H++) {
          if (!residentFits(H, weightFloats, batchTile)) continue;
          const { units, privateWeights, mainWeights } = residentSplit(H, weightFloats, batchTile);
          const what = `${name} H=${H} tile ${batchTile}`;
          expect(units, what).toBeGreaterThanOrEqual(1);
          expect(privateWeights + mainWeights, what).toBeLessThanOrEqual(units * H);
          expect(bytes(privateWeights) + accBytes + 28, what).toBeLessThanOrEqual(8192);
          // main holds its variable of weights alone; residentWalk also three loop counters,
          // for which 64 bytes are left.
          expect(bytes(mainWeights), what).toBeLessThanOrEqual(8192);
          expect(bytes(units * H - privateWeights - mainWeights), what).toBeLessThanOrEqual(8192 - 64);
          // The workgroup: ceil(H / units) invocations, rounded up to 4, within 256.
          expect(Math.ceil(Math.ceil(H / units) / 4) * 4, what).toBeLessThanOrEqual(256);
        }
      }
    }
  });

  it('takes the measured unit counts: private memory alone where it holds them, else up to 3, 4 and 8 (16 from H = 256) through the function variables', () => {
    const cases: Array<[string, number, number, boolean, number, number, number]> = [
      // [cell, weightFloats, H, batchTile, units, weights in private memory, in main's variable]
      ['lstm A', 4, 128, false, 3, 384, 0],
      ['lstm H=64', 4, 64, false, 4, 256, 0],
      ['lstm B', 4, 256, false, 3, 504, 264],
      ['lstm H=256, tile', 4, 256, true, 3, 501, 267],
      ['lstm C', 4, 512, false, 2, 504, 512],
      ['gru A', 3, 128, false, 4, 512, 0],
      ['gru B', 3, 256, false, 4, 673, 351],
      ['gru C', 3, 512, false, 3, 673, 682],
      ['rnn A', 1, 128, false, 8, 1024, 0],
      ['rnn B', 1, 256, false, 16, 2024, 2048],
      ['rnn C', 1, 512, false, 11, 2024, 2048],
      ['rnn H=128, tile', 1, 128, true, 8, 1024, 0],
    ];
    for (const [name, weightFloats, H, batchTile, units, privateWeights, mainWeights] of cases) {
      expect(residentSplit(H, weightFloats, batchTile), name).toEqual({ units, privateWeights, mainWeights });
    }
  });
});

describe('residentFits', () => {
  it('builds the resident forward for every cell up to H = 512', () => {
    // The LSTM at H = 512: two units, 1024 vec4f, 504 in private memory, 512 in main's
    // variable and 8 in residentWalk's.
    expect(residentFits(512, 4, false)).toBe(true);
    for (const { weightFloats } of CELLS) {
      expect(residentFits(513, weightFloats, false)).toBe(false);
      expect(residentFits(0, weightFloats, false)).toBe(false);
      expect(residentFits(2.5, weightFloats, false)).toBe(false);
      for (let H = 1; H <= 512; H++) expect(residentFits(H, weightFloats, false), `H=${H}`).toBe(true);
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

  it('reads weight k units + u from wRes, then *w2 (main\'s), then *w3 (residentWalk\'s)', () => {
    // H = 4, 2 units, 3 weights private, 3 in main: weights 0-2 private, 3-5 in w2, 6-7 in w3.
    const source = residentProductSource(4, 2, 1, { privateWeights: 3, mainWeights: 3 });
    expect(readsOf(source, 0)).toEqual(['wRes[0]', 'wRes[1]']);
    expect(readsOf(source, 1)).toEqual(['wRes[2]', '(*w2)[0]']);
    expect(readsOf(source, 2)).toEqual(['(*w2)[1]', '(*w2)[2]']);
    expect(readsOf(source, 3)).toEqual(['(*w3)[0]', '(*w3)[1]']);
    expect(source).toContain('const RES_WP: u32 = 3u;');
    expect(source).toContain('const RES_WM: u32 = 3u;');
    expect(source).toContain('const RES_WW: u32 = 2u;');
    expect(source).toContain('fn residentProduct(w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>)');
  });

  it('splits inside a unit and reads three floats a weight with GATES3', () => {
    // H = 2, 3 units, 4 weights private, 1 in main: weight 4 = (k 1, u 1) is main's, 5 residentWalk's.
    const source = residentProductSource(2, 3, 3, { privateWeights: 4, mainWeights: 1 });
    expect(readsOf(source, 1)).toEqual(['vec3f(wRes[9], wRes[10], wRes[11])', 'vec3f((*w2)[0], (*w2)[1], (*w2)[2])', 'vec3f((*w3)[0], (*w3)[1], (*w3)[2])']);
  });

  it('with 4 lanes, loads one element of sRes a lane for each block of 4 input units and broadcasts it', () => {
    // H = 6: blocks k = 0..3 and 4..5; sRes holds 8 elements so that lanes 2 and 3 of the
    // second block load inside it. The terms are those of one lane.
    const source = residentProductSource(6, 2, 1, { privateWeights: 12, mainWeights: 0 }, 4);
    expect(source).toContain('const RES_H: u32 = 6u;');
    expect(source).toContain('const RES_HS: u32 = 8u;');
    expect(source).toContain('let v0 = sRes[0u + resLane];');
    expect(source).toContain('let v4 = sRes[4u + resLane];');
    expect(source).not.toContain('sRes[1');
    for (let k = 0; k < 6; k++) {
      const line = source.split('\n').find((l) => l.includes(`let s = subgroupBroadcast(v${k - (k % 4)}, ${k % 4}u);`));
      expect(line, `k = ${k}`).toBeDefined();
      expect([...line!.matchAll(/residentTerm\((.*?), s\)/g)].map((m) => m[1])).toEqual([`wRes[${2 * k}]`, `wRes[${2 * k + 1}]`]);
    }
    // One lane: every element at its constant index, and sRes exactly H long.
    const plain = residentProductSource(6, 2, 1, { privateWeights: 12, mainWeights: 0 });
    expect(plain).toContain('const RES_HS: u32 = 6u;');
    expect(plain).not.toContain('subgroupBroadcast');
    expect(plain).toContain('let s = sRes[5];');
  });

  it('with halves (the forward\'s two copies of h), reads sRes at half + k and takes half', () => {
    const lanes = residentProductSource(6, 2, 1, { privateWeights: 12, mainWeights: 0 }, 4, true);
    expect(lanes).toContain('fn residentProduct(w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>, half: u32)');
    expect(lanes).toContain('let v0 = sRes[half + 0u + resLane];');
    expect(lanes).toContain('let v4 = sRes[half + 4u + resLane];');
    expect(lanes).not.toMatch(/sRes\[\d/);
    const plain = residentProductSource(6, 2, 1, { privateWeights: 12, mainWeights: 0 }, 1, true);
    for (let k = 0; k < 6; k++) expect(plain).toContain(`let s = sRes[half + ${k}u];`);
    expect(plain).not.toMatch(/sRes\[\d/);
  });

  it('takes no pointer and adds no sizes without a layout (every weight private)', () => {
    const source = residentProductSource(4, 2, 4);
    expect(source).toContain('fn residentProduct()');
    expect(source).not.toContain('RES_WP');
    expect(readsOf(source, 3)).toEqual(['wRes[6]', 'wRes[7]']);
  });

  // The generated WGSL pinned for one size (H = 3, 2 units, three floats a weight, 3 weights
  // private and 2 in main's variable, the forward's halves): checked by hand against the
  // layout above (weight i = k 2 + u; wRes floats 3i .., then (*w2), then (*w3)); a change to
  // the generator shows here as a diff. The kernels built from it are checked against the
  // reference in the cell tests.
  it('generates this product for H = 3, 2 units, GATES3, halves', () => {
    expect(residentProductSource(3, 2, 3, { privateWeights: 3, mainWeights: 2 }, 1, true)).toBe(
      [
        'const RES_H: u32 = 3u;',
        'const RES_HS: u32 = 3u;',
        'const RES_U: u32 = 2u;',
        'const RES_WP: u32 = 3u;',
        'const RES_WM: u32 = 2u;',
        'const RES_WW: u32 = 1u;',
        'fn residentProduct(w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>, half: u32) -> array<ResAcc, RES_U> {',
        '  var acc: array<ResAcc, RES_U>;',
        '  { let s = sRes[half + 0u]; acc[0] += residentTerm(vec3f(wRes[0], wRes[1], wRes[2]), s); acc[1] += residentTerm(vec3f(wRes[3], wRes[4], wRes[5]), s); }',
        '  { let s = sRes[half + 1u]; acc[0] += residentTerm(vec3f(wRes[6], wRes[7], wRes[8]), s); acc[1] += residentTerm(vec3f((*w2)[0], (*w2)[1], (*w2)[2]), s); }',
        '  { let s = sRes[half + 2u]; acc[0] += residentTerm(vec3f((*w2)[3], (*w2)[4], (*w2)[5]), s); acc[1] += residentTerm(vec3f((*w3)[0], (*w3)[1], (*w3)[2]), s); }',
        '  return acc;',
        '}',
      ].join('\n') + '\n',
    );
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
    expect(forwardBatchTile(software, facts(512, 16), true)).toBe(false);
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

describe('residentCompilesInBackground', () => {
  const software = { info: { software: true } } as unknown as GpuContext;
  const gpu = { info: { software: false } } as unknown as GpuContext;

  it("has 'auto' compile the resident form in the background on software adapters from H = 64, where its compilation measured slow", () => {
    expect(residentCompilesInBackground(software, 63)).toBe(false);
    expect(residentCompilesInBackground(software, 64)).toBe(true);
    expect(residentCompilesInBackground(software, 512)).toBe(true);
    // GPUs have no resident form: their persistent kernel is the staged one, compiled when needed.
    expect(residentCompilesInBackground(gpu, 256)).toBe(false);
  });
});

describe('residentLanes', () => {
  const ctxWith = (subgroupMinSize?: number): GpuContext => ({ info: { subgroupMinSize } }) as unknown as GpuContext;

  it('shares loads across 4 lanes where every subgroup has at least 4, unless asked not to', () => {
    expect(residentLanes(ctxWith(4))).toBe(4);
    expect(residentLanes(ctxWith(32))).toBe(4);
    expect(residentLanes(ctxWith(4), false)).toBe(1);
    expect(residentLanes(ctxWith(4), true)).toBe(4);
  });

  it('loads every element in each lane without subgroups of 4, and refuses to be forced there', () => {
    expect(residentLanes(ctxWith(undefined))).toBe(1);
    expect(residentLanes(ctxWith(2))).toBe(1);
    expect(residentLanes(ctxWith(1), false)).toBe(1);
    expect(() => residentLanes(ctxWith(2), true)).toThrow(/subgroupMinSize 2/);
    expect(() => residentLanes(ctxWith(undefined), true)).toThrow(/absent/);
  });
});
