// The slab form's generated entry point (src/kernels/matmul-slab.ts), pinned: the WGSL as it
// is generated lies in test/fixtures/wgsl/matmul-slab-main.wgsl, where it can be read and
// diffed; a change to the generator fails here until that file is regenerated with it. Its
// products are checked against the reference in matmul.test.ts (the slab cases).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SLAB_COLUMNS, slabMatmulMain } from '../../src/kernels/matmul-slab.js';

const fixture = new URL('../fixtures/wgsl/matmul-slab-main.wgsl', import.meta.url);

describe('slabMatmulMain', () => {
  const source = slabMatmulMain();

  it('generates the entry point in test/fixtures/wgsl/matmul-slab-main.wgsl', () => {
    expect(source).toBe(readFileSync(fixture, 'utf8'));
  });

  it('copies every element of the B slab to private memory at a constant index, once', () => {
    const copies = [...source.matchAll(/bSlab\[(\d+)\] = bStage\[(\d+)\];/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(copies.length).toBe(64 * SLAB_COLUMNS);
    expect(copies.every(([i, j]) => i === j)).toBe(true);
    expect(new Set(copies.map(([i]) => i)).size).toBe(64 * SLAB_COLUMNS);
  });

  it('broadcasts each of the slab\'s 64 k to each of a block\'s 4 rows, 16 sums a row', () => {
    const broadcasts = [...source.matchAll(/subgroupBroadcast\(aSlab\[(\d+)\], (\d)u\); ((?:c\d+ \+= s \* bSlab\[\d+\]; )+)/g)];
    expect(broadcasts.length).toBe(64 * 4);
    const pairs = new Set(broadcasts.map((m) => `${m[1]},${m[2]}`));
    expect(pairs.size).toBe(64 * 4);
    for (const m of broadcasts) {
      const k = Number(m[1]);
      const terms = [...m[3].matchAll(/c(\d+) \+= s \* bSlab\[(\d+)\]/g)].map((t) => [Number(t[1]), Number(t[2])]);
      expect(terms).toEqual(Array.from({ length: SLAB_COLUMNS }, (_, j) => [j, k * SLAB_COLUMNS + j]));
    }
  });
});
