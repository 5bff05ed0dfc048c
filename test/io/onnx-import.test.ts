/**
 * The ONNX importer on random weights against an independent ONNX-semantics oracle: gate
 * orders, the three directions, both layouts, sequence_lens, initial states, peepholes, both
 * GRU forms; weights as initializers or as graph inputs. And refusals of what is not supported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { encodeModel } from '../../src/io/onnx-proto.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';
import { onnxReference, type OnnxCase } from './onnx-reference.js';

const { rng, seed } = testRandom('onnx-import');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const FLOAT = 1;
const INT32 = 6;
const tensorProto = (name: string, dims: number[], data: Float32Array | Int32Array) =>
  data instanceof Int32Array ? { name, dims, dataType: INT32, int32Data: Array.from(data) } : { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() };
const valueInfo = (name: string, elemType: number, dims: number[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const stringAttr = (name: string, v: string) => ({ name, s: new TextEncoder().encode(v), type: 3 });
const intAttr = (name: string, i: number) => ({ name, i, type: 2 });

/** A one-node model; weights as initializers when `init`, else as graph inputs. */
function buildModel(c: OnnxCase, init: boolean, extraAttributes: object[] = []): Uint8Array {
  if (c.functions) {
    // Every direction lists the same functions; alphas and betas go to the functions that take them.
    const D = c.direction === 'bidirectional' ? 2 : 1;
    const list = D === 2 && c.reverseFunctions ? [...c.functions, ...c.reverseFunctions] : Array.from({ length: D }, () => c.functions!).flat();
    const takesAlpha = ['HardSigmoid', 'Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'Elu'];
    const takesBeta = ['HardSigmoid', 'Affine', 'ScaledTanh'];
    extraAttributes = [
      ...extraAttributes,
      { name: 'activations', strings: list.map((f) => new TextEncoder().encode(f.name)), type: 8 },
      { name: 'activation_alpha', floats: list.filter((f) => takesAlpha.includes(f.name)).map((f) => f.alpha), type: 6 },
      { name: 'activation_beta', floats: list.filter((f) => takesBeta.includes(f.name)).map((f) => f.beta), type: 6 },
    ];
  }
  if (c.clip) extraAttributes = [...extraAttributes, { name: 'clip', f: c.clip, type: 1 }];
  if (c.inputForget) extraAttributes = [...extraAttributes, intAttr('input_forget', 1)];
  const D = c.direction === 'bidirectional' ? 2 : 1;
  const G = c.op === 'LSTM' ? 4 : c.op === 'GRU' ? 3 : 1;
  const H = c.hidden;
  const xDims = c.layout === 0 ? [c.T, c.batch, c.input] : [c.batch, c.T, c.input];
  const sDims = c.layout === 0 ? [D, c.batch, H] : [c.batch, D, H];
  const weights = [tensorProto('W', [D, G * H, c.input], c.W), tensorProto('R', [D, G * H, H], c.R), tensorProto('B', [D, 2 * G * H], c.B)];
  if (c.P) weights.push(tensorProto('P', [D, 3 * H], c.P));
  const inputs = ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h', c.op === 'LSTM' ? 'initial_c' : '', c.P ? 'P' : ''];
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const attributes = [intAttr('hidden_size', H), stringAttr('direction', c.direction), intAttr('layout', c.layout), ...extraAttributes];
  if (c.op === 'GRU') attributes.push(intAttr('linear_before_reset', c.linearBeforeReset ?? 0));
  if (c.op === 'RNN' && c.activation) attributes.push({ name: 'activations', strings: Array.from({ length: D }, () => new TextEncoder().encode(c.activation!)), type: 8 });
  const graphInputs = [valueInfo('X', FLOAT, xDims), valueInfo('sequence_lens', INT32, [c.batch]), valueInfo('initial_h', FLOAT, sDims)];
  if (c.op === 'LSTM') graphInputs.push(valueInfo('initial_c', FLOAT, sDims));
  if (!init) for (const w of weights) graphInputs.push(valueInfo(w.name, FLOAT, w.dims));
  return encodeModel({
    irVersion: 10,
    opsetImport: [{ domain: '', version: 22 }],
    graph: {
      name: 'g',
      node: [{ opType: c.op, name: 'rnn', input: inputs, output: c.op === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'], attribute: attributes }],
      initializer: init ? weights : [],
      input: graphInputs,
      output: (c.op === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h']).map((name) => ({ name, type: { tensorType: { elemType: FLOAT } } })),
    },
  });
}

function randomCase(op: OnnxCase['op'], direction: OnnxCase['direction'], layout: 0 | 1, extra: Partial<OnnxCase> = {}): OnnxCase {
  const H = 5;
  const I = 3;
  const T = 4;
  const Bn = 3;
  const D = direction === 'bidirectional' ? 2 : 1;
  const G = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
  const s = Math.sqrt(3 / H);
  return {
    op,
    hidden: H,
    direction,
    layout,
    X: randomFloats(rng, T * Bn * I),
    W: randomFloats(rng, D * G * H * I, -s, s),
    R: randomFloats(rng, D * G * H * H, -s, s),
    B: randomFloats(rng, D * 2 * G * H, -0.5, 0.5),
    seqLens: [4, 2, 3],
    h0: randomFloats(rng, D * Bn * H),
    c0: op === 'LSTM' ? randomFloats(rng, D * Bn * H) : undefined,
    T,
    batch: Bn,
    input: I,
    ...extra,
  };
}

async function check(c: OnnxCase, init: boolean, label: string): Promise<void> {
  const model = await engine.loadOnnx(buildModel(c, init));
  const feeds: Record<string, Float32Array | Int32Array> = { X: c.X, sequence_lens: Int32Array.from(c.seqLens), initial_h: c.h0 };
  if (c.c0) feeds.initial_c = c.c0;
  if (!init) Object.assign(feeds, { W: c.W, R: c.R, B: c.B }, c.P ? { P: c.P } : {});
  const got = await model.run(feeds);
  const want = onnxReference(c);
  const D = c.direction === 'bidirectional' ? 2 : 1;
  expect(got.Y.dims, `${label}: Y dims`).toEqual(c.layout === 0 ? [c.T, D, c.batch, c.hidden] : [c.batch, c.T, D, c.hidden]);
  expect(got.Y_h.dims, `${label}: Y_h dims`).toEqual(c.layout === 0 ? [D, c.batch, c.hidden] : [c.batch, D, c.hidden]);
  expectClose(`${label}: Y`, got.Y.data, want.Y);
  expectClose(`${label}: Y_h`, got.Y_h.data, want.Y_h);
  if (want.Y_c) expectClose(`${label}: Y_c`, got.Y_c.data, want.Y_c);
  model.destroy();
}

describe('ONNX import against the ONNX-semantics oracle', () => {
  const variants: Array<[OnnxCase['op'], Partial<OnnxCase>, string]> = [
    ['LSTM', {}, 'LSTM'],
    ['LSTM', { P: randomFloats(rng, 2 * 15) }, 'LSTM with peepholes'],
    ['GRU', { linearBeforeReset: 0 }, 'GRU linear_before_reset=0'],
    ['GRU', { linearBeforeReset: 1 }, 'GRU linear_before_reset=1'],
    ['RNN', { activation: 'Tanh' }, 'RNN Tanh'],
    ['RNN', { activation: 'Relu' }, 'RNN Relu'],
  ];
  for (const [op, extra, name] of variants) {
    for (const direction of ['forward', 'reverse', 'bidirectional'] as const) {
      for (const layout of [0, 1] as const) {
        it(`${name}, ${direction}, layout ${layout}`, async () => {
          const D = direction === 'bidirectional' ? 2 : 1;
          const P = extra.P ? extra.P.subarray(0, D * 15) : undefined;
          const c = randomCase(op, direction, layout, { ...extra, P });
          await check(c, layout === 0, `${name} ${direction} layout ${layout} (seed ${seed})`);
        });
      }
    }
  }

  it('fuzz: 500 mutated ONNX models each run or fail with our error', async () => {
    const c = randomCase('GRU', 'bidirectional', 0, { linearBeforeReset: 1 });
    const valid = buildModel(c, true);
    const feeds = { X: c.X, sequence_lens: Int32Array.from(c.seqLens), initial_h: c.h0 };
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 500; i++) {
      const b = valid.slice();
      const pick = (n: number): number => Math.floor(rng.uniform() * n);
      const kind = pick(3);
      let bytes: Uint8Array = b;
      if (kind === 0) for (let k = 1 + pick(3); k > 0; k--) b[pick(b.length)] = pick(256);
      else if (kind === 1) bytes = b.subarray(0, pick(b.length));
      else for (let k = 1 + pick(3); k > 0; k--) b[pick(b.length)] ^= 1 << pick(8);
      let outcome = 'ok';
      try {
        const m = await engine.loadOnnx(bytes);
        try {
          await m.run(feeds);
        } finally {
          m.destroy();
        }
      } catch (e) {
        if (!(e instanceof WebRnnError)) throw new Error(`mutant ${i}: not a WebRnnError: ${String(e)} (seed ${seed})`);
        outcome = e.code;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.info(`fuzz (ONNX): 500 inputs, outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  // Every activation with alpha and beta, clip and input_forget, in all three operators.
  const fn = (name: string, alpha = 0, beta = 0) => ({ name, alpha, beta });
  const functionCases: Array<[OnnxCase['op'], Partial<OnnxCase>, string]> = [
    ['LSTM', { functions: [fn('HardSigmoid', 0.3, 0.4), fn('ScaledTanh', 1.2, 0.7), fn('Softsign')], clip: 1.5 }, 'LSTM HardSigmoid/ScaledTanh/Softsign, clip'],
    ['LSTM', { functions: [fn('Sigmoid'), fn('Elu', 0.8), fn('Softplus')], inputForget: true, P: randomFloats(rng, 15) }, 'LSTM Elu/Softplus, input_forget, peepholes'],
    ['GRU', { functions: [fn('HardSigmoid', 0.25, 0.45), fn('LeakyRelu', 0.05)], linearBeforeReset: 1, clip: 2 }, 'GRU HardSigmoid/LeakyRelu, clip'],
    ['GRU', { functions: [fn('Sigmoid'), fn('Affine', 0.5, 0.1)], linearBeforeReset: 0 }, 'GRU Affine, linear_before_reset=0'],
    ['RNN', { functions: [fn('ThresholdedRelu', 0.2)] }, 'RNN ThresholdedRelu'],
    ['RNN', { functions: [fn('Softsign')], clip: 0.8 }, 'RNN Softsign, clip'],
    // Each direction its own functions (the lists run forward's first, then reverse's).
    ['LSTM', { functions: [fn('Sigmoid'), fn('Tanh'), fn('Tanh')], reverseFunctions: [fn('HardSigmoid', 0.3, 0.4), fn('Relu'), fn('ScaledTanh', 1.2, 0.7)] }, 'LSTM, other functions in reverse'],
    ['GRU', { functions: [fn('HardSigmoid', 0.25, 0.45), fn('Tanh')], reverseFunctions: [fn('Sigmoid'), fn('LeakyRelu', 0.05)], linearBeforeReset: 1 }, 'GRU, other functions in reverse'],
    ['RNN', { functions: [fn('Tanh')], reverseFunctions: [fn('Elu', 0.6)], clip: 1.1 }, 'RNN, other functions in reverse'],
  ];
  for (const [op, extra, name] of functionCases) {
    for (const direction of ['forward', 'bidirectional'] as const) {
      it(`${name}, ${direction}`, async () => {
        const c = randomCase(op, direction, 0, { ...extra, P: extra.P && direction === 'forward' ? extra.P : undefined });
        await check(c, true, `${name} ${direction} (seed ${seed})`);
      });
    }
  }

  it('refuses what it does not support, naming it', async () => {
    const c = randomCase('LSTM', 'bidirectional', 0);
    const refuse = async (bytes: Uint8Array, message: RegExp): Promise<void> => {
      let error: unknown;
      try {
        const m = await engine.loadOnnx(bytes);
        await m.run({ X: c.X, sequence_lens: Int32Array.from(c.seqLens), initial_h: c.h0, initial_c: c.c0! });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WebRnnError);
      expect((error as Error).message).toMatch(message);
    };
    const names = (list: string[]) => ({ name: 'activations', strings: list.map((x) => new TextEncoder().encode(x)), type: 8 });
    await refuse(buildModel(c, true, [names(['Sigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Gelu', 'Tanh'])]), /activation 'Gelu' is not one of/);
    await refuse(buildModel(c, true, [names(['Sigmoid', 'Tanh'])]), /2 activations for 2 direction\(s\)/);
    await refuse(buildModel(c, true, [{ name: 'activation_alpha', floats: [0.5], type: 6 }]), /values that no activation takes/);
    await refuse(buildModel(c, true, [{ name: 'clip', f: -1, type: 1 }]), /clip = -1 is not supported/);
    await refuse(buildModel(c, true, [intAttr('mystery', 1)]), /attribute 'mystery' is not supported/);
    await refuse(new Uint8Array([0x3a, 0x05, 0x0a, 0x03, 0x22, 0x01, 0x41]), /operator A .* is not supported|0 recurrent nodes/);
    await refuse(new Uint8Array([0xff, 0xff, 0xff]), /could not be decoded/);
  });
});
