/**
 * Whole ONNX graphs laid out as PyTorch's exporter lays out a stacked bidirectional LSTM with a
 * Linear read-out (Transpose, Slice of the initial states, Reshape, Concat, MatMul + Add around
 * two LSTM nodes) and as it builds zero initial states for a batch known only at run time
 * (Shape, Gather, Concat, ConstantOfShape, Expand, Cast), loaded with engine.load and compared
 * with the float64 reference of the same PyTorch model, through run and through forward.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { OnnxModel } from '../../src/io/onnx-model.js';
import { encodeModel, tensorValues } from '../../src/io/onnx-proto.js';
import { resolveSpec } from '../../src/spec/spec.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('onnx-graph');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const FLOAT = 1;
const INT64 = 7;
const floats = (name: string, dims: number[], data: Float32Array) => ({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() });
const int64s = (name: string, values: number[]) => ({ name, dims: [values.length], dataType: INT64, int64Data: values });
const node = (opType: string, input: string[], output: string[], attribute: object[] = []) => ({ opType, name: `${opType}_${output[0]}`, input, output, attribute });
const ints = (name: string, v: number[]) => ({ name, ints: v, type: 7 });
const valueInfo = (name: string) => ({ name, type: { tensorType: { elemType: FLOAT } } });

const I = 3;
const H = 4;
const O = 2;
const B = 2;
const T = 5;

/** A PyTorch-style export of a 2-layer bidirectional batch-first LSTM with a Linear read-out. */
function pytorchStyleGraph(options: { mixLayers?: boolean } = {}) {
  {
    const spec = resolveSpec('lstm', { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true, outputSize: O });
    const dict = randomStateDict(spec, rng);
    // PyTorch's blocks i, f, g, o → ONNX's i, o, f, c; B = [W bias | R bias] per direction.
    const onnxOrder = [0, 3, 1, 2];
    const reorder = (a: Float32Array, rows: number): Float32Array => {
      const out = new Float32Array(a.length);
      onnxOrder.forEach((from, to) => out.set(a.subarray(from * H * rows, (from + 1) * H * rows), to * H * rows));
      return out;
    };
    const initializers: object[] = [];
    for (let l = 0; l < 2; l++) {
      const inSize = l === 0 ? I : 2 * H;
      const W = new Float32Array(2 * 4 * H * inSize);
      const R = new Float32Array(2 * 4 * H * H);
      const Bv = new Float32Array(2 * 8 * H);
      for (let d = 0; d < 2; d++) {
        const sfx = `_l${l}${d ? '_reverse' : ''}`;
        W.set(reorder(dict[`weight_ih${sfx}`], inSize), d * 4 * H * inSize);
        R.set(reorder(dict[`weight_hh${sfx}`], H), d * 4 * H * H);
        Bv.set(reorder(dict[`bias_ih${sfx}`], 1), d * 8 * H);
        Bv.set(reorder(dict[`bias_hh${sfx}`], 1), d * 8 * H + 4 * H);
      }
      initializers.push(floats(`W${l}`, [2, 4 * H, inSize], W), floats(`R${l}`, [2, 4 * H, H], R), floats(`B${l}`, [2, 8 * H], Bv));
    }
    // Linear: y = out·Wᵀ + b, exported as MatMul with the transposed weight, then Add.
    const wfc = dict['readout.weight'];
    const wfcT = new Float32Array(2 * H * O);
    for (let o = 0; o < O; o++) for (let f = 0; f < 2 * H; f++) wfcT[f * O + o] = wfc[o * 2 * H + f];
    initializers.push(floats('fc_w', [2 * H, O], wfcT), floats('fc_b', [O], dict['readout.bias']));
    initializers.push(int64s('s0', [0]), int64s('s2', [2]), int64s('s4', [4]), int64s('ax0', [0]), int64s('shape', [0, 0, -1]));
    const lstm = (l: number, x: string) => node('LSTM', [x, `W${l}`, `R${l}`, `B${l}`, '', `h0_l${l}`, `c0_l${l}`], [`Y${l}`, `Yh${l}`, `Yc${l}`], [{ name: 'hidden_size', i: H, type: 2 }, { name: 'direction', s: new TextEncoder().encode('bidirectional'), type: 3 }]);
    const nodes = [
      node('Transpose', ['input'], ['x_tbi'], [ints('perm', [1, 0, 2])]),
      node('Slice', ['h0', 's0', 's2', 'ax0'], ['h0_l0']),
      node('Slice', ['c0', 's0', 's2', 'ax0'], ['c0_l0']),
      node('Slice', ['h0', 's2', 's4', 'ax0'], ['h0_l1']),
      node('Slice', ['c0', 's2', 's4', 'ax0'], ['c0_l1']),
      lstm(0, 'x_tbi'),
      // [T, D, B, H] → [T, B, D·H]; without the Transpose, a reshape that mixes the batch and
      // the directions (the dims still fit when B = D).
      ...(options.mixLayers ? [node('Reshape', ['Y0', 'shape'], ['y0'])] : [node('Transpose', ['Y0'], ['Y0t'], [ints('perm', [0, 2, 1, 3])]), node('Reshape', ['Y0t', 'shape'], ['y0'])]),
      lstm(1, 'y0'),
      node('Transpose', ['Y1'], ['Y1t'], [ints('perm', [0, 2, 1, 3])]),
      node('Reshape', ['Y1t', 'shape'], ['y1']),
      node('Transpose', ['y1'], ['out'], [ints('perm', [1, 0, 2])]),
      node('MatMul', ['out', 'fc_w'], ['mm']),
      node('Add', ['mm', 'fc_b'], ['logits']),
      node('Concat', ['Yh0', 'Yh1'], ['hN'], [{ name: 'axis', i: 0, type: 2 }]),
    ];
    const bytes = encodeModel({
      irVersion: 10,
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'torch_jit', node: nodes, initializer: initializers, input: ['input', 'h0', 'c0'].map(valueInfo), output: ['logits', 'hN'].map(valueInfo) },
    });
    return { spec, dict, bytes };
  }
}

