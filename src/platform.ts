/** Facts of the JavaScript runtime that several parts read: Node or a page, and the machine's cores. */

/** Whether this is Node (not a page or a worker in a browser). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** The machine's logical CPUs, where the runtime says: navigator.hardwareConcurrency, or in Node os.availableParallelism(). */
export async function cpuThreads(): Promise<number | undefined> {
  const fromNavigator = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (typeof fromNavigator === 'number' && fromNavigator > 0) return fromNavigator;
  if (!isNode()) return undefined;
  try {
    // A computed name, so that page bundlers leave the Node module alone.
    const osName = 'node:os';
    const os = (await import(/* @vite-ignore */ osName)) as { availableParallelism?: () => number; cpus: () => unknown[] };
    const n = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Let the runtime's event loop run (a page paints and handles input; a worker takes messages)
 * and continue as a new task: scheduler.yield where it exists, otherwise a message through a
 * MessageChannel (not setTimeout, whose delay pages raise once calls nest, as the HTML standard
 * allows).
 */
export function yieldToEventLoop(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
