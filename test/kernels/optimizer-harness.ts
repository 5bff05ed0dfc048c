/** Runs an optimizer update kernel for a few steps and compares with its float64 reference. */
import { createUniformBuffer } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import type { Kernel } from '../../src/kernels/kernel.js';
import { UPDATE_WORKGROUP } from '../../src/kernels/sgd-update.js';
import { expectClose } from '../helpers/compare.js';
import { download, runPass, upload } from '../helpers/gpu.js';

/**
 * `steps` updates of `param` by `kernel`; `state` names the kernel's state buffers (zeros at
 * first); `uniform(t)` gives Params of step t (1-based); `reference(t, scale, param, grad, state)`
 * does the same in float64. Each step has fresh gradients and its own clipping factor.
 */
export async function checkOptimizer(
  ctx: GpuContext,
  kernel: Kernel,
  init: Float32Array,
  grads: Float32Array[],
  scales: number[],
  state: string[],
  uniform: (t: number) => Record<string, number>,
  reference: (t: number, scale: number, param: Float64Array, grad: Float32Array, state: Float64Array[]) => void,
  label: string,
): Promise<void> {
  const n = init.length;
  const param = upload(ctx, 'param', init);
  const stateBuffers = state.map((s) => upload(ctx, s, new Float32Array(n)));
  const refParam = Float64Array.from(init);
  const refState = state.map(() => new Float64Array(n));
  const u = createUniformBuffer(ctx, 'optimizer params', 256);
  for (let t = 1; t <= grads.length; t++) {
    const grad = upload(ctx, 'grad', grads[t - 1]);
    const clip = upload(ctx, 'clip', new Float32Array([123, scales[t - 1]]));
    ctx.device.queue.writeBuffer(u, 0, kernel.params(uniform(t)));
    const buffers: Record<string, GPUBuffer> = { param, grad, clip };
    state.forEach((s, i) => (buffers[s] = stateBuffers[i]));
    await runPass(ctx, (pass) => kernel.encode(pass, kernel.bindGroup({ buffer: u }, buffers), kernel.workgroups1d(n, UPDATE_WORKGROUP), 'main', 0));
    reference(t, scales[t - 1], refParam, grads[t - 1], refState);
    grad.destroy();
    clip.destroy();
  }
  expectClose(`${label}: param`, await download(ctx, param, n), refParam);
  for (let i = 0; i < state.length; i++) expectClose(`${label}: ${state[i]}`, await download(ctx, stateBuffers[i], n), refState[i]);
  for (const b of [param, u, ...stateBuffers]) b.destroy();
}
