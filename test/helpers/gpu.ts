/** GPU buffers for kernel tests: upload, NaN-poisoned outputs, readback. */
import { createReadbackBuffer, createStorageBuffer, readFloats, writeFloats } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';

export function upload(ctx: GpuContext, label: string, data: Float32Array): GPUBuffer {
  const b = createStorageBuffer(ctx, label, data.length);
  writeFloats(ctx, b, data);
  return b;
}

/** A buffer of `n` floats, every one NaN, so that an element a kernel fails to write shows. */
export function poisoned(ctx: GpuContext, label: string, n: number): GPUBuffer {
  return upload(ctx, label, new Float32Array(n).fill(NaN));
}

export async function download(ctx: GpuContext, buffer: GPUBuffer, n: number): Promise<Float32Array> {
  const staging = createReadbackBuffer(ctx, 'test readback', n);
  const encoder = ctx.device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, n * 4);
  ctx.device.queue.submit([encoder.finish()]);
  const [out] = await readFloats(staging, [[0, n]]);
  staging.destroy();
  return out;
}

/** Run `encode` in one compute pass and wait for validation errors. */
export async function runPass(ctx: GpuContext, encode: (pass: GPUComputePassEncoder) => void): Promise<void> {
  ctx.device.pushErrorScope('validation');
  const encoder = ctx.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  encode(pass);
  pass.end();
  ctx.device.queue.submit([encoder.finish()]);
  const err = await ctx.device.popErrorScope();
  if (err) throw new Error(`GPU validation error: ${err.message}`);
}

/** Random floats U(lo, hi) from a seeded stream. */
export function randomFloats(rng: { range(lo: number, hi: number): number }, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.range(lo, hi);
  return a;
}

/** Counts of what `fn` asks the device to do: submits, buffer creations, mapAsync calls. */
export async function countDeviceCalls(device: GPUDevice, fn: () => Promise<unknown>): Promise<{ submit: number; createBuffer: number; mapAsync: number }> {
  const counts = { submit: 0, createBuffer: 0, mapAsync: 0 };
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  const createBuffer = device.createBuffer.bind(device);
  queue.submit = (buffers) => {
    counts.submit++;
    return submit(buffers);
  };
  device.createBuffer = (desc) => {
    counts.createBuffer++;
    return createBuffer(desc);
  };
  const map = Object.getPrototypeOf(createBuffer({ size: 4, usage: 1 })) as GPUBuffer;
  const mapAsync = map.mapAsync;
  map.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
    counts.mapAsync++;
    return mapAsync.apply(this, args);
  };
  try {
    await fn();
  } finally {
    queue.submit = submit;
    device.createBuffer = createBuffer;
    map.mapAsync = mapAsync;
  }
  return counts;
}
