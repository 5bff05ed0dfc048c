/**
 * Adapter discovery and the watching of the device: uncaptured errors and device loss are
 * reported and fail the next call; no adapter gives an error listing every attempt.
 */
import { describe, expect, it, vi } from 'vitest';
import { createEngine } from '../../src/engine.js';
import { gpuEngine } from '../helpers/engines.js';
import { existsSync } from 'node:fs';
import { GpuError, GpuUnavailableError } from '../../src/errors.js';
import { browserReason, GpuContext, SWIFTSHADER_ICD_PATHS } from '../../src/gpu/device.js';
import { BufferUsage } from '../../src/gpu/constants.js';

describe('why a page has no WebGPU, in words for its visitor', () => {
  const g = globalThis as { isSecureContext?: boolean; location?: unknown };
  function withPage<T>(secure: boolean, fn: () => T): T {
    const saved = { isSecureContext: g.isSecureContext, location: g.location };
    g.isSecureContext = secure;
    g.location = { origin: 'http://192.0.2.7:8080' };
    try {
      return fn();
    } finally {
      g.isSecureContext = saved.isSecureContext;
      g.location = saved.location;
    }
  }

  it('names the secure-context rule on a plain-http page, and never gives apt or Vulkan advice', () => {
    const reason = withPage(false, () => browserReason({}));
    expect(reason).toMatch(/secure context/);
    expect(reason).toContain('http://192.0.2.7:8080');
    expect(reason).toMatch(/https|localhost/);
    for (const r of [reason, withPage(true, () => browserReason({})), withPage(true, () => browserReason({ gpu: {} as GPU }))]) {
      expect(r).not.toMatch(/apt-get|\bapt\b|Vulkan|VK_ICD/);
    }
  });

  it('on a secure page says WebGPU is missing, or that the browser offers no adapter', () => {
    expect(withPage(true, () => browserReason({}))).toMatch(/no WebGPU, or it is turned off/);
    expect(withPage(true, () => browserReason({ gpu: {} as GPU }))).toMatch(/offers no WebGPU adapter/);
  });
});

describe('createEngine', () => {
  it('names unknown options', async () => {
    await expect(createEngine({ powerPrefrence: 'low-power' } as never)).rejects.toThrow(/createEngine: unknown option 'powerPrefrence'/);
  });

  it('finds an adapter and says which', async () => {
    const engine = await gpuEngine();
    expect(engine.info.runtime).toBe('node');
    expect(typeof engine.info.vendor).toBe('string');
    expect(typeof engine.info.software).toBe('boolean');
    // Node 20 has no navigator: the threads come from os.availableParallelism().
    const { availableParallelism } = await import('node:os');
    expect(engine.info.cpuThreads).toBe(availableParallelism());
    engine.destroy();
    engine.destroy(); // harmless twice
  });

  it('requests the subgroups feature where the adapter has it, and records the smallest subgroup', async () => {
    const ctx = await GpuContext.create();
    const { create } = await import('webgpu');
    const adapter = await create([]).requestAdapter();
    try {
      expect(adapter).not.toBeNull();
      const has = adapter!.features.has('subgroups');
      expect(ctx.device.features.has('subgroups')).toBe(has);
      expect(ctx.info.subgroupMinSize).toBe(has ? adapter!.info.subgroupMinSize : undefined);
      // SwiftShader, which the tests run on without a GPU, runs subgroups of its 4 SIMD lanes.
      if (ctx.info.software && ctx.info.architecture === 'swiftshader') expect(ctx.info.subgroupMinSize).toBe(4);
    } finally {
      ctx.destroy();
    }
  });

  it('without any usable driver fails with what it tried and how to fix it', async () => {
    const saved = process.env.VK_ICD_FILENAMES;
    const savedDrivers = process.env.VK_DRIVER_FILES;
    process.env.VK_ICD_FILENAMES = '/nonexistent/first_icd.json';
    // The loader would read this one instead of VK_ICD_FILENAMES.
    delete process.env.VK_DRIVER_FILES;
    try {
      const error = await gpuEngine({ vulkanIcdPaths: ['/nonexistent/second_icd.json'] }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GpuUnavailableError);
      const e = error as GpuUnavailableError;
      expect(e.code).toBe('gpu-unavailable');
      expect(e.tried.join('\n')).toMatch(/VK_ICD_FILENAMES=\/nonexistent\/first_icd.json: no adapter/);
      expect(e.tried.join('\n')).toMatch(/\/nonexistent\/second_icd.json: not present/);
      expect(e.message).toMatch(/apt-get install chromium libvulkan1/);
      // The caller's environment is left as it was.
      expect(process.env.VK_ICD_FILENAMES).toBe('/nonexistent/first_icd.json');
    } finally {
      restoreEnv('VK_ICD_FILENAMES', saved);
      restoreEnv('VK_DRIVER_FILES', savedDrivers);
    }
  });

  it('falls back to a driver manifest even where VK_DRIVER_FILES (which the loader reads first) names a missing one', async () => {
    // A manifest that works here: SwiftShader's, or the one the environment gave.
    const probe = await gpuEngine();
    const manifest = SWIFTSHADER_ICD_PATHS.find((p) => existsSync(p)) ?? probe.info.vulkanIcd;
    probe.destroy();
    expect(manifest, 'this test needs SwiftShader or a Vulkan driver manifest given in the environment').toBeDefined();
    const saved = process.env.VK_ICD_FILENAMES;
    const savedDrivers = process.env.VK_DRIVER_FILES;
    process.env.VK_DRIVER_FILES = '/nonexistent/driver_icd.json';
    delete process.env.VK_ICD_FILENAMES;
    try {
      const engine = await gpuEngine({ vulkanIcdPaths: [manifest!] });
      expect(engine.info.vulkanIcd).toBe(manifest);
      engine.destroy();
    } finally {
      restoreEnv('VK_ICD_FILENAMES', saved);
      restoreEnv('VK_DRIVER_FILES', savedDrivers);
    }
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

describe('device watching', () => {
  it('an uncaptured GPU error is reported and fails the next call', async () => {
    const seen: GpuError[] = [];
    const engine = await gpuEngine({ onError: (e) => seen.push(e) });
    const model = engine.lstm({ inputSize: 2, hiddenSize: 3 });
    // MAP_READ may only be combined with COPY_DST: a validation error nobody captures.
    engine.device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.STORAGE });
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 10_000 });
    expect(seen[0].code).toBe('gpu-error');
    expect(seen[0].message).toMatch(/uncaptured GPU error/);
    await expect(model.forward(new Float32Array(2), { batch: 1, seqLen: 1 })).rejects.toBe(seen[0]);
    expect(() => engine.gru({ inputSize: 1, hiddenSize: 1 })).toThrow(seen[0]);
    engine.destroy();
  });

  it('device loss is reported and fails the next call', async () => {
    const seen: GpuError[] = [];
    const engine = await gpuEngine({ onError: (e) => seen.push(e) });
    const model = engine.gru({ inputSize: 2, hiddenSize: 3 });
    await model.forward(new Float32Array(2), { batch: 1, seqLen: 1 });
    engine.device.destroy(); // as if the GPU went away
    await vi.waitFor(() => expect(seen.map((e) => e.code)).toContain('device-lost'), { timeout: 10_000 });
    await expect(model.forward(new Float32Array(2), { batch: 1, seqLen: 1 })).rejects.toMatchObject({ code: 'device-lost' });
    engine.destroy();
  });

  it('destroying the engine is not reported as a loss', async () => {
    const seen: GpuError[] = [];
    const engine = await gpuEngine({ onError: (e) => seen.push(e) });
    engine.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
  });
});
