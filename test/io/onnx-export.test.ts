/**
 * ONNX export round trips: every cell kind and cell option, 1–3 layers, one or two directions,
 * sequence or batch first, with and without bias and read-out, exported with exportOnnx,
 * loaded back with engine.loadOnnx, and compared with the model's own forward through run (the
 * whole graph: output, hN, cN, y) and through the recurrent stack (forward, and the weights
 * back under PyTorch's names). Plus the graph's structure and attributes as the ONNX operators
 * define them, checked against an independent oracle of those operators (onnx-reference.ts),
 * and what export refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { exportOnnx } from '../../src/io/onnx-export.js';
import { decodeModel, tensorValues, type OnnxNode } from '../../src/io/onnx-proto.js';
import { READOUT_BIAS, READOUT_WEIGHT, resolveSpec } from '../../src/spec/spec.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { CELL_CONFIGS, randomStateDict, type CellConfig } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';
import { onnxReference, type OnnxCase } from './onnx-reference.js';
import { swapBatchTime } from '../../src/arrays.js';

const { rng, seed } = testRandom('onnx-export');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const I = 3;
const H = 4;
// B ≠ D, so that a layout that mixes the batch and the directions cannot pass.
const B = 3;
const T = 5;

/** CELL_CONFIGS plus the options only ONNX has: peepholes, other cell functions (per direction), clip, input_forget. */
const CONFIGS: readonly CellConfig[] = [
  ...CELL_CONFIGS,
  { name: 'lstm peepholes', make: (e, o) => e.lstm({ ...o, peepholes: true }) },
  {
    name: 'lstm HardSigmoid/Elu/ScaledTanh, clip, input_forget',
    make: (e, o) => e.lstm({ ...o, cell: { f: { name: 'HardSigmoid', alpha: 0.25, beta: 0.45 }, g: { name: 'Elu', alpha: 0.8 }, h: { name: 'ScaledTanh', alpha: 1.3, beta: 0.7 }, clip: 2.5, inputForget: true } }),
  },
  {
    name: 'gru HardSigmoid/Softsign, reverse Sigmoid/ScaledTanh',
    make: (e, o) =>
      e.gru({ ...o, linearBeforeReset: false, cell: { f: { name: 'HardSigmoid' }, g: { name: 'Softsign' }, ...(o.bidirectional ? { reverse: { f: { name: 'Sigmoid' }, g: { name: 'ScaledTanh', alpha: 0.9, beta: 1.1 } } } : {}) } }),
  },
  {
    name: 'rnn Softsign, reverse HardSigmoid, clip',
    make: (e, o) => e.rnn({ ...o, cell: { f: { name: 'Softsign' }, clip: 1.5, ...(o.bidirectional ? { reverse: { f: { name: 'HardSigmoid', alpha: 0.3, beta: 0.4 } } } : {}) } }),
  },
];

interface Variant {
  numLayers: number;
  bidirectional: boolean;
  batchFirst: boolean;
  bias: boolean;
  outputSize: number;
  returnSequences?: boolean;
}
/** Between them every layer count, direction, layout, bias, read-out and kind of y. */
const VARIANTS: readonly Variant[] = [
  { numLayers: 1, bidirectional: false, batchFirst: false, bias: true, outputSize: 0 },
  { numLayers: 2, bidirectional: true, batchFirst: true, bias: false, outputSize: 3 },
  { numLayers: 3, bidirectional: true, batchFirst: false, bias: true, outputSize: 2 },
  { numLayers: 3, bidirectional: false, batchFirst: true, bias: false, outputSize: 2 },
  { numLayers: 2, bidirectional: true, batchFirst: false, bias: true, outputSize: 0 },
  { numLayers: 2, bidirectional: true, batchFirst: true, bias: true, outputSize: 2, returnSequences: false },
  { numLayers: 1, bidirectional: true, batchFirst: false, bias: false, outputSize: 0, returnSequences: false },
];
const describeVariant = (v: Variant): string =>
  `${v.numLayers} layer(s), ${v.bidirectional ? 'bidirectional' : 'forward'}, ${v.batchFirst ? 'batch first' : 'sequence first'}, ${v.bias ? 'bias' : 'no bias'}, ${v.outputSize ? `read-out ${v.outputSize}` : 'no read-out'}${v.returnSequences === false ? ', final states' : ''}`;

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const attribute = (n: OnnxNode, name: string) => n.attribute.find((a) => a.name === name);

