/**
 * What the wasm kernel tests share: a runtime, tensors in its one memory each between two
 * guard zones of canary words (a write out of bounds would corrupt another model's tensor
 * silently, so every call is followed by a check of every canary), and a kernel called either
 * through a program on the runtime's threads or thread by thread in turn.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { KERNELS } from '../../../src/backends/wasm/generated/kernels.js';
import { Program, type KernelArgs } from '../../../src/backends/wasm/program.js';
import { relaxedSimdAvailable, type KernelName } from '../../../src/backends/wasm/module.js';
import { WasmRuntime } from '../../../src/backends/wasm/runtime.js';

/** Words of canary on each side of a tensor. */
const GUARD = 16;
/** A NaN whose payload no kernel makes (poison is the default NaN, 0x7fc00000). */
const CANARY = 0x7fc0dead;

export class Arena {
  private readonly blocks: Array<{ ptr: number; n: number }> = [];

  constructor(readonly rt: WasmRuntime) {}

  /** A tensor holding `data`, or `n` NaNs (poison). Returns its byte pointer. */
  tensor(data: ArrayLike<number> | number, ints = false): number {
    const n = typeof data === 'number' ? data : data.length;
    const base = this.rt.heap.alloc(n + 2 * GUARD);
    const words = this.rt.heap.i32(base, n + 2 * GUARD);
    words.fill(CANARY);
    const ptr = base + 4 * GUARD;
    if (typeof data === 'number') this.rt.heap.f32(ptr, n).fill(NaN);
    else if (ints) this.rt.heap.i32(ptr, n).set(data);
    else this.rt.heap.f32(ptr, n).set(data);
    this.blocks.push({ ptr, n });
    return ptr;
  }

  read(ptr: number, n: number): Float32Array {
    return this.rt.heap.read(ptr, n);
  }

  /** Every canary still in place. */
  checkCanaries(): void {
    for (const { ptr, n } of this.blocks) {
      const before = this.rt.heap.i32(ptr - 4 * GUARD, GUARD);
      const after = this.rt.heap.i32(ptr + 4 * n, GUARD);
      for (let i = 0; i < GUARD; i++) {
        if (before[i] !== CANARY || after[i] !== CANARY) expect.fail(`canary overwritten around the tensor at ${ptr} (${n} floats): ${before[i] !== CANARY ? 'before' : 'after'} it, word ${i}`);
      }
    }
  }

  release(): void {
    for (const { ptr } of this.blocks) this.rt.heap.release(ptr - 4 * GUARD);
    this.blocks.length = 0;
  }
}

/** Run one kernel through a program on all of the runtime's threads, then check the canaries. */
export function runKernel<K extends KernelName>(arena: Arena, name: K, args: KernelArgs<K>): void {
  const program = new Program().add(name, args).encode(arena.rt.heap);
  try {
    arena.rt.run(program);
  } finally {
    arena.rt.heap.release(program.ptr);
  }
  arena.checkCanaries();
}

/** Call one kernel's export as thread 0 … threads−1 in turn (its shares must cover the work), then check the canaries. */
export function runShares<K extends KernelName>(arena: Arena, name: K, args: KernelArgs<K>, threads: number): void {
  const values = KERNELS[name].params.map(([p]) => (args as Record<string, number>)[p]);
  for (let t = 0; t < threads; t++) (arena.rt.kernels[name] as (...a: number[]) => void)(...values, t, threads);
  arena.checkCanaries();
}


/** Runtimes the kernel tests run on: one thread and (with a pool of workers) two, plain SIMD and, where this runtime validates it, relaxed. */
export async function testRuntimes(): Promise<WasmRuntime[]> {
  const out = [await WasmRuntime.create({ threads: 1, simd: 'plain' }), await WasmRuntime.create({ threads: 2, simd: 'plain' })];
  // Node 20 runs relaxed SIMD with this flag (vitest.config.ts passes it): then it must be tested.
  if (process.execArgv.includes('--experimental-wasm-relaxed-simd')) expect(relaxedSimdAvailable(), 'relaxed SIMD validates').toBe(true);
  if (relaxedSimdAvailable()) out.push(await WasmRuntime.create({ threads: 2, simd: 'relaxed' }));
  return out;
}

/** The test runtimes of a file: made before its tests, destroyed after; the array fills in beforeAll. */
export function useTestRuntimes(): WasmRuntime[] {
  const runtimes: WasmRuntime[] = [];
  beforeAll(async () => {
    runtimes.push(...(await testRuntimes()));
  });
  afterAll(() => runtimes.forEach((r) => r.destroy()));
  return runtimes;
}

export const describeRuntime = (rt: WasmRuntime): string => `${rt.simd} SIMD, ${rt.threads} thread${rt.threads > 1 ? 's' : ''}`;
