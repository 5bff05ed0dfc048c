/**
 * Adapter and device: `navigator.gpu` in a browser, the `webgpu` package (Dawn) in Node.
 *
 * In Node a machine without a hardware Vulkan driver usually still has SwiftShader, the CPU
 * Vulkan driver that Chromium and Chrome ship. Dawn finds it through the Vulkan loader's
 * driver list, so when the first request returns no adapter we point that list at each
 * SwiftShader manifest we can find and ask again. The list is `VK_ICD_FILENAMES` or, from
 * loader 1.3.207 on, `VK_DRIVER_FILES`, which wins where both are set: we set both.
 */
import { cpuThreads, isNode } from '../platform.js';
import { GpuError, GpuUnavailableError } from '../errors.js';
import { PipelineCache } from './pipelines.js';

/** Options of {@link acquireGpu}. */
export interface GpuOptions {
  /** Use this device instead of requesting one (the caller keeps ownership of it). */
  device?: GPUDevice;
  /** Request the device from this adapter. */
  adapter?: GPUAdapter;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /**
   * Node only: Vulkan driver manifests to try, in order, when Dawn finds no adapter with the
   * environment as it is. Default: {@link SWIFTSHADER_ICD_PATHS}.
   */
  vulkanIcdPaths?: readonly string[];
  /**
   * Called with every GPU error that no operation of webrnn is waiting for (uncaptured errors
   * and device loss). Without it they are written to `console.error`; either way the next
   * operation of the engine fails with the first such error.
   */
  onError?: (error: GpuError) => void;
}

/** What adapter a context runs on. */
export interface AdapterDescription {
  /** `browser` for `navigator.gpu`, `node` for the `webgpu` package, `external` for a given device. */
  runtime: 'browser' | 'node' | 'external';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a CPU implementation (SwiftShader or an adapter that says it is a fallback). */
  software: boolean;
  /** In Node: the Vulkan driver manifest set in VK_DRIVER_FILES or VK_ICD_FILENAMES for this adapter, if any. */
  vulkanIcd?: string;
  /**
   * The machine's logical CPUs, where the runtime says (`navigator.hardwareConcurrency`, in Node
   * `os.availableParallelism()`): a software adapter runs workgroups on that many threads.
   */
  cpuThreads?: number;
  /**
   * The smallest subgroup the device runs, where it has the `subgroups` feature (the adapter's
   * `subgroupMinSize`; SwiftShader's is 4, its SIMD width); absent without the feature.
   */
  subgroupMinSize?: number;
}

/** Where Chromium, Chrome and Debian put SwiftShader's Vulkan manifest. */
export const SWIFTSHADER_ICD_PATHS: readonly string[] = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
  '/opt/google/chrome-beta/vk_swiftshader_icd.json',
  '/opt/google/chrome-unstable/vk_swiftshader_icd.json',
  '/opt/chromium.org/chromium/vk_swiftshader_icd.json',
  '/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

/** What a Node user can do without an adapter. */
const NODE_HINT =
  'To fix: install a Vulkan driver for the GPU, or on Debian/Ubuntu `apt-get install chromium libvulkan1` ' +
  '(SwiftShader, a CPU driver; webrnn finds it), or set VK_ICD_FILENAMES to a Vulkan driver manifest.';

/** How the attempt to load Dawn is listed among what was tried. */
const DAWN_IMPORT = "import the 'webgpu' package (Dawn for Node)";

/** @internal Why a page has no WebGPU, as its visitor's browser tells: a secure context first (navigator.gpu is absent without one). */
export function browserReason(nav: { gpu?: GPU } | undefined): string {
  const g = globalThis as { isSecureContext?: boolean; location?: { origin?: string } };
  if (!nav?.gpu && g.isSecureContext === false) {
    return `WebGPU needs a secure context, and this page (${g.location?.origin ?? 'its origin'}) is not one: serve it over https, or from localhost while developing.`;
  }
  if (!nav?.gpu) return 'this browser has no WebGPU, or it is turned off (Chrome and Edge have it from version 113; Firefox and Safari in recent versions).';
  return 'the browser offers no WebGPU adapter (the GPU may be blocked for WebGPU, or unavailable to this page).';
}

