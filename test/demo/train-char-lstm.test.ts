/**
 * The script that trained the character model the demo ships (demo/models/train-char-lstm.mjs),
 * run for a few steps of a small model against the built package: it trains, checkpoints,
 * resumes where it stopped, and writes an F16 file that loads with its alphabet and record.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine.js';
import { readSafetensors } from '../../src/io/safetensors.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = `${root}/test/artifacts/train-char-lstm`;

function train(args: string[]): string {
  const r = spawnSync(process.execPath, ['demo/models/train-char-lstm.mjs', '--hidden', '12', '--embedding', '5', '--batch', '4', '--chunk', '16', '--every', '3', '--lr', '0.03', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('demo/models/train-char-lstm.mjs', () => {
  it('trains, checkpoints, resumes and writes the F16 model the page reads', async () => {
    expect(existsSync(`${root}/dist/index.js`), 'dist/index.js (npm test builds it first)').toBe(true);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const first = train(['--steps', '3', '--checkpoint', `${dir}/ck.safetensors`, '--out', `${dir}/a.safetensors`]);
    expect(first).toMatch(/^step 3\/3: training loss \d\.\d{4}, held-out \d\.\d{4} nats\/char/m);
    const second = train(['--steps', '6', '--resume', `${dir}/ck.safetensors`, '--checkpoint', `${dir}/ck.safetensors`, '--out', `${dir}/b.safetensors`]);
    // Resumed at step 3: steps 4 to 6 ran, and nothing before them again.
    expect(second).toMatch(/^step 6\/6: /m);
    expect(second).not.toMatch(/^step 3\/6/m);
    const bytes = readFileSync(`${dir}/b.safetensors`);
    const file = readSafetensors(bytes);
    expect(Object.values(file.tensors).every((t) => t.dtype === 'F16')).toBe(true);
    const alphabet = JSON.parse(file.metadata['webrnn.demo.alphabet']) as string[];
    expect(alphabet).toEqual([...new Set(readFileSync(`${root}/demo/texts/shakespeare.txt`, 'utf8'))].sort());
    expect(file.metadata['webrnn.demo.steps']).toBe('6');
    const loss = Number(file.metadata['webrnn.demo.held-out-loss']);
    expect(second).toContain(`held-out loss ${loss.toFixed(4)} nats/char in F16`);
    // The resumed run went on learning: held-out loss after step 6 below that after step 3.
    const at3 = Number(first.match(/^step 3\/3: .* held-out (\d\.\d{4})/m)![1]);
    const at6 = Number(second.match(/^step 6\/6: .* held-out (\d\.\d{4})/m)![1]);
    expect(at6).toBeLessThan(at3);
    expect(loss).toBeCloseTo(at6, 2);
    const engine = await createEngine({ backend: 'wasm' });
    try {
      const model = await engine.load(bytes, { format: 'safetensors' });
      expect(model.spec).toMatchObject({ kind: 'lstm', hiddenSize: 12, inputSize: 5, outputSize: alphabet.length, batchFirst: true, embedding: { numEmbeddings: alphabet.length } });
    } finally {
      engine.destroy();
    }
  }, 300_000);
});
