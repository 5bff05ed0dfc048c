/**
 * Resumable training: model.save({ optimizer: true }) and engine.load of such a file. The
 * saved moments are checked against the float64 reference's after the same steps (so each lands
 * under its parameter's name), and 5 steps, save, load, 5 steps give bit for bit what 10 steps
 * give on the model that never stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { WebRnnError } from '../../src/errors.js';
import type { RecurrentModel } from '../../src/model/recurrent-model.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { trainStepReference, type ReferenceOptimizerState } from '../../src/reference/train-step.js';
import { parameterInfo, type CellKind, type RnnOptions } from '../../src/spec/spec.js';
import { resolveOptimizer, type OptimizerConfig } from '../../src/train/options.js';
import { expectClose } from '../helpers/compare.js';
import { testEngine } from '../helpers/engines.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('checkpoint');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const I = 3;
const H = 5;
const O = 2;
const B = 3;
const T = 4;

/** Ten batches of inputs and MSE targets, [T, B, I] and [T, B, O]. */
function batches(n = 10): Array<{ x: Float32Array; y: Float32Array }> {
  return Array.from({ length: n }, () => ({ x: randomFloats(rng, T * B * I), y: randomFloats(rng, T * B * O) }));
}

async function load(bytes: Uint8Array): Promise<RecurrentModel> {
  return engine.load(bytes, { format: 'safetensors' });
}

async function expectSameBits(label: string, a: RecurrentModel, b: RecurrentModel): Promise<void> {
  const [da, db] = [await a.stateDict(), await b.stateDict()];
  for (const k of Object.keys(da)) expect(new Uint32Array(db[k].buffer), `${label}: ${k}`).toEqual(new Uint32Array(da[k].buffer));
}

const CASES: Array<{ kind: CellKind; options: Partial<RnnOptions>; optimizer: OptimizerConfig }> = [
  { kind: 'lstm', options: { numLayers: 2, bidirectional: true }, optimizer: { type: 'adam', lr: 0.02, eps: 1e-4, weightDecay: 0.001 } },
  { kind: 'gru', options: { bias: false }, optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 } },
  { kind: 'rnn', options: { numLayers: 2 }, optimizer: { type: 'adamw', lr: 0.01, eps: 1e-4 } },
];

describe('save({ optimizer: true }) and load', () => {
  for (const c of CASES) {
    it(`${c.kind} ${JSON.stringify(c.options)} with ${c.optimizer.type}: the moments are the reference's, and 5 + 5 steps across a file give the 10 steps'`, async () => {
      const model = engine[c.kind]({ inputSize: I, hiddenSize: H, outputSize: O, ...c.options });
      const dict = randomStateDict(model.spec, rng);
      model.loadStateDict(dict);
      const params = Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, Float64Array.from(v)]));
      const state: ReferenceOptimizerState = {};
      const data = batches();
      for (let s = 0; s < 5; s++) {
        await model.trainStep(data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse', optimizer: c.optimizer });
        trainStepReference(model.spec, params, state, s + 1, data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse', lossOn: 'all', mask: new Float32Array(T * B).fill(1), optimizer: resolveOptimizer(c.optimizer), maxNorm: 0, clipValue: 0 });
      }
      const bytes = await model.save({ optimizer: true, metadata: { format: 'pt' } });
      const file = readSafetensors(bytes);
      const meta = JSON.parse(file.metadata['webrnn.optimizer']) as Record<string, unknown>;
      expect(meta.step).toBe(5);
      expect({ ...meta, step: undefined }).toEqual({ ...model.optimizer, step: undefined });
      expect(meta.lr).toBe(c.optimizer.lr);
      expect(file.metadata.format).toBe('pt');
      const slots = c.optimizer.type === 'sgd' ? ['momentum_buffer'] : ['exp_avg', 'exp_avg_sq'];
      slots.forEach((slot, k) => {
        for (const name of Object.keys(params)) {
          const t = file.tensors[`optimizer.${slot}.${name}`];
          expect(t, `${slot}.${name}`).toBeDefined();
          // The second moment's entries are squares of gradients (~1e-6 and below): held to the float32 rounding of the first's scale.
          expectClose(`${c.kind} ${slot}.${name} after 5 steps (seed ${seed})`, t.data, state[name][k], slot === 'exp_avg_sq' ? 1e-7 : 1e-5);
        }
      });

      const resumed = await load(bytes);
      expect(resumed.optimizer).toEqual(model.optimizer);
      // Parameters alone: the same file without the optimizer's state starts its moments afresh.
      const fresh = await load(await model.save());
      expect(fresh.optimizer).toBeNull();
      for (let s = 5; s < 10; s++) {
        await model.trainStep(data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse', optimizer: c.optimizer });
        // No optimizer given: the one the file saved.
        await resumed.trainStep(data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse' });
        await fresh.trainStep(data[s].x, data[s].y, { batch: B, seqLen: T, loss: 'mse', optimizer: c.optimizer });
      }
      await expectSameBits(`${c.kind} resumed after 5 + 5 steps`, model, resumed);
      const [a, f] = [await model.stateDict(), await fresh.stateDict()];
      expect(Object.keys(a).some((k) => a[k].some((v, i) => v !== f[k][i])), 'a fresh optimizer ends elsewhere').toBe(true);
      for (const m of [model, resumed, fresh]) m.destroy();
    });
  }

  it('a resumed SGD model saves again what it loaded, under a cell file\'s own names', async () => {
    const cell = engine.gru({ inputSize: I, hiddenSize: H, outputSize: O });
    const dict = await cell.stateDict();
    const fileName = (p: { name: string; role: string }): string => (p.role.startsWith('readout') ? p.name.replace('readout', 'fc') : `cell.${p.name.replace('_l0', '')}`);
    const tensors = Object.fromEntries(parameterInfo(cell.spec).map((p) => [fileName(p), { shape: p.shape, data: dict[p.name] }]));
    cell.destroy();
    const model = await load(writeSafetensors(tensors));
    const [d] = batches(1);
    await model.trainStep(d.x, d.y, { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1, momentum: 0.5 } });
    const bytes = await model.save({ optimizer: true });
    const names = Object.keys(readSafetensors(bytes).tensors);
    expect(names).toContain('optimizer.momentum_buffer.cell.weight_hh');
    expect(names).toContain('optimizer.momentum_buffer.fc.bias');
    const again = await load(bytes);
    expect(await again.save({ optimizer: true })).toEqual(bytes);
    model.destroy();
    again.destroy();
  });
});

