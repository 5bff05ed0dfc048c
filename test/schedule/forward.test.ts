/**
 * The forward scheduler: one submit and one readback per forward pass, the dispatch count
 * per step, buffers and pipelines reused across calls of the same shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { gpuEngine } from '../helpers/engines.js';
import { autoPersistent } from '../../src/placement/rules.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import { gateCount, type CellKind, type GruOptions } from '../../src/spec/spec.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { CELL_CONFIGS, randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('forward-schedule');
let engine: Awaited<ReturnType<typeof gpuEngine>>;
const counts = { submit: 0, createBuffer: 0, mapAsync: 0, pipelines: 0 };

beforeAll(async () => {
  engine = await gpuEngine();
  // Count what the device is asked to do.
  const device = engine.device;
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers) => {
    counts.submit++;
    return submit(buffers);
  };
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (desc) => {
    counts.createBuffer++;
    const buffer = createBuffer(desc);
    const mapAsync = buffer.mapAsync.bind(buffer);
    buffer.mapAsync = (...args) => {
      counts.mapAsync++;
      return mapAsync(...args);
    };
    return buffer;
  };
  const createPipeline = device.createComputePipelineAsync.bind(device);
  device.createComputePipelineAsync = (desc) => {
    counts.pipelines++;
    return createPipeline(desc);
  };
});
afterAll(() => engine?.destroy());

function snapshot(): typeof counts {
  return { ...counts };
}

describe('one submit per forward pass', () => {
  for (const config of CELL_CONFIGS) for (const persistent of [false, true]) {
    it(`${config.name}: 3 layers, bidirectional, T = 9, ${persistent ? 'persistent' : 'one dispatch per step'}`, async () => {
      const L = 3;
      const T = 9;
      const B = 2;
      const model = config.make(engine, { inputSize: 4, hiddenSize: 5, numLayers: L, bidirectional: true, persistent });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const x = randomFloats(rng, T * B * 4);
      await model.forward(x, { batch: B, seqLen: T }); // first call: plan and pipelines

      const before = snapshot();
      const r = await model.forward(x, { batch: B, seqLen: T });
      const after = snapshot();
      expect(after.submit - before.submit, 'submits').toBe(1);
      expect(after.mapAsync - before.mapAsync, 'readbacks').toBe(1);
      expect(after.createBuffer - before.createBuffer, 'buffers created on a repeated shape').toBe(0);
      expect(after.pipelines - before.pipelines, 'pipelines created on a repeated call').toBe(0);

      // Both directions share a step dispatch; the GRU's linear_before_reset = 0 form needs two.
      // The persistent kernel: one dispatch per layer for every step, phases included.
      const perLayer = config.name === 'gru linearBeforeReset=false' ? 2 : 1;
      if (persistent) expect(model.lastForwardStats).toEqual({ submits: 1, gemmDispatches: L, dispatchesPerStep: 0, dispatches: 2 * L });
      else expect(model.lastForwardStats).toEqual({ submits: 1, gemmDispatches: L, dispatchesPerStep: L * perLayer, dispatches: L + T * L * perLayer });

      const ref = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T });
      expectClose(`${config.name} repeated call (seed ${seed})`, r.output, ref.output);
      model.destroy();
    });
  }

  it('one dispatch per step with persistent: false, one per layer with persistent: true', async () => {
    const T = 3;
    for (const [persistent, dispatches] of [
      [false, 1 + T],
      [true, 2],
    ] as const) {
      const model = engine.gru({ inputSize: 3, hiddenSize: 128, persistent });
      await model.forward(randomFloats(rng, T * 4 * 3), { batch: 4, seqLen: T });
      expect(model.lastForwardStats?.dispatches, `persistent ${String(persistent)}`).toBe(dispatches);
      model.destroy();
    }
  });

  it("persistent: 'auto' (the default) picks the kernel that measured faster for the adapter, cell, batch and length", async () => {
    // [name, kind, options, batch, seqLen, persistent on a software adapter, persistent on a GPU].
    const cases: Array<[string, CellKind, GruOptions, number, number, boolean, boolean]> = [
      ['lstm H=128, one row', 'lstm', { inputSize: 3, hiddenSize: 128 }, 1, 4, true, true],
      ['gru H=128, 4 rows', 'gru', { inputSize: 3, hiddenSize: 128, persistent: 'auto' }, 4, 4, true, true],
      ['gru H=256, 16 rows, bidirectional', 'gru', { inputSize: 3, hiddenSize: 256, bidirectional: true }, 16, 3, true, true],
      ['lstm H=256, 5 rows (one row a workgroup, three units an invocation)', 'lstm', { inputSize: 3, hiddenSize: 256 }, 5, 3, true, true],
      ['gru H=256, 5 rows (one row a workgroup, four units an invocation)', 'gru', { inputSize: 3, hiddenSize: 256 }, 5, 3, true, true],
      ['lstm H=129, 4 rows', 'lstm', { inputSize: 3, hiddenSize: 129 }, 4, 3, true, true],
      ['lstm H=256, 64 rows', 'lstm', { inputSize: 3, hiddenSize: 256 }, 64, 2, true, false],
      ['rnn H=256, 4 rows', 'rnn', { inputSize: 3, hiddenSize: 256 }, 4, 4, true, true],
      ['rnn H=128, one row', 'rnn', { inputSize: 3, hiddenSize: 128 }, 1, 4, true, true],
      ['rnn H=128, 64 rows', 'rnn', { inputSize: 3, hiddenSize: 128 }, 64, 2, true, true],
      ['rnn H=128, 65 rows', 'rnn', { inputSize: 3, hiddenSize: 128 }, 65, 2, true, false],
      ['lstm H=512 (two units an invocation)', 'lstm', { inputSize: 3, hiddenSize: 512 }, 1, 3, true, false],
      ['gru H=512, 64 rows', 'gru', { inputSize: 3, hiddenSize: 512 }, 64, 2, true, false],
      ['rnn H=300, 4 rows', 'rnn', { inputSize: 3, hiddenSize: 300 }, 4, 2, true, false],
      ['rnn H=513 (no resident form past 512 units)', 'rnn', { inputSize: 3, hiddenSize: 513 }, 1, 3, false, false],
      ['gru linearBeforeReset=false (two phases a step)', 'gru', { inputSize: 3, hiddenSize: 32, linearBeforeReset: false }, 1, 3, false, false],
      ['lstm, one step', 'lstm', { inputSize: 3, hiddenSize: 32 }, 1, 1, false, false],
    ];
    // The rule itself (autoPersistent), for both kinds of adapter: pure, nothing compiled.
    const profiles = [
      { info: { ...engine.info, software: true } },
      { info: { ...engine.info, software: false } },
    ];
    for (const [name, kind, options, batch, seqLen, onSoftware, onGpu] of cases) {
      const facts = { gates: gateCount(kind), onePhase: kind !== 'gru' || options.linearBeforeReset !== false, hidden: options.hiddenSize, batch, seqLen };
      expect(profiles.map((p) => autoPersistent(p, facts)), name).toEqual([onSoftware, onGpu]);
    }
    // And that a model runs what the rule says, on this adapter: the cases whose resident forms
    // compile in a second or two (the larger ones take 10-60 s each on SwiftShader, and the
    // rule above covers their choice).
    const software = engine.info.software;
    for (const [name, kind, options, batch, T, onSoftware, onGpu] of cases.filter(([, , o]) => o.hiddenSize <= 129 || o.hiddenSize > 512)) {
      const model = kind === 'lstm' ? engine.lstm(options) : kind === 'gru' ? engine.gru(options) : engine.rnn(options);
      // The choice itself, not the per-step kernels that run while a resident form compiles.
      await model.warmup(batch);
      await model.forward(randomFloats(rng, T * batch * 3), { batch, seqLen: T });
      expect(model.lastForwardStats?.dispatchesPerStep === 0, `${name}: persistent`).toBe(software ? onSoftware : onGpu);
      model.destroy();
    }
  });

  it('pipelines are shared between models of the same kind (of every hidden size, one dispatch per step)', async () => {
    const a = engine.lstm({ inputSize: 3, hiddenSize: 4, persistent: false });
    await a.forward(randomFloats(rng, 6), { batch: 1, seqLen: 2 });
    const before = snapshot();
    const b = engine.lstm({ inputSize: 7, hiddenSize: 9, numLayers: 2, persistent: false });
    await b.forward(randomFloats(rng, 7 * 3 * 2), { batch: 3, seqLen: 2 });
    expect(snapshot().pipelines - before.pipelines).toBe(0);
    a.destroy();
    b.destroy();
  });

  it('engine.warmup(model) compiles what its forwards of 1, 4 and 64 rows and its stream steps use, ahead of them', async () => {
    // On a software adapter these take the resident form one row a workgroup (1 and 4 rows) and
    // with the tile (64 rows), each with the GEMM; a stream's step takes the per-step kernel.
    const model = engine.gru({ inputSize: 3, hiddenSize: 20, outputSize: 2 });
    await engine.warmup(model);
    const before = snapshot();
    for (const batch of [1, 4, 64]) {
      const T = 3;
      const x = randomFloats(rng, T * batch * 3);
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const y = await model.forward(x, { batch, seqLen: T });
      const ref = recurrentForwardReference(model.spec, dict, x, { batch, seqLen: T });
      expectClose(`output, ${batch} rows (seed ${seed})`, y.output, ref.output);
    }
    const stream = model.stream({ batch: 2 });
    await stream.step(randomFloats(rng, 2 * 3));
    expect(snapshot().pipelines - before.pipelines).toBe(0);
    model.destroy();
  });

  it("'auto' runs the per-step kernels while the resident form compiles in the background (software adapters, H >= 64), then the resident form", async () => {
    const [I, H, B, T] = [3, 70, 2, 3];
    const software = engine.info.software;
    const make = (): RecurrentModel => engine.rnn({ inputSize: I, hiddenSize: H });
    const model = make();
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const x = randomFloats(rng, T * B * I);
    const ref = recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T });
    const persistent = (m: RecurrentModel): boolean => m.lastForwardStats?.dispatchesPerStep === 0;

    const first = await model.forward(x, { batch: B, seqLen: T });
    expect(persistent(model), 'first forward persistent').toBe(!software);
    expectClose(`first forward (seed ${seed})`, first.output, ref.output);
    expectClose(`first forward hN (seed ${seed})`, first.hN, ref.hN);
    await model.warmup(B);
    const memory = engine.memory;
    const second = await model.forward(x, { batch: B, seqLen: T });
    expect(persistent(model), 'forward after warmup persistent').toBe(true);
    expectClose(`forward after warmup (seed ${seed})`, second.output, ref.output);
    expectClose(`forward after warmup hN (seed ${seed})`, second.hN, ref.hN);
    // The plan of the shape was rebuilt on the resident kernels, the per-step one released.
    expect(engine.memory.buffers).toBe(memory.buffers);

    // Compiled on the device, the resident form serves another model of the cell and size at once.
    const other = make();
    other.loadStateDict(dict);
    const third = await other.forward(x, { batch: B, seqLen: T });
    expect(persistent(other), "another model's first forward persistent").toBe(true);
    expectClose(`another model (seed ${seed})`, third.output, ref.output);
    // persistent: true waits for its kernel rather than running another.
    const forced = engine.rnn({ inputSize: I, hiddenSize: H + 1, persistent: true });
    await forced.forward(randomFloats(rng, T * B * I), { batch: B, seqLen: T });
    expect(persistent(forced), 'persistent: true').toBe(true);
    for (const m of [model, other, forced]) m.destroy();
  });

  it('model.warmup(batch) compiles the kernels of that batch', async () => {
    const model = engine.lstm({ inputSize: 3, hiddenSize: 12 });
    await model.warmup(9);
    const before = snapshot();
    await model.forward(randomFloats(rng, 5 * 9 * 3), { batch: 9, seqLen: 5 });
    expect(snapshot().pipelines - before.pipelines).toBe(0);
    model.destroy();
  });

  it("'auto' goes on with the per-step kernels where the resident form fails to compile, without trying again; warmup reports the failure", async () => {
    const fresh = await gpuEngine();
    const device = fresh.device;
    // Every resident module (the one whose code holds the unrolled product) fails to build.
    const resident = new WeakSet<GPUShaderModule>();
    const createModule = device.createShaderModule.bind(device);
    device.createShaderModule = (desc) => {
      const module = createModule(desc);
      if (desc.code.includes('fn residentProduct')) resident.add(module);
      return module;
    };
    let attempts = 0;
    const createPipeline = device.createComputePipelineAsync.bind(device);
    device.createComputePipelineAsync = (desc) => {
      if (!resident.has(desc.compute.module)) return createPipeline(desc);
      attempts++;
      return Promise.reject(new Error('refused by the test'));
    };
    try {
      const [I, H, B, T] = [3, 68, 2, 3];
      const model = fresh.rnn({ inputSize: I, hiddenSize: H });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      for (let call = 0; call < 3; call++) {
        const x = randomFloats(rng, T * B * I);
        const r = await model.forward(x, { batch: B, seqLen: T });
        expect(model.lastForwardStats?.dispatchesPerStep, `call ${call}: per-step`).toBeGreaterThan(0);
        expectClose(`call ${call} (seed ${seed})`, r.output, recurrentForwardReference(model.spec, dict, x, { batch: B, seqLen: T }).output);
      }
      expect(attempts, 'resident pipelines tried').toBe(fresh.info.software ? 1 : 0);
      if (fresh.info.software) await expect(model.warmup(B)).rejects.toThrow(/could not be created: refused by the test/);
      else await model.warmup(B);
    } finally {
      fresh.destroy();
    }
  });

  it('model.warmup(batch, { training: true }) compiles what gradients runs too; bad warmup options are refused', async () => {
    const [I, H, B, T] = [3, 66, 2, 4];
    const model = engine.lstm({ inputSize: I, hiddenSize: H });
    await model.warmup(B, { training: true });
    const before = snapshot();
    const x = randomFloats(rng, T * B * I);
    await model.gradients(x, { batch: B, seqLen: T, gradOutput: randomFloats(rng, T * B * H) });
    await model.forward(x, { batch: B, seqLen: T });
    expect(snapshot().pipelines - before.pipelines).toBe(0);
    await expect(model.warmup(B, { training: 'yes' } as never)).rejects.toThrow(/training must be a boolean/);
    await expect(model.warmup(B, { train: true } as never)).rejects.toThrow(/unknown option 'train'/);
    await expect(model.warmup(0)).rejects.toThrow(/batch/);
    model.destroy();
  });

  it('the persistent kernel is shared between models of the same kind and hidden size', async () => {
    // Its resident form (software adapters) is built for one hidden size; the staged form
    // serves every size.
    const a = engine.gru({ inputSize: 3, hiddenSize: 5, persistent: true });
    await a.forward(randomFloats(rng, 6), { batch: 1, seqLen: 2 });
    const before = snapshot();
    const b = engine.gru({ inputSize: 7, hiddenSize: 5, numLayers: 2, persistent: true });
    await b.forward(randomFloats(rng, 7 * 3 * 2), { batch: 3, seqLen: 2 });
    expect(snapshot().pipelines - before.pipelines).toBe(0);
    const c = engine.gru({ inputSize: 3, hiddenSize: 6, persistent: true });
    await c.forward(randomFloats(rng, 6), { batch: 1, seqLen: 2 });
    expect(snapshot().pipelines - before.pipelines).toBe(engine.info.software ? 1 : 0);
    a.destroy();
    b.destroy();
    c.destroy();
  });

  it('changing shapes gives correct results, and plans of earlier shapes are reused', async () => {
    const model = engine.gru({ inputSize: 3, hiddenSize: 6, bidirectional: true });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const shapes = [
      [1, 5],
      [4, 2],
      [1, 5],
      [3, 7],
    ];
    const created: number[] = [];
    for (const [batch, seqLen] of shapes) {
      const x = randomFloats(rng, seqLen * batch * 3);
      const before = counts.createBuffer;
      const r = await model.forward(x, { batch, seqLen });
      created.push(counts.createBuffer - before);
      const ref = recurrentForwardReference(model.spec, dict, x, { batch, seqLen });
      expectClose(`gru B=${batch} T=${seqLen} (seed ${seed})`, r.output, ref.output);
      expectClose(`gru B=${batch} T=${seqLen} hN (seed ${seed})`, r.hN, ref.hN);
    }
    expect(created[0]).toBeGreaterThan(0);
    expect(created[2]).toBe(0);
    model.destroy();
  });

  it('concurrent forwards of one model are serialised and each gets its own result', async () => {
    const model = engine.lstm({ inputSize: 2, hiddenSize: 5 });
    const dict = randomStateDict(model.spec, rng);
    model.loadStateDict(dict);
    const xs = [0, 1, 2, 3].map(() => randomFloats(rng, 4 * 2 * 2));
    const results = await Promise.all(xs.map((x) => model.forward(x, { batch: 2, seqLen: 4 })));
    results.forEach((r, i) => {
      const ref = recurrentForwardReference(model.spec, dict, xs[i], { batch: 2, seqLen: 4 });
      expectClose(`concurrent call ${i} (seed ${seed})`, r.output, ref.output);
    });
    model.destroy();
  });
});
