/**
 * The wasm backend's one linear memory and its heap: every tensor of every model on an engine
 * lives here, at a byte offset handed out by {@link WasmHeap.alloc}. The first 64 KiB hold the
 * kernels' static data (build.mjs checks that it ends there); blocks are 16-byte aligned so a
 * kernel's vector loads at a block's start are aligned. Views are made afresh on each use,
 * over the buffer as of the last growth (only this heap grows the memory; reading
 * `memory.buffer` of a shared memory makes a new object each time, which costs microseconds).
 */
import { WebRnnError } from '../../errors.js';

const PAGE = 65536;
/** Where the heap starts: the static data lies below. */
const HEAP_BASE = 65536;
/** The most pages the kernels' modules accept (build.mjs's --maximumMemory): 4 GiB. */
export const MAX_PAGES = 65536;

export class WasmHeap {
  /** Free blocks [start, end), sorted by start, none adjacent. */
  private free: Array<[number, number]> = [];
  /** Live blocks: start -> size in bytes. */
  private readonly live = new Map<number, number>();
  private top = HEAP_BASE;
  private usedBytes = 0;
  /** The memory's buffer since the last growth. */
  private buf: ArrayBufferLike;

  constructor(readonly memory: WebAssembly.Memory) {
    this.buf = memory.buffer;
  }

  /** The memory's buffer (for views of other types). */
  get buffer(): ArrayBufferLike {
    return this.buf;
  }

  /** A block of `floats` 4-byte words (at least one), 16-byte aligned; its content is whatever was there. */
  alloc(floats: number): number {
    const size = Math.max(16, Math.ceil((Math.max(1, floats) * 4) / 16) * 16);
    let at = -1;
    for (let i = 0; i < this.free.length; i++) {
      const [s, e] = this.free[i];
      if (e - s >= size) {
        at = s;
        if (e - s === size) this.free.splice(i, 1);
        else this.free[i] = [s + size, e];
        break;
      }
    }
    if (at < 0) {
      at = this.top;
      this.grow(at + size);
      this.top = at + size;
    }
    this.live.set(at, size);
    this.usedBytes += size;
    return at;
  }

  /** Return a block to the heap (0 is ignored: the kernels read 0 as "none"). */
  release(ptr: number): void {
    if (ptr === 0) return;
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`wasm heap: ${ptr} is not a live block`);
    this.live.delete(ptr);
    this.usedBytes -= size;
    let start = ptr;
    let end = ptr + size;
    // Merge with the neighbours, then drop a block that ends at the top.
    let i = this.free.findIndex(([s]) => s > start);
    if (i < 0) i = this.free.length;
    if (i > 0 && this.free[i - 1][1] === start) {
      start = this.free[i - 1][0];
      this.free.splice(--i, 1);
    }
    if (i < this.free.length && this.free[i][0] === end) {
      end = this.free[i][1];
      this.free.splice(i, 1);
    }
    if (end === this.top) this.top = start;
    else this.free.splice(i, 0, [start, end]);
  }

  /** Live blocks and their bytes. */
  get stats(): { blocks: number; bytes: number } {
    return { blocks: this.live.size, bytes: this.usedBytes };
  }

  /** The memory's size in bytes (what the heap has grown it to). */
  get reserved(): number {
    return this.buf.byteLength;
  }

  private grow(end: number): void {
    const have = this.buf.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) throw new WebRnnError('limit', `wasm backend: ${end} bytes asked of a memory of at most ${MAX_PAGES * PAGE}`);
    try {
      this.memory.grow(pages);
      this.buf = this.memory.buffer;
    } catch (e) {
      throw new WebRnnError('limit', `wasm backend: could not grow the memory to ${end} bytes (${(e as Error).message})`);
    }
  }

  f32(ptr: number, floats: number): Float32Array {
    return new Float32Array(this.buf, ptr, floats);
  }

  i32(ptr: number, count: number): Int32Array {
    return new Int32Array(this.buf, ptr, count);
  }

  /** Copy `data` into the block at ptr. */
  write(ptr: number, data: ArrayLike<number>): void {
    this.f32(ptr, data.length).set(data);
  }

  /** A copy of `floats` floats at ptr. */
  read(ptr: number, floats: number): Float32Array {
    return this.f32(ptr, floats).slice();
  }
}
