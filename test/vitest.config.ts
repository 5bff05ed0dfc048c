import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

/**
 * The model-level tests: whole models through the public API, run once per backend: project
 * 'all' runs every file (on WebGPU), project 'wasm' these again on the wasm backend (it
 * sets WEBRNN_TEST_BACKEND, which test/helpers/engines.ts reads).
 */
export const MODEL_LEVEL = ['test/model/!(memory).test.ts', 'test/train/*.test.ts', 'test/io/*.test.ts', 'test/analysis/*.test.ts', 'test/remote/*.test.ts'];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
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
    projects: [
      { extends: true, test: { name: 'all', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'wasm', include: MODEL_LEVEL, env: { WEBRNN_TEST_BACKEND: 'wasm' } } },
    ],
  },
});
