/**
 * The wasm backend's runtime for one engine: one memory and its heap, the kernels instantiated
 * on it, and the threads that run programs on it.
 */
import { WasmHeap, MAX_PAGES } from './memory.js';
import { compileKernels, instantiateKernels, relaxedSimdAvailable, simdAvailable, type KernelExports, type SimdKind } from './module.js';
import { canSleep, ThreadPool, threadsAvailable } from './pool.js';
import type { EncodedProgram } from './program.js';
import { WebRnnError } from '../../errors.js';
import { cpuThreads, isNode } from '../../platform.js';

export interface WasmRuntimeOptions {
  /** Threads, including the caller's; default the machine's cores where threads are available, else 1. */
  threads?: number;
  /** 'auto' (default): relaxed SIMD where the runtime validates it. */
  simd?: SimdKind | 'auto';
}

export class WasmRuntime {
  private pool: ThreadPool | null;
  private destroyed = false;

  private constructor(
    readonly heap: WasmHeap,
    readonly kernels: KernelExports,
    readonly threads: number,
    readonly simd: SimdKind,
    /** Why the thread count is what it is. */
    readonly threadNote: string,
    pool: ThreadPool | null,
    /** Control words of the pool (sequence, program, records, threads, barrier). */
    private readonly control: number,
    private readonly sleep: number,
  ) {
    this.pool = pool;
  }

  static async create(options: WasmRuntimeOptions = {}): Promise<WasmRuntime> {
    if (!simdAvailable()) throw new WebRnnError('invalid-option', 'wasm backend: this runtime has no WebAssembly 128-bit SIMD');
    const want = options.simd ?? 'auto';
    const simd: SimdKind = want === 'auto' ? (relaxedSimdAvailable() ? 'relaxed' : 'plain') : want;
    if (simd === 'relaxed' && !relaxedSimdAvailable()) throw new WebRnnError('invalid-option', "wasm backend: simd 'relaxed' asked, but this runtime does not validate relaxed SIMD");
    const machine = (await cpuThreads()) ?? 1;
    let threads = options.threads ?? machine;
    let note = options.threads === undefined ? `the machine's ${machine} cores` : 'as asked';
    if (threads > 1 && !threadsAvailable()) {
      threads = 1;
      note = 'no SharedArrayBuffer here (a page must be cross-origin isolated for threads)';
    }
    const shared = threads > 1;
    const memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor);
    const module = await compileKernels(simd, shared);
    const kernels = await instantiateKernels(module, memory);
    const heap = new WasmHeap(memory);
    const control = heap.alloc(8);
    heap.i32(control, 8).fill(0);
    const pool = shared ? await ThreadPool.start(module, memory, control, threads) : null;
    return new WasmRuntime(heap, kernels, threads, simd, note, pool, control, shared && canSleep() ? 1 : 0);
  }

  /** Run a program on every thread; returns when all have finished it. */
  run(program: EncodedProgram): void {
    if (this.destroyed) throw new WebRnnError('destroyed', 'wasm backend: the engine has been destroyed');
    if (program.count === 0) return;
    if (this.pool) this.pool.post(program.ptr, program.count, this.threads);
    this.kernels.run(program.ptr, program.count, 0, this.threads, this.control + 16, this.sleep);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool?.stop();
    this.pool = null;
  }
}
