/**
 * What the adapter itself can do, measured with webrnn's own kernels: the rate of the GEMM
 * kernel on square products, the cost of one dispatch inside a compute pass, of a submit with
 * a readback, and copy bandwidth. The benchmark prints them next to the models' figures so that
 * the gap between a recurrent pass and the adapter's limit is visible.
 *
 * Times are wall-clock medians of several runs, each ended by a readback (mapAsync), so they
 * hold everything a caller waits for. Per-dispatch and per-GEMM costs come from the difference
 * of two run lengths (n and 2n operations in one submit), which cancels the fixed cost of the
 * submit and the readback.
 */
import { createReadbackBuffer, createStorageBuffer, createUniformBuffer, readFloats } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { MatmulKernel, type MatmulTiles } from '../kernels/matmul.js';

/** Options of {@link measureCeilings}. */
export interface CeilingOptions {
  /** Square GEMM sizes n (n×n times n×n). Default [1024, 2048]. */
  gemmSizes?: number[];
  /** Timed runs per figure; the median is reported. Default 5. */
  runs?: number;
  /** Bytes copied per copy run. Default 64 MiB (less where the device's maxBufferSize is smaller). */
  copyBytes?: number;
  /** The GEMM kernel's tiles (default: the ones the models use). */
  tiles?: MatmulTiles;
}

/** The adapter's ceilings as webrnn's kernels see them. */
export interface Ceilings {
  backend: 'webgpu';
  /** Per size: milliseconds of one n³ GEMM and its rate (2n³ flops). */
  gemm: Array<{ n: number; ms: number; gflops: number }>;
  /** Milliseconds per extra dispatch inside one compute pass (a tiny kernel). */
  dispatchMs: number;
  /** Milliseconds of an (almost) empty submit plus a 4-byte readback. */
  submitReadbackMs: number;
  /** Device-to-device copy bandwidth in GB/s (bytes read plus bytes written, ÷ 1e9). */
  copyGBps: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Measure the ceilings on `ctx`'s device. Takes seconds on a software adapter (2048³ GEMM). */
export async function measureCeilings(ctx: GpuContext, options: CeilingOptions = {}): Promise<Ceilings> {
  const runs = options.runs ?? 5;
  const sizes = options.gemmSizes ?? [1024, 2048];
  const matmul = await MatmulKernel.create(ctx, options.tiles);
  // The GEMM models run: on a software adapter with subgroups, the slab variant (which takes
  // these squares) once it has compiled.
  await matmul.whenSlabReady();
  const device = ctx.device;
  const made: GPUBuffer[] = [];
  const storage = (label: string, floats: number): GPUBuffer => {
    const b = createStorageBuffer(ctx, label, floats);
    made.push(b);
    return b;
  };
  const staging = createReadbackBuffer(ctx, 'webrnn ceilings readback', 1);
  made.push(staging);
  // One submit: `record` fills a command encoder, then a 4-byte copy out of `last` and a readback.
  const timeSubmit = async (record: (encoder: GPUCommandEncoder) => void, last: GPUBuffer): Promise<number> => {
    const start = performance.now();
    const encoder = device.createCommandEncoder({ label: 'webrnn ceilings' });
    record(encoder);
    encoder.copyBufferToBuffer(last, 0, staging, 0, 4);
    device.queue.submit([encoder.finish()]);
    await readFloats(staging, [[0, 1]]);
    return performance.now() - start;
  };
  // One untimed call first (pipeline compilation, first touch of the buffers), unless `warm`.
  const medianOf = async (fn: () => Promise<number>, warm = false): Promise<number> => {
    if (!warm) await fn();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await fn());
    return median(times);
  };
  try {
    const gemm: Ceilings['gemm'] = [];
    for (const [index, n] of sizes.entries()) {
      const a = storage(`ceiling A ${n}²`, n * n);
      const b = storage(`ceiling B ${n}²`, n * n);
      const c = storage(`ceiling C ${n}²`, n * n);
      const uniform = createUniformBuffer(ctx, 'ceiling gemm uniform', MatmulKernel.uniformLayout.size);
      made.push(uniform);
      const shape = { M: n, N: n, K: n };
      device.queue.writeBuffer(uniform, 0, matmul.params(shape));
      const bindGroup = matmul.bindGroup({ uniform, a, b, bias: a, c }, shape);
      const workgroups = matmul.dispatch(shape);
      // One GEMM per submit: at these sizes the fixed cost of a submit is noise.
      const ms = await medianOf(() =>
        timeSubmit((encoder) => {
          const pass = encoder.beginComputePass();
          matmul.encode(pass, bindGroup, workgroups);
          pass.end();
        }, c),
        // After the first size the pipeline is compiled: a warm-up 2048³ GEMM would only cost
        // seconds on a software adapter.
        index > 0,
      );
      gemm.push({ n, ms, gflops: (2 * n ** 3) / (ms * 1e6) });
      a.destroy();
      b.destroy();
      c.destroy();
    }

    // Dispatch cost: a 1×1×1-workgroup GEMM (4×4) repeated k and 2k times in one pass.
    const tinyA = storage('ceiling tiny', 16);
    const tinyU = createUniformBuffer(ctx, 'ceiling tiny uniform', MatmulKernel.uniformLayout.size);
    made.push(tinyU);
    const tiny = { M: 4, N: 4, K: 4 };
    device.queue.writeBuffer(tinyU, 0, matmul.params(tiny));
    const tinyGroup = matmul.bindGroup({ uniform: tinyU, a: tinyA, b: tinyA, bias: tinyA, c: storage('ceiling tiny C', 16) }, tiny);
    const tinyWork = matmul.workgroups(tiny);
    const dispatches = (k: number) => (encoder: GPUCommandEncoder) => {
      const pass = encoder.beginComputePass();
      for (let i = 0; i < k; i++) matmul.encode(pass, tinyGroup, tinyWork);
      pass.end();
    };
    const k = 200;
    const one = await medianOf(() => timeSubmit(dispatches(k), tinyA));
    const two = await medianOf(() => timeSubmit(dispatches(2 * k), tinyA));
    const dispatchMs = Math.max(0, (two - one) / k);
    const submitReadbackMs = await medianOf(() => timeSubmit(() => {}, tinyA));

    // Copy bandwidth: one large buffer-to-buffer copy.
    const bytes = Math.min(options.copyBytes ?? 64 * 2 ** 20, ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);
    const src = storage('ceiling copy source', bytes / 4);
    const dst = storage('ceiling copy target', bytes / 4);
    const copyOnce = await medianOf(() => timeSubmit((encoder) => encoder.copyBufferToBuffer(src, 0, dst, 0, bytes), dst));
    const copyGBps = (2 * bytes) / (Math.max(1e-6, copyOnce - submitReadbackMs) * 1e6);
    return { backend: 'webgpu', gemm, dispatchMs, submitReadbackMs, copyGBps };
  } finally {
    for (const b of made) b.destroy();
  }
}