/** A GRU exported without h0: zeros (plus a broadcast constant) for the batch of X at run time. */
function dynamicBatchGraph() {
  const spec = resolveSpec('gru', { inputSize: I, hiddenSize: H });
  const dict = randomStateDict(spec, rng);
  const onnxOrder = [1, 0, 2]; // ONNX z, r, h from PyTorch r, z, n
  const reorder = (a: Float32Array, rows: number): Float32Array => {
    const out = new Float32Array(a.length);
    onnxOrder.forEach((from, to) => out.set(a.subarray(from * H * rows, (from + 1) * H * rows), to * H * rows));
    return out;
  };
  const Bv = new Float32Array(6 * H);
  Bv.set(reorder(dict.bias_ih_l0, 1), 0);
  Bv.set(reorder(dict.bias_hh_l0, 1), 3 * H);
  const hvec = randomFloats(rng, H);
  const symbolic = (name: string, dims: Array<number | string>, elemType = FLOAT) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  const castAttr = { name: 'to', i: FLOAT, type: 2 };
  const nodes = [
    node('Shape', ['X'], ['xshape']),
    node('Gather', ['xshape', 'one'], ['batch']),
    node('Concat', ['one', 'batch', 'hsize'], ['h0shape'], [{ name: 'axis', i: 0, type: 2 }]),
    node('ConstantOfShape', ['h0shape'], ['zeros'], [{ name: 'value', t: floats('v', [1], new Float32Array([0])), type: 4 }]),
    node('Expand', ['hvec', 'h0shape'], ['hrep']),
    node('Add', ['zeros', 'hrep'], ['h0f']),
    node('Cast', ['h0f'], ['h0'], [castAttr]),
    node('GRU', ['X', 'W', 'R', 'B', 'sequence_lens', 'h0'], ['Y', 'Y_h'], [{ name: 'hidden_size', i: H, type: 2 }, { name: 'linear_before_reset', i: 1, type: 2 }]),
    // Folded at load: a float-to-integer cast truncates toward zero.
    node('Cast', ['fractions'], ['truncated'], [{ name: 'to', i: INT64, type: 2 }]),
  ];
  const bytes = encodeModel({
    irVersion: 10,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'torch_jit',
      node: nodes,
      initializer: [
        floats('W', [1, 3 * H, I], reorder(dict.weight_ih_l0, I)),
        floats('R', [1, 3 * H, H], reorder(dict.weight_hh_l0, H)),
        floats('B', [1, 6 * H], Bv),
        floats('hvec', [1, 1, H], hvec),
        floats('fractions', [3], new Float32Array([-1.75, 2.5, 0.25])),
        int64s('one', [1]),
        int64s('hsize', [H]),
      ],
      input: [symbolic('X', ['seq', 'batch', I]), symbolic('sequence_lens', ['batch'], 6)],
      output: ['Y', 'Y_h', 'truncated'].map(valueInfo),
    },
  });
  return { spec, dict, bytes, hvec };
}

