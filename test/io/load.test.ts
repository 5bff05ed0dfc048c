/** engine.load of PyTorch state dicts saved as safetensors, and model.save. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { parameterInfo, resolveSpec, type CellKind, type GruOptions, type RnnOptions } from '../../src/spec/spec.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';

const { rng, seed } = testRandom('load');
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

/** A PyTorch-style file: the recurrent module under `prefix`, an optional Linear `fc.` read-out. */
function pytorchFile(kind: CellKind, options: RnnOptions & GruOptions, prefix: string, extra: Record<string, { shape: number[]; data: Float32Array }> = {}) {
  const spec = resolveSpec(kind, options);
  const dict = randomStateDict(spec, rng);
  const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const p of parameterInfo(spec)) {
    const name = p.role === 'readout_weight' ? 'fc.weight' : p.role === 'readout_bias' ? 'fc.bias' : prefix + p.name;
    tensors[name] = { shape: p.shape, data: dict[p.name] };
  }
  Object.assign(tensors, extra);
  return { spec, dict, bytes: writeSafetensors(tensors, { format: 'pt' }) };
}

async function loadError(bytes: Uint8Array, options = {}): Promise<WebRnnError> {
  try {
    (await engine.load(bytes, options)).destroy();
  } catch (e) {
    expect(e).toBeInstanceOf(WebRnnError);
    return e as WebRnnError;
  }
  throw new Error('load succeeded');
}

