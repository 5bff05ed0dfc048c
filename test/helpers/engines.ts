/**
 * Engines for the tests. The model-level tests run on both backends: vitest.config.ts runs
 * their files once per backend (projects 'webgpu' and 'wasm'), and `testEngine` makes the
 * engine of the project's backend. Tests of GPU-only matters ask for `gpuEngine`.
 */
import { createEngine, type Engine, type EngineOptions, type WebGpuEngineInfo } from '../../src/engine.js';

export type TestBackend = 'webgpu' | 'wasm';

/** The backend of this test project (WEBRNN_TEST_BACKEND, set by vitest.config.ts; default webgpu). */
export const TEST_BACKEND: TestBackend = process.env.WEBRNN_TEST_BACKEND === 'wasm' ? 'wasm' : 'webgpu';

/** An engine on this project's backend. */
export async function testEngine(options: EngineOptions = {}): Promise<Engine> {
  const engine = await createEngine({ ...options, backend: TEST_BACKEND });
  if (engine.info.backend !== TEST_BACKEND) throw new Error(`asked for ${TEST_BACKEND}, got ${engine.info.backend}`);
  return engine;
}

/** An engine on WebGPU, its info typed as an adapter's. */
export async function gpuEngine(options: EngineOptions = {}): Promise<Engine & { readonly info: WebGpuEngineInfo }> {
  return (await createEngine({ ...options, backend: 'webgpu' })) as Engine & { readonly info: WebGpuEngineInfo };
}