describe('ONNX graphs with glue around the recurrent nodes', () => {
  it('a 2-layer bidirectional LSTM, batch first, with a Linear read-out, as PyTorch exports it', async () => {
    const { spec, dict, bytes } = pytorchStyleGraph();
    const graph = await engine.load(bytes);
    if (!(graph instanceof OnnxModel)) throw new Error('engine.load did not give an OnnxModel for ONNX bytes');
    expect(graph.inputNames).toEqual(['input', 'h0', 'c0']);
    const x = randomFloats(rng, B * T * I);
    const h0 = randomFloats(rng, 4 * B * H);
    const c0 = randomFloats(rng, 4 * B * H);
    const out = await graph.run({ input: { dims: [B, T, I], data: x }, h0: { dims: [4, B, H], data: h0 }, c0: { dims: [4, B, H], data: c0 } });
    const ref = recurrentForwardReference(spec, dict, x, { batch: B, seqLen: T, h0, c0 });
    expect(out.logits.dims).toEqual([B, T, O]);
    expect(out.hN.dims).toEqual([4, B, H]);
    expectClose(`graph logits (seed ${seed})`, out.logits.data, ref.y!);
    expectClose(`graph hN (seed ${seed})`, out.hN.data, ref.hN);

    // forward: the two LSTM nodes as one 2-layer bidirectional model, in the nodes' layout
    // (sequence first: the exporter's Transpose is glue), without the read-out.
    const stack = graph.recurrentModel();
    expect([stack.spec.numLayers, stack.spec.numDirections, stack.spec.batchFirst]).toEqual([2, 2, false]);
    const xSeq = new Float32Array(T * B * I);
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) xSeq.set(x.subarray((b * T + t) * I, (b * T + t + 1) * I), (t * B + b) * I);
    const seqLens = [5, 3];
    const f = await graph.forward(xSeq, { batch: B, seqLen: T, h0, c0, seqLens });
    const seqSpec = resolveSpec('lstm', { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true });
    const fref = recurrentForwardReference(seqSpec, dict, xSeq, { batch: B, seqLen: T, h0, c0, seqLens });
    expectClose(`forward output (seed ${seed})`, f.output, fref.output);
    expectClose(`forward hN (seed ${seed})`, f.hN, fref.hN);
    expectClose(`forward cN (seed ${seed})`, f.cN!, fref.cN!);
    graph.destroy();
    await expect(graph.run({})).rejects.toThrow(/destroyed/);
  });

  it('forward refuses layers that the glue does not join as [T, B, D·H]', async () => {
    const { bytes } = pytorchStyleGraph({ mixLayers: true });
    const graph = await engine.loadOnnx(bytes);
    // run still runs what the file says; forward cannot be one model.
    const x = randomFloats(rng, B * T * I);
    await graph.run({ input: { dims: [B, T, I], data: x }, h0: { dims: [4, B, H], data: new Float32Array(4 * B * H) }, c0: { dims: [4, B, H], data: new Float32Array(4 * B * H) } });
    await expect(graph.forward(x, { batch: B, seqLen: T })).rejects.toThrow(/do not form one stack .* is not the Y of/);
    graph.destroy();
  });

  it('zero initial states for a batch known at run time (Shape, Gather, ConstantOfShape, Expand, Cast)', async () => {
    const { spec, dict, bytes, hvec } = dynamicBatchGraph();
    const graph = await engine.load(bytes, { format: 'onnx' });
    expect(graph.inputs.map((i) => i.dims)).toEqual([['seq', 'batch', I], ['batch']]);
    for (const [batch, seqLen] of [
      [2, 4],
      [3, 6],
    ]) {
      const x = randomFloats(rng, seqLen * batch * I);
      const lens = Array.from({ length: batch }, (_, b) => seqLen - b);
      // Flat feeds: sequence_lens fixes 'batch', and then X's 'seq' follows from its length.
      const out = await graph.run({ X: x, sequence_lens: lens });
      const h0 = new Float32Array(batch * H);
      for (let b = 0; b < batch; b++) h0.set(hvec, b * H);
      const ref = recurrentForwardReference(spec, dict, x, { batch, seqLen, h0, seqLens: lens });
      expect(out.Y.dims).toEqual([seqLen, 1, batch, H]);
      expectClose(`dynamic batch ${batch}: Y (seed ${seed})`, out.Y.data, ref.output);
      expectClose(`dynamic batch ${batch}: Y_h (seed ${seed})`, out.Y_h.data, ref.hN);
      expect(Array.from(out.truncated.data)).toEqual([-1, 2, 0]);
    }
    // X alone leaves both 'seq' and 'batch' open.
    await expect(graph.run({ X: randomFloats(rng, 12 * I), sequence_lens: { dims: [5], data: new Int32Array(5).fill(1) } })).rejects.toThrow(/'X' has 36 values, which do not fill/);
    await expect(graph.run({ X: randomFloats(rng, 2 * 2 * I) })).rejects.toThrow(/input 'sequence_lens' missing|cannot be told/);
    await expect(graph.run({ X: { dims: [2, 2, I + 1], data: new Float32Array(4 * (I + 1)) }, sequence_lens: [2, 2] })).rejects.toThrow(/input 'X'/);
    graph.destroy();
  });

  it('engine.load tells the formats apart and checks the one it is told', async () => {
    const { bytes } = dynamicBatchGraph();
    await expect(engine.load(bytes, { format: 'safetensors' })).rejects.toThrow(/an ONNX model, not safetensors/);
    await expect(engine.load(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(/neither a safetensors file nor an ONNX model/);
    await expect(engine.load(bytes, { format: 'bogus' as 'onnx' })).rejects.toThrow(/format must be/);
    await expect(engine.load(bytes, { dropout: 0.5, seed: 3 })).rejects.toThrow(/load: dropout, seed: options of safetensors and TensorFlow.js files, not of ONNX models/);
  });

  it('fuzz: 3000 mutated files each load or fail with our error (parsing, checks, constant folding)', async () => {
    const sources = [pytorchStyleGraph().bytes, dynamicBatchGraph().bytes];
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) {
      const pick = (n: number): number => Math.floor(rng.uniform() * n);
      const b = sources[i % 2].slice();
      let mutant: Uint8Array = b;
      const kind = pick(4);
      if (kind === 0) for (let k = 1 + pick(4); k > 0; k--) b[pick(b.length)] = pick(256);
      else if (kind === 1) mutant = b.subarray(0, pick(b.length));
      else if (kind === 2) for (let k = 1 + pick(4); k > 0; k--) b[pick(b.length)] ^= 1 << pick(8);
      else {
        // A run of bytes copied over another place: fields and lengths from elsewhere.
        const from = pick(b.length);
        const len = 1 + pick(16);
        b.copyWithin(pick(b.length), from, Math.min(b.length, from + len));
      }
      let outcome = 'ok';
      try {
        (await engine.loadOnnx(mutant)).destroy();
      } catch (e) {
        if (!(e instanceof WebRnnError)) throw new Error(`mutant ${i}: not a WebRnnError: ${String(e)} (seed ${seed})`);
        outcome = e.code;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.info(`fuzz (ONNX load): 3000 inputs, outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('fuzz: 400 mutated graphs each run or fail with our error', async () => {
    const { bytes } = pytorchStyleGraph();
    const feeds = { input: { dims: [B, T, I], data: randomFloats(rng, B * T * I) }, h0: { dims: [4, B, H], data: randomFloats(rng, 4 * B * H) }, c0: { dims: [4, B, H], data: randomFloats(rng, 4 * B * H) } };
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const pick = (n: number): number => Math.floor(rng.uniform() * n);
      const b = bytes.slice();
      let mutant: Uint8Array = b;
      const kind = pick(3);
      if (kind === 0) for (let k = 1 + pick(3); k > 0; k--) b[pick(b.length)] = pick(256);
      else if (kind === 1) mutant = b.subarray(0, pick(b.length));
      else for (let k = 1 + pick(3); k > 0; k--) b[pick(b.length)] ^= 1 << pick(8);
      let outcome = 'ok';
      try {
        const g = await engine.loadOnnx(mutant);
        try {
          await g.run(feeds);
          // forward, where the mutant still is a stack, or our refusal.
          await g.forward(feeds.input.data, { batch: B, seqLen: T });
        } finally {
          g.destroy();
        }
      } catch (e) {
        if (!(e instanceof WebRnnError)) throw new Error(`mutant ${i}: not a WebRnnError: ${String(e)} (seed ${seed})`);
        outcome = e.code;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.info(`fuzz (ONNX graphs): 400 inputs, outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('a tensor whose dims ask for more than any array holds is refused before anything is allocated', () => {
    const lying = { name: 't', dims: [1e9, 1e9, 1e9], dataType: FLOAT, rawData: new Uint8Array(4), floatData: [], int32Data: [], int64Data: [], doubleData: [], dataLocation: 0 };
    expect(() => tensorValues(lying)).toThrow(/tensor 't' has 4 bytes of data/);
    expect(() => tensorValues({ ...lying, rawData: new Uint8Array(0), floatData: [1, 2] })).toThrow(/tensor 't' has 2 values/);
  });

  it('refuses operators it does not run, and inputs it is not given', async () => {
    const bytes = encodeModel({ irVersion: 10, graph: { name: 'g', node: [node('Softmax', ['x'], ['y']), node('LSTM', ['y', 'W', 'R'], ['Y'])], input: [valueInfo('x')], output: [valueInfo('Y')] } });
    await expect(engine.loadOnnx(bytes)).rejects.toThrow(/operator Softmax .* is not supported/);
    const ok = encodeModel({ irVersion: 10, graph: { name: 'g', node: [node('Identity', ['x'], ['z'])], input: [valueInfo('x')], output: [valueInfo('z')] } });
    await expect(engine.loadOnnx(ok)).rejects.toThrow(WebRnnError);
  });
});
