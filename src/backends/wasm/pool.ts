/**
 * Threads for the wasm backend: workers that share the engine's memory and kernels' module.
 * The calling thread is thread 0 of every program; workers 1 … n−1 wait on a sequence word
 * (spinning a while first, then sleeping), run the program the caller posted as their thread,
 * and meet the caller at the barrier after each kernel, the last of which ends the program.
 * Control words at `control` (Int32): [0] sequence (−1 stops), [1] program, [2] records,
 * [3] threads; the barrier's two words follow at control + 16.
 */
import { isNode } from '../../platform.js';

/** Polls of the sequence word before a worker sleeps. */
const WORKER_SPINS = 200000;

// The worker's code, as a string so that no bundler has a file to find; it runs in Node
// (worker_threads, eval) and in a page (a classic worker from a Blob).
const WORKER = `
function start(init, ready) {
  const { module, memory, thread, control } = init;
  const run = new WebAssembly.Instance(module, { env: { memory } }).exports.run;
  const ctl = new Int32Array(memory.buffer, control, 4);
  ready();
  let seen = 0;
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctl, 0) === seen) if (++spins > ${WORKER_SPINS}) Atomics.wait(ctl, 0, seen);
    seen = Atomics.load(ctl, 0);
    if (seen < 0) return;
    run(ctl[1], ctl[2], thread, ctl[3], control + 16, 1);
  }
}
if (typeof process === 'object' && process.versions && process.versions.node) {
  // Node: CommonJS or ES module alike (the eval'd code follows the parent's --input-type).
  const { parentPort } = process.getBuiltinModule('node:worker_threads');
  parentPort.once('message', (init) => start(init, () => parentPort.postMessage('ready')));
} else {
  self.onmessage = (e) => start(e.data, () => self.postMessage('ready'));
}
`;

interface AnyWorker {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

export class ThreadPool {
  private constructor(
    private readonly workers: AnyWorker[],
    private readonly ctl: Int32Array,
  ) {}

  /** Start `threads − 1` workers on `memory` (shared) and `module`; resolves once each has instantiated it. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, control: number, threads: number): Promise<ThreadPool> {
    const ctl = new Int32Array(memory.buffer, control, 8);
    ctl.fill(0);
    const workers: AnyWorker[] = [];
    try {
      const ready: Promise<void>[] = [];
      for (let thread = 1; thread < threads; thread++) {
        const { worker, started } = await spawn();
        workers.push(worker);
        worker.postMessage({ module, memory, thread, control });
        ready.push(started);
      }
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) void w.terminate();
      throw e;
    }
    return new ThreadPool(workers, ctl);
  }

  /** Post a program to the workers; the caller then runs it as thread 0. */
  post(program: number, count: number, threads: number): void {
    Atomics.store(this.ctl, 1, program);
    Atomics.store(this.ctl, 2, count);
    Atomics.store(this.ctl, 3, threads);
    Atomics.add(this.ctl, 0, 1);
    Atomics.notify(this.ctl, 0);
  }

  stop(): void {
    Atomics.store(this.ctl, 0, -1);
    Atomics.notify(this.ctl, 0);
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}

/** A worker running WORKER, and a promise of its 'ready'. */
async function spawn(): Promise<{ worker: AnyWorker; started: Promise<void> }> {
  if (typeof Worker === 'function' && typeof Blob === 'function' && typeof URL?.createObjectURL === 'function' && !isNode()) {
    const url = URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' }));
    const worker = new Worker(url);
    URL.revokeObjectURL(url);
    const started = new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (e) => reject(new Error(`wasm worker: ${e.message}`));
    });
    return { worker, started };
  }
  const name = 'node:worker_threads';
  const { Worker: NodeWorker } = (await import(/* @vite-ignore */ name)) as { Worker: new (code: string, o: { eval: boolean }) => NodeWorkerLike };
  const worker = new NodeWorker(WORKER, { eval: true });
  const started = new Promise<void>((resolve, reject) => {
    worker.once('message', () => {
      // Once started, a pool that is never stopped must not keep Node running.
      worker.unref();
      resolve();
    });
    worker.once('error', reject);
  });
  return { worker, started };
}

/** Whether this thread may block in Atomics.wait (not a page's main thread). */
export function canSleep(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether workers can share a memory here: SharedArrayBuffer (a cross-origin-isolated page, or Node) and workers. */
export function threadsAvailable(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  return typeof Worker === 'function' || isNode();
}

/** What the pool uses of a Node worker. */
interface NodeWorkerLike extends AnyWorker {
  once(event: 'message' | 'error', listener: (value: unknown) => void): void;
  unref(): void;
}
