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
  /** Each record's kernel and first word. */
  private readonly records: Array<{ name: KernelName; start: number }> = [];
  /** Records so far. */
  count = 0;

  add<K extends KernelName>(name: K, args: KernelArgs<K>): this {
    const k = KERNELS[name];
    this.records.push({ name, start: this.words.length });
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

  /** The records written into a fresh heap block: its pointer and record count, and how to change a record's arguments later. */
  encode(heap: WasmHeap): EncodedProgram {
    const ptr = heap.alloc(this.words.length);
    const ints = heap.i32(ptr, this.words.length);
    const fl = heap.f32(ptr, this.words.length);
    this.words.forEach((w, i) => {
      if (this.floats[i]) fl[i] = w;
      else ints[i] = w;
    });
    const records = this.records.slice();
    return {
      ptr,
      count: this.count,
      patch<K extends KernelName>(record: number, args: Partial<KernelArgs<K>>): void {
        const { name, start } = records[record];
        const params = KERNELS[name].params as ReadonlyArray<readonly [string, string]>;
        for (const [param, v] of Object.entries(args as Record<string, number>)) {
          const i = params.findIndex(([p]) => p === param);
          if (i < 0 || !Number.isFinite(v)) throw new Error(`program: ${name}.${param} = ${v}`);
          if (params[i][1] === 'f32') heap.f32(ptr + 4 * (start + 1 + i), 1)[0] = v;
          else heap.i32(ptr + 4 * (start + 1 + i), 1)[0] = v;
        }
      },
    };
  }
}

export interface EncodedProgram {
  ptr: number;
  count: number;
  /** Change some arguments of record `record` (its index in the order added). */
  patch<K extends KernelName>(record: number, args: Partial<KernelArgs<K>>): void;
}