function describe(info: GPUAdapterInfo | undefined, runtime: AdapterDescription['runtime'], fallback: boolean): AdapterDescription {
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const text = `${vendor} ${architecture} ${device} ${description}`.toLowerCase();
  return {
    runtime,
    vendor,
    architecture,
    device,
    description,
    software: fallback || text.includes('swiftshader') || text.includes('llvmpipe') || text.includes('lavapipe'),
  };
}

interface Acquired {
  adapter: GPUAdapter | null;
  device: GPUDevice;
  runtime: AdapterDescription['runtime'];
  /** Keeps Dawn's GPU object alive as long as the device. */
  keepAlive?: unknown;
  vulkanIcd?: string;
}

async function nodeAdapter(options: GpuOptions, tried: string[]): Promise<{ adapter: GPUAdapter; gpu: GPU; icd?: string } | null> {
  type DawnModule = { create: (flags: string[]) => GPU };
  const name = 'webgpu';
  let mod: DawnModule;
  try {
    mod = (await import(/* @vite-ignore */ name)) as DawnModule;
  } catch (e) {
    tried.push(`${DAWN_IMPORT}: ${(e as Error).message}`);
    return null;
  }
  const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env;
  const request = async (label: string): Promise<{ adapter: GPUAdapter; gpu: GPU } | null> => {
    try {
      const gpu = mod.create([]);
      const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
      tried.push(`${label}: ${adapter ? 'adapter found' : 'no adapter'}`);
      return adapter ? { adapter, gpu } : null;
    } catch (e) {
      tried.push(`${label}: ${(e as Error).message}`);
      return null;
    }
  };
  // The loader reads VK_DRIVER_FILES first, VK_ICD_FILENAMES where that is unset.
  const givenDrivers = env.VK_DRIVER_FILES;
  const givenIcd = env.VK_ICD_FILENAMES;
  const given = givenDrivers ?? givenIcd;
  const givenLabel = givenDrivers !== undefined ? `VK_DRIVER_FILES=${givenDrivers}` : givenIcd !== undefined ? `VK_ICD_FILENAMES=${givenIcd}` : 'the default Vulkan drivers';
  const first = await request(`Dawn with ${givenLabel}`);
  if (first) return { ...first, icd: given };

  const fsName = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ fsName)) as { existsSync: (path: string) => boolean };
  for (const icd of options.vulkanIcdPaths ?? SWIFTSHADER_ICD_PATHS) {
    if (icd === given) continue;
    if (!existsSync(icd)) {
      tried.push(`SwiftShader manifest ${icd}: not present`);
      continue;
    }
    env.VK_ICD_FILENAMES = icd;
    env.VK_DRIVER_FILES = icd;
    const found = await request(`Dawn with VK_ICD_FILENAMES=${icd}`);
    if (found) return { ...found, icd };
  }
  // Leave the environment as the caller had it.
  for (const [name, value] of [['VK_ICD_FILENAMES', givenIcd], ['VK_DRIVER_FILES', givenDrivers]] as const) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return null;
}

async function requestDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  // Ask for the adapter's largest buffers so that long sequences and wide layers fit, and its
  // largest workgroups and workgroup memory, which the cooperative form takes where the device
  // has them (cooperativeShape, cooperativeCachesWeights); every other limit stays at its
  // default. Subgroups where the adapter has them: the resident kernels share loads across a
  // subgroup's lanes (residentLanes).
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
  };
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('subgroups') ? ['subgroups'] : [];
  return adapter.requestDevice({ label: 'webrnn', requiredLimits, requiredFeatures });
}

async function acquire(options: GpuOptions): Promise<Acquired> {
  if (options.device) return { adapter: options.adapter ?? null, device: options.device, runtime: 'external' };
  const tried: string[] = [];
  if (options.adapter) {
    return { adapter: options.adapter, device: await requestDevice(options.adapter), runtime: 'external' };
  }
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    const adapter = await nav.gpu.requestAdapter({ powerPreference: options.powerPreference });
    tried.push(`navigator.gpu.requestAdapter(): ${adapter ? 'adapter found' : 'no adapter'}`);
    if (adapter) return { adapter, device: await requestDevice(adapter), runtime: 'browser' };
  } else if (!isNode()) {
    tried.push('navigator.gpu: not present');
  }
  if (!isNode()) throw new GpuUnavailableError(`No WebGPU adapter could be found: ${browserReason(nav)}`, tried);
  const found = await nodeAdapter(options, tried);
  if (found) {
    return { adapter: found.adapter, device: await requestDevice(found.adapter), runtime: 'node', keepAlive: found.gpu, vulkanIcd: found.icd };
  }
  const noDawn = tried.some((t) => t.startsWith(DAWN_IMPORT));
  throw new GpuUnavailableError(noDawn ? "No WebGPU in this Node: the 'webgpu' package (Dawn; an optional peer dependency of webrnn) is not installed. To fix: npm install webgpu" : `No WebGPU adapter could be found. ${NODE_HINT}`, tried);
}

