/**
 * The kernels' compiled modules (generated/kernels.ts carries the binaries): relaxed SIMD's
 * fused multiply-add where the runtime validates it, plain SIMD otherwise; shared memory for
 * threads, unshared where there is no SharedArrayBuffer.
 */
import { BINARIES, KERNELS } from './generated/kernels.js';
import { WebRnnError } from '../../errors.js';

export type KernelName = keyof typeof KERNELS;
export type SimdKind = 'relaxed' | 'plain';

/** What an instance exports: the program interpreter and every kernel, by name. */
export type KernelExports = {
  run(program: number, count: number, thread: number, threads: number, bar: number, sleep: number): void;
} & { [K in KernelName]: (...args: number[]) => void };

function bytes(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function binary(simd: SimdKind, shared: boolean): Uint8Array<ArrayBuffer> {
  return bytes(shared ? (simd === 'relaxed' ? BINARIES.relaxedShared : BINARIES.plainShared) : simd === 'relaxed' ? BINARIES.relaxed : BINARIES.plain);
}

let relaxed: boolean | undefined;

/** Whether this runtime runs relaxed SIMD (it validates the relaxed build). */
export function relaxedSimdAvailable(): boolean {
  relaxed ??= WebAssembly.validate(binary('relaxed', false));
  return relaxed;
}

/** Whether this runtime runs 128-bit SIMD at all (it validates the plain build). */
export function simdAvailable(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(binary('plain', false));
}

const modules = new Map<string, Promise<WebAssembly.Module>>();

export function compileKernels(simd: SimdKind, shared: boolean): Promise<WebAssembly.Module> {
  const key = `${simd}/${shared}`;
  let m = modules.get(key);
  if (!m) {
    m = WebAssembly.compile(binary(simd, shared)).catch((e: Error) => {
      modules.delete(key);
      throw new WebRnnError('invalid-option', `wasm backend: the ${simd} SIMD kernels do not compile here (${e.message})`);
    });
    modules.set(key, m);
  }
  return m;
}

export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<KernelExports> {
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
