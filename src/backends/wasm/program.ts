/**
 * Programs: the wasm backend's command buffers. A plan records its kernels once, with every
 * pointer and size, as records of 4-byte words [kernel number, arguments…] in the order of each
 * kernel's parameters (generated/kernels.ts, read from the AssemblyScript signatures, so the
 * layout is declared once); generated/entry.ts `run` interprets them, every thread taking its
 * share of each kernel and a barrier after each.
 */
import { KERNELS } from './generated/kernels.js';
import type { KernelName } from './module.js';
import type { WasmHeap } from './memory.js';

type Params<K extends KernelName> = (typeof KERNELS)[K]['params'][number][0];
/** A kernel's arguments by parameter name: pointers (byte offsets, 0 for none), sizes and floats. */
export type KernelArgs<K extends KernelName> = { [P in Params<K>]: number };

export class Program {
  private readonly words: number[] = [];
  private readonly floats: boolean[] = [];
  /** Records so far. */
  count = 0;

  add<K extends KernelName>(name: K, args: KernelArgs<K>): this {
    const k = KERNELS[name];
    this.words.push(k.op);
    this.floats.push(false);
    for (const [param, type] of k.params) {
      const v = (args as Record<string, number>)[param];
      if (v === undefined || !Number.isFinite(v)) throw new Error(`program: ${name}.${param} is ${v}`);
      this.words.push(v);
      this.floats.push(type === 'f32');
    }
    this.count++;
    return this;
  }

  /** The records written into a fresh heap block: its pointer and record count. */
  encode(heap: WasmHeap): EncodedProgram {
    const ptr = heap.alloc(this.words.length);
    const ints = heap.i32(ptr, this.words.length);
    const fl = heap.f32(ptr, this.words.length);
    this.words.forEach((w, i) => {
      if (this.floats[i]) fl[i] = w;
      else ints[i] = w;
    });
    return { ptr, count: this.count };
  }
}

export interface EncodedProgram {
  ptr: number;
  count: number;
}
