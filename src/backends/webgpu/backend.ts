/** The WebGPU backend: models whose parameters and passes live on one GPU device. */
import type { GpuContext } from '../../gpu/device.js';
import type { ModelBackend, ModelExecution } from '../../model/backend.js';
import type { ModelSpec } from '../../spec/spec.js';
import type { AdapterProfile } from '../../placement/rules.js';
import type { PlacementTable } from '../../placement/table.js';
import { WebGpuModel } from './model.js';

export class WebGpuBackend implements ModelBackend {
  readonly name = 'webgpu';
  /** The adapter and thresholds the choice of kernel forms reads (placement/rules.ts). */
  private readonly profile: AdapterProfile;

  constructor(
    readonly ctx: GpuContext,
    placement?: Readonly<PlacementTable>,
  ) {
    this.profile = { info: ctx.info, placement, limits: ctx.limits };
  }

  createModel(spec: ModelSpec): ModelExecution {
    return new WebGpuModel(this.ctx, spec, this.profile);
  }
}