describe('refusals', () => {
  async function loadError(bytes: Uint8Array): Promise<WebRnnError> {
    try {
      (await load(bytes)).destroy();
    } catch (e) {
      expect(e).toBeInstanceOf(WebRnnError);
      return e as WebRnnError;
    }
    throw new Error('load succeeded');
  }

  it('names what is missing or wrong in a file, a model without state, and an optimizer never given', async () => {
    const model = engine.rnn({ inputSize: I, hiddenSize: H, outputSize: O });
    const [d] = batches(1);
    await expect(model.save({ optimizer: true })).rejects.toThrow(/the model holds no optimizer state/);
    await expect(model.trainStep(d.x, d.y, { batch: B, seqLen: T, loss: 'mse' })).rejects.toThrow(/optimizer is required/);
    await expect(model.save({ optimiser: true } as never)).rejects.toThrow(/unknown option 'optimiser'/);
    await expect(model.save({ metadata: { 'webrnn.optimizer': '{}' } })).rejects.toThrow(/the metadata key 'webrnn.optimizer' is webrnn's/);
    await model.trainStep(d.x, d.y, { batch: B, seqLen: T, loss: 'mse', optimizer: { type: 'adam', lr: 0.01 } });
    const file = readSafetensors(await model.save({ optimizer: true }));
    const rewrite = (edit: (t: typeof file.tensors, m: Record<string, string>) => void): Uint8Array => {
      const tensors = { ...file.tensors };
      const metadata = { ...file.metadata };
      edit(tensors, metadata);
      return writeSafetensors(tensors, metadata);
    };
    expect((await loadError(rewrite((t) => delete t['optimizer.exp_avg_sq.weight_hh_l0']))).message).toMatch(/'optimizer\.exp_avg_sq\.weight_hh_l0' missing from the file/);
    expect((await loadError(rewrite((t) => (t['optimizer.exp_avg.bias_ih_l0'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) })))).message).toMatch(/'optimizer\.exp_avg\.bias_ih_l0' has shape \[2\], its parameter \[5\]/);
    expect((await loadError(rewrite((t) => (t['optimizer.momentum_buffer.weight_ih_l0'] = t['optimizer.exp_avg.weight_ih_l0'])))).message).toMatch(/belong to no parameter of a adam state: 'optimizer\.momentum_buffer\.weight_ih_l0'/);
    expect((await loadError(rewrite((_, m) => (m['webrnn.optimizer'] = '{"type":"adam","lr":0.01,"step":0}')))).message).toMatch(/step must be an integer ≥ 1, got 0/);
    expect((await loadError(rewrite((_, m) => (m['webrnn.optimizer'] = '{"type":"rmsprop","lr":0.01,"step":3}')))).message).toMatch(/optimizer\.type must be 'sgd', 'adam' or 'adamw', got 'rmsprop'/);
    expect((await loadError(rewrite((_, m) => (m['webrnn.optimizer'] = '{"type":"adam",')))).message).toMatch(/not valid JSON/);
    const nan = rewrite((t) => (t['optimizer.exp_avg.readout.bias'] = { dtype: 'F32', shape: [O], data: new Float32Array(O).fill(NaN) }));
    expect((await loadError(nan)).code).toBe('non-finite');
    // Without the metadata entry, the state tensors read as other modules' weights.
    expect((await loadError(rewrite((_, m) => delete m['webrnn.optimizer']))).message).toMatch(/several recurrent modules \('', 'optimizer\.exp_avg\.', 'optimizer\.exp_avg_sq\.'\)/);
    model.destroy();
  });
});
