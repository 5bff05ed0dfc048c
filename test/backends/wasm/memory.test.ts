import { describe, expect, it } from 'vitest';
import { WasmHeap } from '../../../src/backends/wasm/memory.js';
import { createRandom } from '../../../src/spec/random.js';

const memory = (): WebAssembly.Memory => new WebAssembly.Memory({ initial: 2, maximum: 64 });

describe('wasm heap', () => {
  it('hands out 16-byte aligned, disjoint blocks above the static data, and counts them', () => {
    const heap = new WasmHeap(memory());
    const a = heap.alloc(3);
    const b = heap.alloc(1);
    const c = heap.alloc(9);
    for (const p of [a, b, c]) {
      expect(p % 16).toBe(0);
      expect(p).toBeGreaterThanOrEqual(65536);
    }
    expect(b).toBeGreaterThanOrEqual(a + 12);
    expect(c).toBeGreaterThanOrEqual(b + 4);
    expect(heap.stats).toEqual({ blocks: 3, bytes: 16 + 16 + 48 });
    heap.release(b);
    expect(heap.stats).toEqual({ blocks: 2, bytes: 64 });
    expect(() => heap.release(b)).toThrow(/not a live block/);
    heap.release(0);
  });

  it('reuses freed space, merges neighbours, and grows the memory when it must', () => {
    const heap = new WasmHeap(memory());
    const a = heap.alloc(4);
    const b = heap.alloc(4);
    const c = heap.alloc(4);
    heap.release(a);
    heap.release(b);
    // a and b merged: a block of 8 floats fits where they were.
    expect(heap.alloc(8)).toBe(a);
    const before = heap.reserved;
    const big = heap.alloc(100000);
    expect(heap.reserved).toBeGreaterThan(before);
    heap.f32(big, 100000).fill(1);
    heap.release(big);
    heap.release(c);
  });

  it('random allocations and releases never overlap (a million-word check)', () => {
    const heap = new WasmHeap(memory());
    const rng = createRandom(7);
    const live: Array<{ p: number; n: number; tag: number }> = [];
    for (let i = 0; i < 600; i++) {
      if (live.length && rng.range(0, 1) < 0.45) {
        const k = Math.floor(rng.range(0, live.length));
        const { p, n, tag } = live.splice(k, 1)[0];
        // Nobody wrote over this block while it was live.
        expect(heap.i32(p, n).every((v) => v === tag)).toBe(true);
        heap.release(p);
      } else {
        const n = 1 + Math.floor(rng.range(0, 3000));
        const p = heap.alloc(n);
        heap.i32(p, n).fill(i + 1);
        live.push({ p, n, tag: i + 1 });
      }
    }
    for (const { p, n, tag } of live) expect(heap.i32(p, n).every((v) => v === tag)).toBe(true);
  });

  it('refuses more than the memory may hold, with a limit error', () => {
    const heap = new WasmHeap(memory());
    expect(() => heap.alloc(2 ** 30)).toThrow(expect.objectContaining({ code: 'limit' }));
  });
});
