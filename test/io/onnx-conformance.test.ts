/**
 * The ONNX backend conformance cases for RNN, LSTM and GRU (test/fixtures/onnx-conformance,
 * copied from the ONNX repository: see its README), run through the ONNX importer on the GPU:
 * every expected output within 1e-5.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { decodeTensor, tensorValues } from '../../src/io/onnx-proto.js';
import type { OnnxValue } from '../../src/io/onnx-model.js';

const dir = fileURLToPath(new URL('../fixtures/onnx-conformance/', import.meta.url));
interface Case {
  name: string;
  model: string;
  inputs: Array<{ file: string; name: string }>;
  outputs: Array<{ file: string; name: string }>;
}
if (!existsSync(`${dir}cases.json`)) {
  throw new Error(`ONNX conformance cases not found at ${dir}`);
}
const cases: Case[] = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8'));

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

function tensor(file: string): { dims: number[]; values: Float32Array | Int32Array | Float64Array } {
  return tensorValues(decodeTensor(new Uint8Array(readFileSync(`${dir}${file}`))));
}

describe('ONNX backend conformance cases', () => {
  it('has the 12 cases', () => {
    expect(existsSync(dir), dir).toBe(true);
    expect(cases).toHaveLength(12);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const model = await engine.load(new Uint8Array(readFileSync(`${dir}${c.model}`)), { format: 'onnx' });
      const feeds: Record<string, OnnxValue> = {};
      for (const input of c.inputs) {
        const t = tensor(input.file);
        feeds[input.name] = { dims: t.dims, data: t.values };
      }
      const got = await model.run(feeds);
      for (const output of c.outputs) {
        const want = tensor(output.file);
        const g = got[output.name];
        expect(g, `${c.name}: output ${output.name}`).toBeDefined();
        expect(g.dims, `${c.name}: ${output.name} dims`).toEqual(want.dims);
        const worst = Math.max(...Array.from(want.values, (w, i) => Math.abs(g.data[i] - w)));
        expect(worst, `${c.name}: ${output.name} max |diff|`).toBeLessThanOrEqual(1e-5);
      }
      model.destroy();
    });
  }
});
