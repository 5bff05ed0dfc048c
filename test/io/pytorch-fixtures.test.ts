/**
 * Files written by PyTorch itself (test/fixtures/pytorch, made by generate.py there): ONNX
 * models from torch.onnx.export of modules around nn.LSTM, nn.GRU and nn.RNN, whose glue
 * assembles the outputs as PyTorch defines them (h_n of both directions concatenated, the
 * output's last step, Linear heads, batch_first, a packed batch of sorted lengths), and module state dicts as safetensors (F32,
 * F16, BF16), against the outputs PyTorch computed in float64.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import type { LoadOptions } from '../../src/io/load.js';
import { expectClose } from '../helpers/compare.js';
import { readSafetensors } from '../../src/io/safetensors.js';

const dir = fileURLToPath(new URL('../fixtures/pytorch/', import.meta.url));
interface Tensor {
  dims: number[];
  /** float32 little-endian, base64 */
  data?: string;
  /** an integer tensor's values (nested as its dims) */
  ints?: number[];
}
interface Case {
  name: string;
  format: 'onnx' | 'safetensors';
  file: string;
  options?: LoadOptions;
  inputs: Record<string, Tensor>;
  outputs: Record<string, Tensor>;
}
const { torch, cases } = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as { torch: string; cases: Case[] };
const floats = (t: Tensor): Float32Array => {
  const bytes = Buffer.from(t.data ?? '', 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe(`files written by PyTorch ${torch}`, () => {
  it('has the ONNX and safetensors cases', () => {
    expect(cases.filter((c) => c.format === 'onnx').length).toBe(5);
    expect(cases.filter((c) => c.format === 'safetensors').length).toBe(10);
    expect(cases.filter((c) => c.name.includes('_cell')).length).toBe(3);
  });

  for (const c of cases) {
    it(`${c.name} (${c.format}): every output PyTorch gives`, async () => {
      const bytes = new Uint8Array(readFileSync(`${dir}${c.file}`));
      if (c.format === 'onnx') {
        const model = await engine.loadOnnx(bytes);
        try {
          const inputs = Object.fromEntries(Object.entries(c.inputs).map(([n, t]) => [n, { dims: t.dims, data: t.ints ? Int32Array.from(t.ints) : floats(t) }]));
          const out = await model.run(inputs);
          expect(Object.keys(out).sort()).toEqual(Object.keys(c.outputs).sort());
          for (const [name, want] of Object.entries(c.outputs)) {
            expect(out[name].dims, `${c.name}: ${name} dims`).toEqual(want.dims);
            expectClose(`${c.name}: ${name}`, out[name].data, floats(want));
          }
        } finally {
          model.destroy();
        }
      } else {
        const model = await engine.load(bytes, { ...c.options, format: 'safetensors' });
        try {
          const x = c.inputs.x;
          const [B, T] = model.spec.batchFirst ? x.dims : [x.dims[1], x.dims[0]];
          // Token ids for a model with an embedding, vectors otherwise.
          const input = x.ints ? Int32Array.from(x.ints.flat(2)) : floats(x);
          const out = await model.forward(input, { batch: B, seqLen: T });
          for (const [name, want] of Object.entries(c.outputs)) {
            const got = name === 'output' ? out.output : name === 'hN' ? out.hN : name === 'cN' ? out.cN! : out.y;
            expectClose(`${c.name}: ${name}`, got, floats(want));
          }
          // save() writes back the names the file came with (a cell's weight_ih, …).
          const saved = readSafetensors(await model.save());
          expect(Object.keys(saved.tensors).sort()).toEqual(Object.keys(readSafetensors(bytes).tensors).sort());
          if (c.name.includes('_cell')) {
            // A cell's step is a stream step: stepping through x gives PyTorch's h per step.
            const s = model.stream({ batch: B });
            const I = model.spec.inputSize;
            const H = model.spec.hiddenSize;
            const output = floats(c.outputs.output);
            for (let t = 0; t < T; t++) {
              const step = await s.step(floats(x).subarray(t * B * I, (t + 1) * B * I));
              expectClose(`${c.name}: stream step ${t}`, step.h, output.subarray(t * B * H, (t + 1) * B * H));
            }
            s.close();
          }
        } finally {
          model.destroy();
        }
      }
    });
  }
});