describe('exportOnnx round-trips through loadOnnx', () => {
  for (const config of CONFIGS) {
    for (const v of VARIANTS) {
      it(`${config.name}: ${describeVariant(v)}`, async () => {
        const label = `${config.name}, ${describeVariant(v)} (seed ${seed})`;
        const { outputSize, ...rest } = v;
        // outputSize 0 is no option (it must be positive): a model without a read-out leaves it out.
        const model = config.make(engine, { inputSize: I, hiddenSize: H, ...rest, ...(outputSize ? { outputSize } : {}) });
        const { spec } = model;
        const D = spec.numDirections;
        const L = spec.numLayers;
        const dict = randomStateDict(spec, rng);
        model.loadStateDict(dict);
        const x = randomFloats(rng, T * B * I);
        const want = await model.forward(x, { batch: B, seqLen: T });
        const bytes = await model.exportOnnx();

        const graph = await engine.loadOnnx(bytes);
        try {
          expect(graph.inputs).toEqual([{ name: 'X', dims: v.batchFirst ? ['batch', 'seq', I] : ['seq', 'batch', I], elemType: 1 }]);
          const hasY = v.outputSize > 0 || !spec.returnSequences;
          expect(graph.outputNames).toEqual(['output', 'hN', ...(spec.kind === 'lstm' ? ['cN'] : []), ...(hasY ? ['y'] : [])]);

          // (1) The whole graph, in the model's own layout.
          const out = await graph.run({ X: { dims: v.batchFirst ? [B, T, I] : [T, B, I], data: x } });
          expect(out.output.dims).toEqual(v.batchFirst ? [B, T, D * H] : [T, B, D * H]);
          expect(out.hN.dims).toEqual([L * D, B, H]);
          expectClose(`run output: ${label}`, out.output.data, want.output);
          expectClose(`run hN: ${label}`, out.hN.data, want.hN);
          if (spec.kind === 'lstm') {
            expect(out.cN.dims).toEqual([L * D, B, H]);
            expectClose(`run cN: ${label}`, out.cN.data, want.cN!);
          }
          if (hasY) {
            const F = v.outputSize || D * H;
            expect(out.y.dims).toEqual(!spec.returnSequences ? [B, F] : v.batchFirst ? [B, T, F] : [T, B, F]);
            expectClose(`run y: ${label}`, out.y.data, want.y);
          }

          // (2) The recurrent nodes as one stack: sequence first (layout 0), no read-out, and
          // the same weights under PyTorch's names (zero biases where the model had none).
          const stack = graph.recurrentModel();
          expect([stack.spec.kind, stack.spec.inputSize, stack.spec.hiddenSize, stack.spec.numLayers, stack.spec.numDirections, stack.spec.batchFirst, stack.spec.peepholes]).toEqual([
            spec.kind,
            I,
            H,
            L,
            D,
            false,
            spec.peepholes,
          ]);
          const back = await stack.stateDict();
          for (const [name, tensor] of Object.entries(dict)) if (name !== READOUT_WEIGHT && name !== READOUT_BIAS) expect(back[name], `${name}: ${label}`).toEqual(tensor);
          if (!v.bias) for (const name of Object.keys(back).filter((n) => n.startsWith('bias_'))) expect(back[name].every((e) => e === 0), `${name}: ${label}`).toBe(true);
          const xSeq = v.batchFirst ? swapBatchTime(x, B, T, I, false, new Float32Array(x.length)) : x;
          const f = await graph.forward(xSeq, { batch: B, seqLen: T });
          const wantOutput = v.batchFirst ? swapBatchTime(want.output, B, T, D * H, false, new Float32Array(want.output.length)) : want.output;
          expectClose(`forward output: ${label}`, f.output, wantOutput);
          expectClose(`forward hN: ${label}`, f.hN, want.hN);
          if (spec.kind === 'lstm') expectClose(`forward cN: ${label}`, f.cN!, want.cN!);

          // A sequence-first model with biases and no read-out is what the stack is: exported
          // again, it gives the same bytes.
          if (!v.batchFirst && v.bias && !hasY) expect(await stack.exportOnnx()).toEqual(bytes);
        } finally {
          graph.destroy();
          model.destroy();
        }
      });
    }
  }
});

