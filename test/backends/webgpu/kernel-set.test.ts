/**
 * The GPU's kernel choices at model level on this machine's adapter: models run through a
 * profile that reads as a GPU (info.software false), so that the forms GPUs take run here too,
 * the cooperative persistent forward and the tiled per-step forward among them where the
 * placement table turns them on. Forward passes and gradients against the float64 references,
 * and the forms' pipelines seen being built.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GpuContext } from '../../../src/gpu/device.js';
import { WebGpuModel } from '../../../src/backends/webgpu/model.js';
import { RecurrentModel } from '../../../src/model/recurrent-model.js';
import { writeSafetensors } from '../../../src/io/safetensors.js';
import { resolvePlacement, type PlacementTable } from '../../../src/placement/table.js';
import { recurrentBackwardReference } from '../../../src/reference/recurrent-backward.js';
import { recurrentForwardReference } from '../../../src/reference/recurrent-forward.js';
import { resolveSpec, stateSize, type CellKind, type ModelSpec } from '../../../src/spec/spec.js';
import { expectClose, expectRelativeL2 } from '../../helpers/compare.js';
import { randomFloats } from '../../helpers/gpu.js';
import { randomStateDict } from '../../helpers/models.js';
import { roundToHalf } from '../../../src/spec/half.js';
import { testRandom } from '../../helpers/seed.js';

const { rng, seed } = testRandom('kernel-set');
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

/** A model on `ctx` whose kernel choices are a GPU's, with the cooperative form up to H = 256 (or the table `placement`). */
function gpuModel(spec: ModelSpec, placement: Partial<PlacementTable> = { gpuCooperativeMaxHidden: 256, gpuCooperativeMaxRows: 8 }): RecurrentModel {
  const profile = { info: { software: false }, placement: resolvePlacement(placement), limits: ctx.limits };
  return new RecurrentModel(spec, new WebGpuModel(ctx, spec, profile), () => undefined, { safetensors: writeSafetensors, onnx: () => Promise.reject(new Error('not here')) });
}


const CASES: Array<{ kind: CellKind; options: Record<string, unknown>; batch: number; seqLen: number }> = [
  { kind: 'lstm', options: { inputSize: 5, hiddenSize: 37, numLayers: 2, bidirectional: true }, batch: 3, seqLen: 6 },
  { kind: 'gru', options: { inputSize: 4, hiddenSize: 9, bidirectional: true }, batch: 2, seqLen: 5 },
  { kind: 'rnn', options: { inputSize: 3, hiddenSize: 130, nonlinearity: 'tanh' }, batch: 1, seqLen: 7 },
];

/**
 * Forward and gradients of a `kind` model (variable lengths, initial states) on a GPU-profiled
 * model with `placement`, against the references; returns what `seen` picked out of the
 * pipelines built.
 */
async function checkModel(kind: CellKind, options: Record<string, unknown>, B: number, T: number, placement: Partial<PlacementTable> | undefined, seen: (req: { name: string; constants?: Record<string, number> }) => string | null): Promise<string[]> {
  const spec = resolveSpec(kind, options as never);
  const built: string[] = [];
  const get = ctx.pipelines.get.bind(ctx.pipelines);
  const spy = vi.spyOn(ctx.pipelines, 'get').mockImplementation((req) => {
    const what = seen(req);
    if (what) built.push(what);
    return get(req);
  });
  const model = gpuModel(spec, placement);
  try {
    const dict = randomStateDict(spec, rng);
    model.loadStateDict(dict);
    const D = spec.numDirections;
    const H = spec.hiddenSize;
    const I = spec.inputSize;
    const seqLens = Array.from({ length: B }, (_, b) => T - ((b * 2) % T));
    const x = randomFloats(rng, T * B * I);
    const h0 = randomFloats(rng, stateSize(spec, B));
    const c0 = kind === 'lstm' ? randomFloats(rng, stateSize(spec, B, true)) : undefined;
    const label = `${kind} (seed ${seed})`;
    const out = await model.forward(x, { batch: B, seqLen: T, seqLens, h0, c0 });
    const fwd = recurrentForwardReference(spec, dict, x, { batch: B, seqLen: T, seqLens, h0, c0 });
    expectClose(`${label}: output`, out.output, fwd.output);
    expectClose(`${label}: hN`, out.hN, fwd.hN);
    if (c0) expectClose(`${label}: cN`, (out as { cN: Float32Array }).cN, fwd.cN!);
    const gradOutput = randomFloats(rng, T * B * D * H);
    const gradHN = randomFloats(rng, stateSize(spec, B));
    const g = await model.gradients(x, { batch: B, seqLen: T, seqLens, h0, c0, gradOutput, gradHN });
    const ref = recurrentBackwardReference(spec, dict, x, { batch: B, seqLen: T, seqLens, h0, c0, gradOutput, gradHN });
    for (const name of Object.keys(ref.params)) expectRelativeL2(`${label}: ${name}`, g.params[name], ref.params[name]);
    expectRelativeL2(`${label}: input`, g.input, ref.input);
    expectRelativeL2(`${label}: h0`, g.h0, ref.h0);
    return built;
  } finally {
    spy.mockRestore();
    model.destroy();
  }
}

