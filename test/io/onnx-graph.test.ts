/**
 * Whole ONNX graphs laid out as PyTorch's exporter lays out a stacked bidirectional LSTM with a
 * Linear read-out (Transpose, Slice of the initial states, Reshape, Concat, MatMul + Add around
 * two LSTM nodes), run by the graph runner and compared with the float64 reference of the same
 * PyTorch model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { WebRnnError } from '../../src/errors.js';
import { encodeModel } from '../../src/io/onnx-proto.js';
import { resolveSpec } from '../../src/model/spec.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('onnx-graph');
let engine: Engine;
beforeAll(async () => {
  engine = await createEngine();
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
function pytorchStyleGraph() {
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
      node('Transpose', ['Y0'], ['Y0t'], [ints('perm', [0, 2, 1, 3])]),
      node('Reshape', ['Y0t', 'shape'], ['y0']),
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

describe('ONNX graphs with glue around the recurrent nodes', () => {
  it('a 2-layer bidirectional LSTM, batch first, with a Linear read-out, as PyTorch exports it', async () => {
    const { spec, dict, bytes } = pytorchStyleGraph();
    const graph = engine.loadOnnxGraph(bytes);
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
    graph.destroy();
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
        const g = engine.loadOnnxGraph(mutant);
        try {
          await g.run(feeds);
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

  it('refuses operators it does not run, and inputs it is not given', async () => {
    const bytes = encodeModel({ irVersion: 10, graph: { name: 'g', node: [node('Softmax', ['x'], ['y']), node('LSTM', ['y', 'W', 'R'], ['Y'])], input: [valueInfo('x')], output: [valueInfo('Y')] } });
    expect(() => engine.loadOnnxGraph(bytes)).toThrow(/operator Softmax .* is not supported/);
    const ok = encodeModel({ irVersion: 10, graph: { name: 'g', node: [node('Identity', ['x'], ['z'])], input: [valueInfo('x')], output: [valueInfo('z')] } });
    expect(() => engine.loadOnnxGraph(ok)).toThrow(WebRnnError);
  });
});