/**
 * The first recurrent node of an exported file, read as the ONNX operator specification
 * defines its inputs and attributes (not by webrnn's importer), run by the float64 oracle on
 * x [T, B, I] with zero initial states.
 */
function exportedNodeReference(bytes: Uint8Array, x: Float32Array) {
  const g = decodeModel(bytes).graph!;
  const n = g.node.find((m) => ['RNN', 'LSTM', 'GRU'].includes(m.opType))!;
  const tensor = (name: string | undefined) => {
    const t = name ? g.initializer.find((i) => i.name === name) : undefined;
    return t ? Float32Array.from(tensorValues(t).values) : undefined;
  };
  const op = n.opType as OnnxCase['op'];
  const direction = text(attribute(n, 'direction')!.s) as OnnxCase['direction'];
  const D = direction === 'bidirectional' ? 2 : 1;
  const hidden = attribute(n, 'hidden_size')!.i;
  // Alpha and beta values go, in order, to the functions that take them.
  const alphas = [...(attribute(n, 'activation_alpha')?.floats ?? [])];
  const betas = [...(attribute(n, 'activation_beta')?.floats ?? [])];
  const functions = attribute(n, 'activations')?.strings.map((b) => {
    const name = text(b);
    return { name, alpha: ['HardSigmoid', 'Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'Elu'].includes(name) ? alphas.shift()! : 0, beta: ['HardSigmoid', 'Affine', 'ScaledTanh'].includes(name) ? betas.shift()! : 0 };
  });
  expect([alphas.length, betas.length]).toEqual([0, 0]);
  const per = functions ? functions.length / D : 0;
  return onnxReference({
    op,
    hidden,
    direction,
    layout: attribute(n, 'layout')!.i as 0,
    linearBeforeReset: attribute(n, 'linear_before_reset')?.i,
    X: x,
    W: tensor(n.input[1])!,
    R: tensor(n.input[2])!,
    B: tensor(n.input[3])!,
    P: tensor(n.input[7]),
    seqLens: new Array(B).fill(T),
    functions: functions?.slice(0, per),
    reverseFunctions: D === 2 ? functions?.slice(per) : undefined,
    clip: attribute(n, 'clip')?.f,
    inputForget: (attribute(n, 'input_forget')?.i ?? 0) !== 0,
    h0: new Float32Array(D * B * hidden),
    c0: op === 'LSTM' ? new Float32Array(D * B * hidden) : undefined,
    T,
    batch: B,
    input: tensor(n.input[1])!.length / (D * hidden * (op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1)),
  });
}

describe('the exported nodes compute what the ONNX operators specify (independent oracle)', () => {
  for (const config of CONFIGS) {
    for (const bidirectional of [false, true]) {
      it(`${config.name}, ${bidirectional ? 'bidirectional' : 'forward'}`, async () => {
        const label = `${config.name}, ${bidirectional ? 'bidirectional' : 'forward'} (seed ${seed})`;
        const model = config.make(engine, { inputSize: I, hiddenSize: H, bidirectional });
        try {
          const D = model.spec.numDirections;
          model.loadStateDict(randomStateDict(model.spec, rng));
          const x = randomFloats(rng, T * B * I);
          const want = await model.forward(x, { batch: B, seqLen: T });
          const ref = exportedNodeReference(await model.exportOnnx(), x);
          // Y [T, D, B, H] as forward's output [T, B, D·H].
          const output = new Float64Array(T * B * D * H);
          for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) output[((t * B + b) * D + d) * H + j] = ref.Y[((t * D + d) * B + b) * H + j];
          expectClose(`oracle Y: ${label}`, want.output, output);
          expectClose(`oracle Y_h: ${label}`, want.hN, ref.Y_h);
          if (ref.Y_c) expectClose(`oracle Y_c: ${label}`, want.cN!, ref.Y_c);
        } finally {
          model.destroy();
        }
      });
    }
  }
});

describe('the exported graph', () => {
  it('is one node per layer with the attributes of the ONNX operators, and glue as documented', () => {
    const ops = (bytes: Uint8Array): string[] => decodeModel(bytes).graph!.node.map((n) => n.opType);
    const spec = resolveSpec('lstm', { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true, outputSize: 2 });
    const model = decodeModel(exportOnnx(spec, randomStateDict(spec, rng)));
    expect(model.irVersion).toBe(8);
    expect(model.opsetImport).toEqual([{ domain: '', version: 14 }]);
    const g = model.graph!;
    expect(g.node.map((n) => n.opType)).toEqual(['Transpose', 'LSTM', 'Transpose', 'Reshape', 'LSTM', 'Transpose', 'Reshape', 'Transpose', 'Concat', 'Concat', 'MatMul', 'Add']);
    expect(g.input.map((i) => i.type!.tensorType!.shape!.dim.map((d) => d.dimParam || d.dimValue))).toEqual([['batch', 'seq', I]]);
    expect(g.output.map((o) => o.name)).toEqual(['output', 'hN', 'cN', 'y']);
    const lstm = g.node[1];
    // X, W, R, B; no sequence_lens, no initial states (zeros), no peepholes.
    expect(lstm.input).toEqual(['X_tbi', 'W_l0', 'R_l0', 'B_l0']);
    expect(lstm.output).toEqual(['Y_l0', 'Y_h_l0', 'Y_c_l0']);
    expect(attribute(lstm, 'hidden_size')!.i).toBe(H);
    expect(text(attribute(lstm, 'direction')!.s)).toBe('bidirectional');
    expect(attribute(lstm, 'layout')!.i).toBe(0);
    expect(attribute(lstm, 'activations')).toBeUndefined();
    expect(g.node[0].attribute[0].ints).toEqual([1, 0, 2]);
    expect(g.node[2].attribute[0].ints).toEqual([0, 2, 1, 3]);
    expect(g.node[7].attribute[0].ints).toEqual([1, 0, 2]);
    const shape = g.initializer.find((t) => t.name === g.node[3].input[1])!;
    expect([shape.dataType, shape.int64Data]).toEqual([7, [0, 0, -1]]);
    expect(g.initializer.find((t) => t.name === 'W_l1')!.dims).toEqual([2, 4 * H, 2 * H]);
    expect(g.initializer.find((t) => t.name === 'B_l0')!.dims).toEqual([2, 8 * H]);
    expect(g.initializer.find((t) => t.name === 'readout_weight_t')!.dims).toEqual([2 * H, 2]);

    const one = (kind: 'rnn' | 'gru' | 'lstm', options: object) => {
      const s = resolveSpec(kind, { inputSize: I, hiddenSize: H, ...options });
      return decodeModel(exportOnnx(s, randomStateDict(s, rng))).graph!.node.find((n) => ['RNN', 'GRU', 'LSTM'].includes(n.opType))!;
    };
    // The GRU: linear_before_reset 1 for PyTorch's form (webrnn's default), 0 for ONNX's.
    expect(attribute(one('gru', {}), 'linear_before_reset')!.i).toBe(1);
    expect(attribute(one('gru', { linearBeforeReset: false }), 'linear_before_reset')!.i).toBe(0);
    expect(text(attribute(one('gru', {}), 'direction')!.s)).toBe('forward');
    // The Elman RNN lists its activation per direction; identity is Affine(1, 0).
    expect(attribute(one('rnn', { bidirectional: true }), 'activations')!.strings.map(text)).toEqual(['Tanh', 'Tanh']);
    expect(attribute(one('rnn', { nonlinearity: 'relu' }), 'activations')!.strings.map(text)).toEqual(['Relu']);
    const affine = one('rnn', { nonlinearity: 'identity', bidirectional: true });
    expect(attribute(affine, 'activations')!.strings.map(text)).toEqual(['Affine', 'Affine']);
    expect(attribute(affine, 'activation_alpha')!.floats).toEqual([1, 1]);
    expect(attribute(affine, 'activation_beta')!.floats).toEqual([0, 0]);
    // Other functions: forward's, then the reverse direction's; alpha and beta for those that take them.
    const custom = one('lstm', { bidirectional: true, peepholes: true, cell: { f: { name: 'HardSigmoid', alpha: 0.25, beta: 0.5 }, clip: 3, inputForget: true, reverse: { h: { name: 'LeakyRelu', alpha: 0.125 } } } });
    expect(attribute(custom, 'activations')!.strings.map(text)).toEqual(['HardSigmoid', 'Tanh', 'Tanh', 'HardSigmoid', 'Tanh', 'LeakyRelu']);
    expect(attribute(custom, 'activation_alpha')!.floats).toEqual([0.25, 0.25, 0.125]);
    expect(attribute(custom, 'activation_beta')!.floats).toEqual([0.5, 0.5]);
    expect(attribute(custom, 'clip')!.f).toBe(3);
    expect(attribute(custom, 'input_forget')!.i).toBe(1);
    expect(custom.input).toEqual(['X', 'W_l0', 'R_l0', 'B_l0', '', '', '', 'P_l0']);
    expect(ops(exportOnnx(resolveSpec('gru', { inputSize: I, hiddenSize: H }), randomStateDict(resolveSpec('gru', { inputSize: I, hiddenSize: H }), rng)))).toEqual(['GRU', 'Transpose', 'Reshape', 'Concat']);
  });

  it('puts the gate blocks in ONNX order: LSTM i, o, f, c; GRU z, r, h; peepholes i, o, f', () => {
    // Block k of every PyTorch tensor filled with k: the ONNX tensors show the order.
    const blocks = (kind: 'lstm' | 'gru', options: object) => {
      const s = resolveSpec(kind, { inputSize: 1, hiddenSize: 1, ...options });
      const dict = randomStateDict(s, rng);
      for (const name of Object.keys(dict)) if (!name.startsWith('readout')) dict[name] = Float32Array.from(dict[name], (_, i) => i);
      const g = decodeModel(exportOnnx(s, dict)).graph!;
      const floats = (name: string) => {
        const t = g.initializer.find((x) => x.name === name)!;
        return Array.from(new Float32Array(t.rawData.slice().buffer));
      };
      return { W: floats('W_l0'), R: floats('R_l0'), B: floats('B_l0'), P: s.peepholes ? floats('P_l0') : [] };
    };
    const lstm = blocks('lstm', { peepholes: true });
    expect(lstm.W).toEqual([0, 3, 1, 2]);
    expect(lstm.R).toEqual([0, 3, 1, 2]);
    expect(lstm.B).toEqual([0, 3, 1, 2, 0, 3, 1, 2]);
    expect(lstm.P).toEqual([0, 2, 1]);
    const gru = blocks('gru', { bidirectional: true });
    expect(gru.W).toEqual([1, 0, 2, 1, 0, 2]);
    expect(gru.B).toEqual([1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2]);
    expect(blocks('gru', { bias: false }).B).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('runs at any sequence length and batch size (symbolic seq and batch)', async () => {
    const model = engine.gru({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true, outputSize: 2 });
    model.loadStateDict(randomStateDict(model.spec, rng));
    const graph = await engine.loadOnnx(await model.exportOnnx());
    try {
      for (const [batch, seqLen] of [
        [1, 1],
        [4, 7],
        [2, 3],
      ]) {
        const x = randomFloats(rng, batch * seqLen * I);
        const want = await model.forward(x, { batch, seqLen });
        const out = await graph.run({ X: { dims: [batch, seqLen, I], data: x } });
        expectClose(`B ${batch} T ${seqLen} output (seed ${seed})`, out.output.data, want.output);
        expectClose(`B ${batch} T ${seqLen} hN (seed ${seed})`, out.hN.data, want.hN);
        expectClose(`B ${batch} T ${seqLen} y (seed ${seed})`, out.y.data, want.y!);
      }
    } finally {
      graph.destroy();
      model.destroy();
    }
  });
});

describe('a model that reads token ids', () => {
  it('exports int64 ids X and a Gather of the embedding, which run as the model does', async () => {
    const V = 9;
    for (const batchFirst of [false, true]) {
      const model = engine.lstm({ inputSize: I, hiddenSize: H, numLayers: 2, batchFirst, outputSize: 2, embedding: { numEmbeddings: V, paddingIdx: 1 } });
      model.loadStateDict(randomStateDict(model.spec, rng));
      const bytes = await model.exportOnnx();
      const gather = decodeModel(bytes).graph!.node.find((n) => n.opType === 'Gather');
      expect(gather?.input).toEqual(['embedding_weight', 'X']);
      const graph = await engine.loadOnnx(bytes);
      try {
        const [batch, seqLen] = [3, 4];
        const ids = Int32Array.from({ length: batch * seqLen }, () => Math.floor(rng.uniform() * V));
        const want = await model.forward(ids, { batch, seqLen });
        const out = await graph.run({ X: { dims: batchFirst ? [batch, seqLen] : [seqLen, batch], data: ids } });
        expectClose(`ids batchFirst=${batchFirst}: output (seed ${seed})`, out.output.data, want.output);
        expectClose(`ids batchFirst=${batchFirst}: y (seed ${seed})`, out.y.data, want.y);
      } finally {
        graph.destroy();
        model.destroy();
      }
    }
    const masked = engine.gru({ inputSize: I, hiddenSize: H, embedding: { numEmbeddings: V, maskZero: true } });
    await expect(masked.exportOnnx()).rejects.toThrow(/exportOnnx: an embedding with maskZero/);
    masked.destroy();
  });
});

describe('exportOnnx refuses', () => {
  it('parameters that hold NaN or ±Infinity, by name', async () => {
    const model = engine.lstm({ inputSize: I, hiddenSize: H, numLayers: 2 });
    const dict = randomStateDict(model.spec, rng);
    dict.weight_hh_l1[5] = NaN;
    model.loadStateDict(dict); // checkFinite is off: the model holds the NaN
    const err = await model.exportOnnx().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebRnnError);
    expect((err as WebRnnError).code).toBe('non-finite');
    expect((err as WebRnnError).message).toMatch(/exportOnnx: weight_hh_l1: element 5 is NaN/);
    model.destroy();
  });

  it('a state dict that is not the spec’s parameters', () => {
    const spec = resolveSpec('gru', { inputSize: I, hiddenSize: H });
    const dict = randomStateDict(spec, rng);
    delete dict.bias_hh_l0;
    expect(() => exportOnnx(spec, dict)).toThrow(/missing 'bias_hh_l0'/);
    expect(() => exportOnnx(spec, { ...randomStateDict(spec, rng), weight_ih_l0: new Float32Array(2) })).toThrow(WebRnnError);
  });
});
