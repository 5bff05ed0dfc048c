/** The wasm backend: models whose parameters and passes live in one WebAssembly memory, run on its threads. */
import type { ModelBackend, ModelExecution } from '../../model/backend.js';
import type { ModelSpec } from '../../spec/spec.js';
import { WasmModel } from './model.js';
import { WasmRuntime, type WasmRuntimeOptions } from './runtime.js';

export type { WasmRuntimeOptions };

export class WasmBackend implements ModelBackend {
  readonly name = 'wasm';

  private constructor(readonly runtime: WasmRuntime) {}

  static async create(options: WasmRuntimeOptions): Promise<WasmBackend> {
    return new WasmBackend(await WasmRuntime.create(options));
  }

  createModel(spec: ModelSpec): ModelExecution {
    return new WasmModel(this.runtime, spec);
  }

  /** Live heap blocks and their bytes, and the memory's size. */
  get memory(): { buffers: number; bytes: number; reserved: number } {
    const { blocks, bytes } = this.runtime.heap.stats;
    return { buffers: blocks, bytes, reserved: this.runtime.heap.reserved };
  }

  destroy(): void {
    this.runtime.destroy();
  }
}
