import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn is a native addon: separate processes rather than worker threads.
    pool: 'forks',
    maxWorkers: 2,
    // Node 20 runs WebAssembly relaxed SIMD behind a flag (later versions by default): the wasm
    // backend's relaxed build is tested here as well as its plain one.
    execArgv: process.versions.node.startsWith('20.') ? ['--experimental-wasm-relaxed-simd'] : [],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // A run that executes no test is a failure.
    passWithNoTests: false,
  },
});