describe('engine.load', () => {
  const cases: Array<[CellKind, RnnOptions & GruOptions, string]> = [
    ['lstm', { inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, outputSize: 2 }, 'encoder.lstm.'],
    ['gru', { inputSize: 4, hiddenSize: 6, numLayers: 1, bidirectional: false }, 'rnn.'],
    ['rnn', { inputSize: 2, hiddenSize: 7, numLayers: 3, bidirectional: true, bias: false, nonlinearity: 'relu', outputSize: 3 }, ''],
  ];
  for (const [kind, options, prefix] of cases) {
    it(`infers a ${kind} (${JSON.stringify(options)}) under prefix '${prefix}' and runs it`, async () => {
      const file = pytorchFile(kind, options, prefix);
      const model = await engine.load(file.bytes, { format: 'safetensors', ...(kind === 'rnn' ? { nonlinearity: options.nonlinearity } : {}) });
      expect(model.kind).toBe(kind);
      expect(model.spec).toEqual(file.spec);
      const B = 2;
      const T = 5;
      const x = randomFloats(rng, T * B * options.inputSize);
      const got = await model.forward(x, { batch: B, seqLen: T });
      const ref = recurrentForwardReference(file.spec, file.dict, x, { batch: B, seqLen: T });
      expectClose(`${kind} loaded output (seed ${seed})`, got.output, ref.output);
      if (ref.y) expectClose(`${kind} loaded read-out (seed ${seed})`, got.y!, ref.y);
      // save() writes the file's own tensors under their names (and, for the relu RNN, the
      // nonlinearity the names cannot tell); loading it back, with no option, gives the same bits.
      const saved = await model.save({ metadata: { format: 'pt' } });
      const savedFile = readSafetensors(saved);
      expect(savedFile.tensors).toEqual(readSafetensors(file.bytes).tensors);
      expect(savedFile.metadata).toEqual(kind === 'rnn' ? { format: 'pt', 'webrnn.model': '{"nonlinearity":"relu"}' } : { format: 'pt' });
      if (kind !== 'rnn') expect(saved).toEqual(file.bytes);
      const again = await engine.load(saved, { format: 'safetensors' });
      expect(again.spec).toEqual(model.spec);
      const [a, b] = [await model.stateDict(), await again.stateDict()];
      for (const k of Object.keys(a)) expect(new Uint32Array(b[k].buffer), k).toEqual(new Uint32Array(a[k].buffer));
      model.destroy();
      again.destroy();
    });
  }

  it('a built model saves under its own names, which load back', async () => {
    const model = engine.gru({ inputSize: 3, hiddenSize: 4, outputSize: 2, bidirectional: true });
    const bytes = await model.save();
    const back = await engine.load(bytes, { format: 'safetensors' });
    expect(back.spec).toEqual(model.spec);
    const [a, b] = [await model.stateDict(), await back.stateDict()];
    for (const k of Object.keys(a)) expect(b[k], k).toEqual(a[k]);
    model.destroy();
    back.destroy();
  });

  it('saves in half precision on request: the rounded weights, half the bytes; not with the optimizer', async () => {
    const model = engine.lstm({ inputSize: 3, hiddenSize: 5, outputSize: 2, embedding: { numEmbeddings: 7 } });
    const full = await model.save();
    for (const dtype of ['F16', 'BF16'] as const) {
      const bytes = await model.save({ dtype, metadata: { note: dtype } });
      expect(bytes.length).toBeLessThan(full.length / 2 + 600);
      const back = await engine.load(bytes, { format: 'safetensors' });
      expect(back.spec).toEqual(model.spec);
      const [a, b] = [await model.stateDict(), await back.stateDict()];
      const round = (v: number): number => readSafetensors(writeSafetensors({ v: { shape: [], data: Float32Array.of(v) } }, undefined, dtype)).tensors.v.data[0];
      for (const k of Object.keys(a)) {
        expect(Array.from(b[k]), k).toEqual(Array.from(a[k], round));
        expect(Array.from(b[k]), k).not.toEqual(Array.from(a[k]));
      }
      expect(readSafetensors(bytes).metadata.note).toBe(dtype);
      back.destroy();
    }
    await model.trainStep(Int32Array.of(1, 2, 3), new Float32Array(6), { batch: 1, seqLen: 3, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } });
    await expect(model.save({ optimizer: true, dtype: 'F16' })).rejects.toThrow(/optimizer: true needs F32/);
    await expect(model.save({ dtype: 'F8' as 'F16' })).rejects.toThrow(/dtype must be 'F32', 'F16' or 'BF16', got F8/);
    model.destroy();
  });

  for (const [kind, bias] of [['lstm', true], ['gru', false], ['rnn', true]] as const) {
    it(`loads an nn.${kind === 'rnn' ? 'RNN' : kind.toUpperCase()}Cell state dict${bias ? '' : ' without biases'} as one layer and saves its names back`, async () => {
      const spec = resolveSpec(kind, { inputSize: 3, hiddenSize: 5, bias, outputSize: 2 });
      const dict = randomStateDict(spec, rng);
      const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
      for (const p of parameterInfo(spec)) tensors[p.role === 'readout_weight' ? 'head.weight' : p.role === 'readout_bias' ? 'head.bias' : `cell.${p.name.replace('_l0', '')}`] = { shape: p.shape, data: dict[p.name] };
      const bytes = writeSafetensors(tensors);
      const model = await engine.load(bytes, { format: 'safetensors' });
      expect(model.spec).toEqual(spec);
      const B = 3;
      const x = randomFloats(rng, B * 3);
      const got = await model.forward(x, { batch: B, seqLen: 1 });
      expectClose(`${kind} cell: one step (seed ${seed})`, got.y, recurrentForwardReference(spec, dict, x, { batch: B, seqLen: 1 }).y!);
      expect(await model.save()).toEqual(bytes);
      model.destroy();
    });
  }

  it('finds an nn.Embedding before the recurrent module (a weight of its input width, no bias), or the one named', async () => {
    const ids = Int32Array.from([3, 0, 9, 4, 4, 1]);
    const file = pytorchFile('gru', { inputSize: 2, hiddenSize: 3, outputSize: 2 }, 'rnn.', { 'embed.weight': { shape: [10, 2], data: randomFloats(rng, 20) } });
    const model = await engine.load(file.bytes, { format: 'safetensors', paddingIdx: 0 });
    expect(model.spec.embedding).toEqual({ numEmbeddings: 10, paddingIdx: 0, maskZero: false });
    const dict = await model.stateDict();
    const ref = recurrentForwardReference(model.spec, dict, ids, { batch: 2, seqLen: 3 });
    expectClose(`embedded GRU (seed ${seed})`, (await model.forward(ids, { batch: 2, seqLen: 3 })).y, ref.y);
    // The padding id, which the names cannot tell, goes into the file's metadata.
    const saved = await model.save({ metadata: { format: 'pt' } });
    expect(readSafetensors(saved).tensors).toEqual(readSafetensors(file.bytes).tensors);
    expect((await engine.load(saved, { format: 'safetensors' })).spec.embedding?.paddingIdx).toBe(0);
    model.destroy();
    const plain = await engine.load(file.bytes, { format: 'safetensors', embedding: false, ignoreUnknown: true });
    expect(plain.spec.embedding).toBeNull();
    plain.destroy();
    const two = pytorchFile('gru', { inputSize: 2, hiddenSize: 3 }, 'rnn.', { 'a.weight': { shape: [10, 2], data: new Float32Array(20) }, 'b.weight': { shape: [5, 2], data: new Float32Array(10) } });
    expect((await loadError(two.bytes)).message).toMatch(/several possible embeddings \('a.weight', 'b.weight'\); choose one with the embedding option/);
    const b = await engine.load(two.bytes, { format: 'safetensors', embedding: 'b', ignoreUnknown: true });
    expect(b.spec.embedding?.numEmbeddings).toBe(5);
    b.destroy();
    expect((await loadError(two.bytes, { embedding: 'c' })).message).toMatch(/no nn.Embedding 'c' of 2 features in the file/);
    const none = pytorchFile('gru', { inputSize: 2, hiddenSize: 3 }, '');
    expect((await loadError(none.bytes, { paddingIdx: 0 })).message).toMatch(/paddingIdx given, but the file has no embedding/);
  });

  it('stacks recurrent modules given in order, or chained by their shapes in one order only; unlike ones as a stack of their layers', async () => {
    // lstm1 [3 → 4] then lstm2 [4 → 4], written second-module-first.
    const spec = resolveSpec('gru', { inputSize: 3, hiddenSize: 4 });
    const first = randomStateDict(spec, rng);
    const extra = Object.fromEntries(parameterInfo(spec).map((p) => [`first.${p.name}`, { shape: [...p.shape], data: first[p.name] }]));
    const two = pytorchFile('gru', { inputSize: 4, hiddenSize: 4, numLayers: 2 }, 'second.', extra);
    const given = await engine.load(two.bytes, { format: 'safetensors', layers: ['first', 'second'] });
    expect(given.spec.numLayers).toBe(3);
    expect(given.spec.inputSize).toBe(3);
    const dict = await given.stateDict();
    expect(dict.weight_ih_l0).toEqual(first.weight_ih_l0);
    expect(dict.weight_hh_l2).toEqual(two.dict.weight_hh_l1);
    // Saved under the file's own names, which load back as the same stack.
    const saved = await given.save();
    expect(Object.keys(readSafetensors(saved).tensors).sort()).toEqual(Object.keys(readSafetensors(two.bytes).tensors).sort());
    const back = await engine.load(saved, { format: 'safetensors', layers: ['first', 'second'] });
    const again = await back.stateDict();
    for (const k of Object.keys(dict)) expect(again[k], k).toEqual(dict[k]);
    back.destroy();
    // Without the option: only first → second chains (second reads 4 features, first 3).
    const auto = await engine.load(two.bytes, { format: 'safetensors' });
    expect((await auto.stateDict()).weight_ih_l0).toEqual(first.weight_ih_l0);
    for (const m of [given, auto]) m.destroy();
    // Unlike modules: a stack, its layers each module's.
    const lstm = resolveSpec('lstm', { inputSize: 3, hiddenSize: 4 });
    const unlike = pytorchFile('gru', { inputSize: 4, hiddenSize: 4 }, 'b.', Object.fromEntries(parameterInfo(lstm).map((p) => [`a.${p.name}`, { shape: [...p.shape], data: randomStateDict(lstm, rng)[p.name] }])));
    const stack = await engine.load(unlike.bytes, { format: 'safetensors', layers: ['a', 'b'] });
    expect(stack.spec.layers.map((l) => l.kind)).toEqual(['lstm', 'gru']);
    expect((await stack.stateDict()).weight_hh_l1).toEqual(unlike.dict.weight_hh_l0);
    stack.destroy();
    const noBias = pytorchFile('gru', { inputSize: 4, hiddenSize: 4, bias: false }, 'b.', Object.fromEntries(parameterInfo(lstm).map((p) => [`a.${p.name}`, { shape: [...p.shape], data: new Float32Array(p.shape.reduce((x, y) => x * y, 1)) }])));
    expect((await loadError(noBias.bytes, { layers: ['a', 'b'] })).message).toMatch(/modules with and without bias in one stack \('a\.': LSTM of 4 units, 1 layer, 3 inputs; 'b\.': GRU of 4 units, 1 layer, no bias, 4 inputs\)/);
    expect((await loadError(two.bytes, { layers: ['second', 'first'] })).message).toMatch(/'first\.': GRU of 4 units, 1 layer, 3 inputs cannot read the 4 features of the module before it/);
    expect((await loadError(two.bytes, { layers: ['first'], prefix: 'second.' })).message).toMatch(/give prefix \(one module\) or layers/);
    expect((await loadError(two.bytes, { layers: ['third'] })).message).toMatch(/no recurrent weights under prefix 'third\.'/);
  });

  it('saves a stack of unlike layers with its layers\' own options, and loads it back as it was', async () => {
    const model = engine.stack({ inputSize: 3, layers: [{ kind: 'gru', hiddenSize: 4, bidirectional: true, linearBeforeReset: false }, { kind: 'rnn', hiddenSize: 5, nonlinearity: 'relu' }, { kind: 'lstm', hiddenSize: 2 }], outputSize: 2, batchFirst: true });
    const bytes = await model.save();
    expect(JSON.parse(readSafetensors(bytes).metadata['webrnn.model'])).toEqual({ batchFirst: true, layers: [{ linearBeforeReset: false }, { nonlinearity: 'relu' }, {}] });
    const back = await engine.load(bytes, { format: 'safetensors' });
    expect(back.spec).toEqual(model.spec);
    const dict = await model.stateDict();
    const again = await back.stateDict();
    for (const k of Object.keys(dict)) expect(again[k], k).toEqual(dict[k]);
    // A nonlinearity given to load is every Elman layer's.
    expect((await engine.load(bytes, { format: 'safetensors', nonlinearity: 'tanh' })).spec.layers[1].nonlinearity).toBe('tanh');
    const file = readSafetensors(bytes);
    expect((await loadError(writeSafetensors(file.tensors, { 'webrnn.model': '{"layers":[{"nonlinearity":1}]}' }))).message).toMatch(/layers must be a list of \{ nonlinearity\?, linearBeforeReset\? \}/);
    for (const m of [model, back]) m.destroy();
  });

  it('saves what the weights cannot tell, and loads it back as the defaults of the options', async () => {
    const model = engine.gru({ inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, returnSequences: false, seed: 9, dropout: 0.25, stateful: true, goBackwards: true, outputSize: 2, embedding: { numEmbeddings: 7, paddingIdx: 2, maskZero: true } });
    const bytes = await model.save();
    const back = await engine.load(bytes, { format: 'safetensors' });
    expect(back.spec).toEqual(model.spec);
    // Options given to load win over the saved ones.
    const other = await engine.load(bytes, { format: 'safetensors', batchFirst: false, dropout: 0 });
    expect([other.spec.batchFirst, other.spec.dropout, other.spec.stateful]).toEqual([false, 0, true]);
    const rnn = engine.rnn({ inputSize: 2, hiddenSize: 3, nonlinearity: 'identity' });
    expect((await engine.load(await rnn.save(), { format: 'safetensors' })).spec.nonlinearity).toBe('identity');
    // A file with defaults only carries no entry, as PyTorch writes it.
    expect(readSafetensors(await engine.lstm({ inputSize: 2, hiddenSize: 3 }).save()).metadata).toEqual({});
    await expect(model.save({ metadata: { 'webrnn.model': '{}' } })).rejects.toThrow(/the metadata key 'webrnn.model' is webrnn's/);
    const file = readSafetensors(bytes);
    const bad = (entry: string) => writeSafetensors(file.tensors, { 'webrnn.model': entry });
    expect((await loadError(bad('{"batchFirst":"yes"}'))).message).toMatch(/batchFirst must be a boolean, got "yes"/);
    expect((await loadError(bad('{"projSize":3}'))).message).toMatch(/unknown option 'projSize'/);
    expect((await loadError(bad('{"dropout":2}'))).message).toMatch(/dropout must be a probability/);
    for (const m of [model, back, other, rnn]) m.destroy();
  });

  it('refuses a cell file that does not fit, saying what it found and what it expected', async () => {
    const cell = (extra: Record<string, { shape: number[]; data: Float32Array }>) => writeSafetensors({ 'cell.weight_ih': { shape: [8, 3], data: new Float32Array(24) }, ...extra });
    expect((await loadError(cell({}))).message).toMatch(/cell\.weight_hh \[G·H, H\] expected, missing/);
    expect((await loadError(cell({ 'cell.weight_hh': { shape: [8], data: new Float32Array(8) } }))).message).toMatch(/cell\.weight_hh \[G·H, H\] expected, found shape \[8\]/);
    expect((await loadError(cell({ 'cell.weight_hh': { shape: [10, 2], data: new Float32Array(20) } }))).message).toMatch(/cell\.weight_hh has 5 gate blocks; 1 \(RNN\), 3 \(GRU\) or 4 \(LSTM\) expected/);
    const mixed = cell({ 'cell.weight_hh': { shape: [8, 2], data: new Float32Array(16) }, 'cell.weight_ih_l0': { shape: [8, 3], data: new Float32Array(24) } });
    expect((await loadError(mixed)).message).toMatch(/is a cell's name beside layer names under the same prefix 'cell\.'/);
    const wrong = cell({ 'cell.weight_hh': { shape: [8, 2], data: new Float32Array(16) }, 'cell.bias_ih': { shape: [7], data: new Float32Array(7) }, 'cell.bias_hh': { shape: [8], data: new Float32Array(8) } });
    expect((await loadError(wrong)).message).toMatch(/cell\.bias_ih/);
  });

  it('refuses what it cannot read, naming it, and leaves no model behind', async () => {
    const before = (engine as unknown as { models: Set<unknown> }).models.size;
    const none = writeSafetensors({ 'embedding.weight': { shape: [4, 2], data: new Float32Array(8) } });
    expect((await loadError(none)).message).toMatch(/no recurrent weights in the file: expected weight_ih_l0 and weight_hh_l0 \(nn.LSTM, nn.GRU, nn.RNN\) or weight_ih and weight_hh \(nn.LSTMCell, nn.GRUCell, nn.RNNCell\), found 'embedding.weight'/);
    const two = pytorchFile('gru', { inputSize: 2, hiddenSize: 3 }, 'a.', pytorchFileTensors('b.'));
    expect((await loadError(two.bytes)).message).toMatch(/several recurrent modules \('a\.', 'b\.'\)/);
    const stray = pytorchFile('lstm', { inputSize: 2, hiddenSize: 3 }, '', { 'extra.weight': { shape: [10, 3], data: new Float32Array(30) } });
    expect((await loadError(stray.bytes)).message).toMatch(/belong to no recurrent layer or read-out: 'extra.weight'/);
    (await engine.load(stray.bytes, { ignoreUnknown: true })).destroy();
    const nan = pytorchFile('lstm', { inputSize: 2, hiddenSize: 3 }, '');
    const nanFile = pytorchFile('lstm', { inputSize: 2, hiddenSize: 3 }, '', { weight_hh_l0: { shape: [12, 3], data: new Float32Array(36).fill(NaN) } });
    expect((await loadError(nanFile.bytes)).code).toBe('non-finite');
    expect((await loadError(nan.bytes, { nonlinearity: 'relu' })).message).toMatch(/nonlinearity is for RNN models/);
    const proj = pytorchFile('lstm', { inputSize: 2, hiddenSize: 3 }, '', { weight_hr_l0: { shape: [2, 3], data: new Float32Array(6) } });
    // A projection that does not fit its W_hh [4H, P].
    expect((await loadError(proj.bytes)).message).toMatch(/weight_hr_l0 of shape \[2, 3\] is not \[P, H\] for weight_hh_l0 \[4H, P\] of shape \[12, 3\]/);
    expect((await loadError(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x08, 1]))).message).toMatch(/neither a safetensors file nor an ONNX model/);
    expect((engine as unknown as { models: Set<unknown> }).models.size).toBe(before);
  });
});

/** GRU tensors under another prefix, to make a file with two recurrent modules. */
function pytorchFileTensors(prefix: string): Record<string, { shape: number[]; data: Float32Array }> {
  return {
    [`${prefix}weight_ih_l0`]: { shape: [9, 2], data: new Float32Array(18) },
    [`${prefix}weight_hh_l0`]: { shape: [9, 3], data: new Float32Array(27) },
  };
}