/**
 * The device plus everything that watches it. Operations call {@link GpuContext.check}
 * before they start, so that an uncaptured error or a lost device is reported by the next
 * call instead of vanishing.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly info: AdapterDescription;
  readonly limits: GPUSupportedLimits;
  /** Pipelines and layouts of this device, shared by every model of the engine. */
  readonly pipelines: PipelineCache;
  private readonly ownsDevice: boolean;
  private readonly keepAlive: unknown;
  private failure: GpuError | null = null;
  private destroyed = false;
  /** Buffers made by {@link track} and not destroyed yet, and their bytes. */
  private liveBuffers = 0;
  private liveBytes = 0;

  private constructor(acquired: Acquired, ownsDevice: boolean, onError: ((e: GpuError) => void) | undefined, info: AdapterDescription) {
    this.device = acquired.device;
    this.ownsDevice = ownsDevice;
    this.keepAlive = acquired.keepAlive;
    this.limits = acquired.device.limits;
    this.pipelines = new PipelineCache(acquired.device);
    this.info = info;
    const report = (error: GpuError): void => {
      if (!this.failure) this.failure = error;
      if (onError) onError(error);
      else console.error(`webrnn: ${error.message}`);
    };
    this.device.addEventListener('uncapturederror', (event: Event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      report(new GpuError('gpu-error', `uncaptured GPU error: ${e?.message ?? String(e)}`));
    });
    void this.device.lost.then((lost) => {
      if (this.destroyed && lost.reason === 'destroyed') return;
      report(new GpuError('device-lost', `GPU device lost (${lost.reason}): ${lost.message}`));
    });
  }

  /** Find an adapter and device as described in the module comment. */
  static async create(options: GpuOptions = {}): Promise<GpuContext> {
    const acquired = await acquire(options);
    const adapterInfo = acquired.adapter?.info ?? (acquired.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const info = describe(adapterInfo, acquired.runtime, adapterInfo?.isFallbackAdapter ?? false);
    if (acquired.vulkanIcd) {
      info.vulkanIcd = acquired.vulkanIcd;
      if (acquired.vulkanIcd.includes('swiftshader')) info.software = true;
    }
    const threads = await cpuThreads();
    if (threads !== undefined) info.cpuThreads = threads;
    if (acquired.device.features.has('subgroups') && adapterInfo?.subgroupMinSize !== undefined) info.subgroupMinSize = adapterInfo.subgroupMinSize;
    // A device passed in stays the caller's: destroy() leaves it alone.
    return new GpuContext(acquired, options.device === undefined, options.onError, info);
  }

  /**
   * Count `buffer` (of `bytes` bytes) as live until its destroy(), which is wrapped on this
   * instance so that the count drops once however often it is called. Every buffer of webrnn
   * comes through here (see gpu/buffers.ts).
   */
  track(buffer: GPUBuffer, bytes: number): GPUBuffer {
    this.liveBuffers++;
    this.liveBytes += bytes;
    const destroy = buffer.destroy;
    let released = false;
    buffer.destroy = (): undefined => {
      if (!released) {
        released = true;
        this.liveBuffers--;
        this.liveBytes -= bytes;
      }
      return destroy.call(buffer);
    };
    return buffer;
  }

  /** The buffers made through {@link track} that are not destroyed yet, and their total bytes. */
  get memory(): { buffers: number; bytes: number } {
    return { buffers: this.liveBuffers, bytes: this.liveBytes };
  }

  /** Throw the first unreported GPU failure (uncaptured error, device loss). */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** True once the context's device is destroyed or lost. */
  get isLost(): boolean {
    return this.destroyed || this.failure?.code === 'device-lost';
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.ownsDevice) this.device.destroy();
    void this.keepAlive;
  }
}
