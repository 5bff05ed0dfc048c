/**
 * Which backend `createEngine({ backend: 'auto' })` takes (decision D10): WebGPU on a hardware
 * adapter; the wasm backend where there is no adapter, or only a software one (SwiftShader and
 * other fallback adapters run WebGPU on the CPU, slower than the wasm kernels on the same cores).
 */

/** What the choice looks at: the adapter found (null: none) and whether wasm SIMD runs here. */
export interface BackendFacts {
  adapter: { software: boolean; description: string } | null;
  /** Why there is no adapter, where there is none. */
  noAdapter?: string;
  wasm: boolean;
}

export interface BackendChoice {
  backend: 'webgpu' | 'wasm';
  reason: string;
}

/** The backend for `facts`, and why; null where neither can run (the caller reports the WebGPU failure). */
export function chooseBackend(facts: BackendFacts): BackendChoice | null {
  const { adapter, wasm } = facts;
  if (adapter && !adapter.software) return { backend: 'webgpu', reason: `a hardware WebGPU adapter (${adapter.description})` };
  if (!wasm) return adapter ? { backend: 'webgpu', reason: `a software WebGPU adapter (${adapter.description}), and no WebAssembly SIMD here` } : null;
  if (adapter) return { backend: 'wasm', reason: `the WebGPU adapter is a software one (${adapter.description}); the wasm kernels are faster on the same CPU (decision D10)` };
  return { backend: 'wasm', reason: `no WebGPU adapter${facts.noAdapter ? ` (${facts.noAdapter})` : ''}` };
}
