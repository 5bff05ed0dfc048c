/**
 * A stream on the WebGPU backend: a forward plan of one step (T = 1) whose h0 buffer is the
 * state. Each step runs the input projection, the cell of every layer and the read-out, then
 * copies hN over h0 in the same submit (the LSTM's c buffer already holds cN in place).
 */
import { writeFloats } from '../../gpu/buffers.js';
import type { GpuContext } from '../../gpu/device.js';
import type { StreamExecution } from '../../model/backend.js';
import type { ForwardPlan } from '../../schedule/forward.js';

export function openStream(ctx: GpuContext, plan: ForwardPlan): StreamExecution {
  // Whether h0 / c hold a state to start from (given, or carried from the last step).
  let hasH = false;
  let hasC = false;
  return {
    setStates(h0, c0) {
      if (h0) writeFloats(ctx, plan.h0, h0);
      if (c0 && plan.c) writeFloats(ctx, plan.c, c0);
      hasH = h0 !== undefined;
      hasC = c0 !== undefined;
    },
    async step(x, ids) {
      if (ids) plan.setIds(ids);
      else writeFloats(ctx, plan.x, x);
      const r = await plan.run(hasH, hasC, true);
      hasH = true;
      hasC = plan.c !== null;
      return r.y ? { h: r.output, y: r.y } : { h: r.output };
    },
    async readStates() {
      const s = await plan.readInitialStates();
      // States never written are zeros (the first step clears them).
      const h = hasH ? s.h : new Float32Array(s.h.length);
      if (!s.c) return { h };
      return { h, c: hasC ? s.c : new Float32Array(s.c.length) };
    },
    destroy: () => plan.destroy(),
  };
}
