/**
 * engine.load from where a Node user names a file: a path (absolute or relative to the working
 * directory), a file: URL, a TensorFlow.js model.json path whose weight shards lie beside it;
 * and the errors for a missing file. The same bytes as loading the file's contents.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine.js';
import { testEngine } from '../helpers/engines.js';
import { RecurrentModel } from '../../src/model/recurrent-model.js';
import { buildTfjs, saveTfjs, tf } from './tfjs-models.js';
import { testRandom } from '../helpers/seed.js';

const fixture = fileURLToPath(new URL('../fixtures/pytorch/gru_no_bias_f16.safetensors', import.meta.url));
const artifacts = fileURLToPath(new URL('../artifacts/files/', import.meta.url));
const { rng } = testRandom('io-files');

let engine: Engine;
beforeAll(async () => {
  await tf.setBackend('cpu');
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

async function weightsOf(source: string): Promise<Record<string, Float32Array>> {
  const model = await engine.load(source, { format: 'safetensors' });
  const dict = await model.stateDict();
  model.destroy();
  return dict;
}

describe('engine.load in Node', () => {
  it('reads a path, a relative path and a file: URL, as the bytes would load', async () => {
    const { readFileSync } = await import('node:fs');
    const fromBytes = await engine.load(new Uint8Array(readFileSync(fixture)), { format: 'safetensors' });
    const expected = await fromBytes.stateDict();
    fromBytes.destroy();
    for (const source of [fixture, relative(process.cwd(), fixture), pathToFileURL(fixture).href]) {
      expect(await weightsOf(source), source).toEqual(expected);
    }
  });

  it('reads a TensorFlow.js model.json path and the shards named beside it', async () => {
    const model = buildTfjs({ name: 'path', cell: 'gru', returnSequences: true }, rng);
    const files = await saveTfjs(model);
    const dir = `${artifacts}tfjs/`;
    mkdirSync(dir, { recursive: true });
    const manifest = (files.json as { weightsManifest: Array<{ paths: string[] }> }).weightsManifest;
    expect(manifest[0].paths.length).toBe(1);
    writeFileSync(`${dir}model.json`, JSON.stringify(files.json));
    writeFileSync(`${dir}${manifest[0].paths[0]}`, new Uint8Array(files.weights));
    const fromPath = await engine.load(`${dir}model.json`, { format: 'tfjs' });
    const fromFiles = await engine.load({ json: files.json, weights: [files.weights] });
    expect(fromPath).toBeInstanceOf(RecurrentModel);
    expect(await fromPath.stateDict()).toEqual(await fromFiles.stateDict());
    fromPath.destroy();
    fromFiles.destroy();
    model.dispose();
  });

  it('names the file that cannot be read', async () => {
    await expect(engine.load(`${artifacts}missing.safetensors`)).rejects.toMatchObject({ code: 'invalid-file', message: expect.stringContaining('missing.safetensors') });
    await expect(engine.load(pathToFileURL(`${artifacts}missing.onnx`).href)).rejects.toMatchObject({ code: 'invalid-file' });
  });
});
