// The barrier between a program's kernels. generated/entry.ts (written by build.mjs) runs a
// program, built by program.ts on the TypeScript side: every thread runs every kernel on its
// share, and after each kernel all wait here for the last to arrive.
// bar: two i32 words, [0] the number arrived, [1] the generation (bumped by the last to arrive).

/** Spins before a thread sleeps in the barrier: a step's work is often shorter than a wake-up. */
const SPINS = 20000;

/** Wait for every thread; `sleep` 0 for a thread that may only spin (a page's main thread). */
export function barrier(bar: usize, threads: i32, sleep: i32): void {
  const generation = atomic.load<i32>(bar, 4);
  if (atomic.add<i32>(bar, 1) == threads - 1) {
    atomic.store<i32>(bar, 0);
    atomic.store<i32>(bar, generation + 1, 4);
    atomic.notify(bar + 4, -1);
    return;
  }
  let spins = 0;
  while (atomic.load<i32>(bar, 4) == generation) {
    if (sleep && ++spins > SPINS) atomic.wait<i32>(bar + 4, generation, -1);
  }
}
