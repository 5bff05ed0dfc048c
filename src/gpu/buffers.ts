/**
 * Buffer creation with the device's size limits checked first (a clear LimitError instead of
 * a validation error from the driver), and single-copy readback. Every GPU buffer of webrnn is
 * made here, and counted by its context until destroyed (`engine.memory`).
 */
import { LimitError } from '../errors.js';
import { BufferUsage, MapMode } from './constants.js';
import type { GpuContext } from './device.js';

/** Byte size rounded up to WebGPU's 4-byte copy granularity, and at least 4. */
export function alignedSize(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/** Throw a LimitError when a storage binding of `bytes` bytes does not fit the device. */
export function checkStorageSize(ctx: GpuContext, bytes: number, what: string): void {
  if (bytes > ctx.limits.maxStorageBufferBindingSize) {
    throw new LimitError('maxStorageBufferBindingSize', bytes, ctx.limits.maxStorageBufferBindingSize, `${what} (bytes)`);
  }
  if (bytes > ctx.limits.maxBufferSize) {
    throw new LimitError('maxBufferSize', bytes, ctx.limits.maxBufferSize, `${what} (bytes)`);
  }
}

/** A storage buffer of `floats` f32 elements that can also be written, copied and read back. */
export function createStorageBuffer(ctx: GpuContext, label: string, floats: number): GPUBuffer {
  const bytes = alignedSize(floats * 4);
  checkStorageSize(ctx, bytes, label);
  const buffer = ctx.device.createBuffer({
    label,
    size: bytes,
    usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
  });
  return ctx.track(buffer, bytes);
}

export function createUniformBuffer(ctx: GpuContext, label: string, bytes: number): GPUBuffer {
  const size = alignedSize(bytes);
  if (size > ctx.limits.maxBufferSize) throw new LimitError('maxBufferSize', size, ctx.limits.maxBufferSize, `${label} (bytes)`);
  return ctx.track(ctx.device.createBuffer({ label, size, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST }), size);
}

export function createReadbackBuffer(ctx: GpuContext, label: string, floats: number): GPUBuffer {
  const size = alignedSize(floats * 4);
  if (size > ctx.limits.maxBufferSize) throw new LimitError('maxBufferSize', size, ctx.limits.maxBufferSize, `${label} (bytes)`);
  return ctx.track(ctx.device.createBuffer({ label, size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }), size);
}

/** Write a Float32Array (or its first `count` elements) to the start of `buffer` at `offsetFloats`. */
export function writeFloats(ctx: GpuContext, buffer: GPUBuffer, data: Float32Array, offsetFloats = 0): void {
  if (data.length === 0) return;
  ctx.device.queue.writeBuffer(buffer, offsetFloats * 4, data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Map a readback buffer, copy `parts` out of it ([offset, length] in floats) and unmap.
 * The caller has already submitted the copies into it.
 */
export async function readFloats(buffer: GPUBuffer, parts: ReadonlyArray<readonly [number, number]>): Promise<Float32Array[]> {
  await buffer.mapAsync(MapMode.READ);
  try {
    const all = new Float32Array(buffer.getMappedRange());
    return parts.map(([offset, length]) => all.slice(offset, offset + length));
  } finally {
    buffer.unmap();
  }
}
