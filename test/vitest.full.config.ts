import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// The exhaustive matrix (test/kernels/coverage.ts): every kernel case, run before a kernel change lands.
export default mergeConfig(base, defineConfig({ test: { env: { WEBRNN_TEST_FULL: '1' } } }));