describe('GPU kernel choices on this adapter: the cooperative persistent forward in models', () => {
  for (const { kind, options, batch: B, seqLen: T } of CASES) {
    it(`${kind} ${JSON.stringify(options)}, B=${B} T=${T}: forward and gradients equal the references`, async () => {
      const built = await checkModel(kind, { ...options, persistent: true }, B, T, undefined, (req) => (req.constants && 'SPLIT' in req.constants ? `${req.name} SPLIT ${req.constants.SPLIT} UNITS ${req.constants.UNITS}` : null));
      // The forward (inference and training variants) ran the cooperative form.
      expect(built.length, `${kind}: cooperative pipelines built`).toBeGreaterThanOrEqual(2);
    });
  }
});

describe('GPU kernel choices on this adapter: the tiled per-step forward and sweep in models', () => {
  const TILED: typeof CASES = [
    { kind: 'lstm', options: { inputSize: 5, hiddenSize: 37, numLayers: 2, bidirectional: true }, batch: 17, seqLen: 4 },
    { kind: 'gru', options: { inputSize: 4, hiddenSize: 20, bidirectional: true }, batch: 6, seqLen: 5 },
    { kind: 'rnn', options: { inputSize: 3, hiddenSize: 33, nonlinearity: 'relu' }, batch: 5, seqLen: 6 },
  ];
  for (const { kind, options, batch: B, seqLen: T } of TILED) {
    it(`${kind} ${JSON.stringify(options)}, B=${B} T=${T}: forward and gradients equal the references`, async () => {
      const built = await checkModel(kind, { ...options, persistent: false }, B, T, { gpuTiledMinHidden: 1, gpuTiledMinRows: 4 }, (req) => (req.constants && 'TILE_UNITS' in req.constants ? req.name : null));
      // The forward (inference and training variants) and the sweep ran the tiled forms.
      expect(built.filter((name) => name.endsWith('-forward')).length, `${kind}: tiled forward pipelines built`).toBe(2);
      expect(built.filter((name) => name.endsWith('-backward')).length, `${kind}: tiled sweep pipelines built`).toBe(1);
    });
  }
});

describe("GPU kernel choices on this adapter: weightPrecision 'f16' reads W_hh from half-precision pairs", () => {
  for (const persistent of [false, true]) {
    for (const kind of ['lstm', 'rnn'] as const) {
      it(`${kind}, ${persistent ? 'persistent (cooperative)' : 'one dispatch a step (staged)'}: the forward equals the reference of the rounded weights`, async () => {
        const spec = resolveSpec(kind, { inputSize: 4, hiddenSize: 21, bidirectional: true, persistent, weightPrecision: 'f16' });
        const halves: string[] = [];
        const get = ctx.pipelines.get.bind(ctx.pipelines);
        const spy = vi.spyOn(ctx.pipelines, 'get').mockImplementation((req) => {
          if (req.defines?.HALF) halves.push(req.name);
          return get(req);
        });
        const model = gpuModel(spec);
        try {
          const dict = randomStateDict(spec, rng);
          model.loadStateDict(dict);
          const rounded = Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, k.startsWith('weight_hh') ? Float32Array.from(v, roundToHalf) : v]));
          const [B, T] = [2, 6];
          const x = randomFloats(rng, T * B * 4);
          const seqLens = [6, 3];
          const out = await model.forward(x, { batch: B, seqLen: T, seqLens });
          const ref = recurrentForwardReference(spec, rounded, x, { batch: B, seqLen: T, seqLens });
          expectClose(`${kind} f16 (seed ${seed}): output`, out.output, ref.output);
          expectClose(`${kind} f16 (seed ${seed}): hN`, out.hN, ref.hN);
          expect(halves.length, 'pipelines built with HALF').toBeGreaterThan(0);
        } finally {
          spy.mockRestore();
          model.destroy();
        }
      });
    }
  }
});
