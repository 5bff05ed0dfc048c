/**
 * The built package as a user gets it: `import { createEngine } from 'webrnn'` in plain Node
 * (no bundler, no TypeScript), with type declarations and the WGSL inlined.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the built package', () => {
  it('has an ES module with the shaders inlined and type declarations', () => {
    expect(existsSync(`${root}/dist/index.js`), 'dist/index.js (npm test builds it first)').toBe(true);
    // The entry and the chunks it shares with webrnn/worker.
    const js = [`${root}/dist/index.js`, ...readdirSync(`${root}/dist/chunks`).filter((f) => f.endsWith('.js')).map((f) => `${root}/dist/chunks/${f}`)].map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(js).toContain('fn main(');
    // Shaders arrive as string constants, not as imports of .wgsl files.
    expect(js).not.toMatch(/import[^;]*\.wgsl/);
    expect(js).toContain('struct Params');
    const dts = readFileSync(`${root}/dist/types/index.d.ts`, 'utf8');
    expect(dts).toMatch(/createEngine/);
    expect(readFileSync(`${root}/dist/types/worker.d.ts`, 'utf8')).toMatch(/connectEngine/);
  });

  it("imports as 'webrnn' in plain Node and runs a forward pass", () => {
    const script = `
      import { createEngine } from 'webrnn';
      const engine = await createEngine();
      const lstm = engine.lstm({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true });
      const { output, hN, cN } = await lstm.forward(new Float32Array(4 * 2 * 3).fill(0.5), { batch: 2, seqLen: 4 });
      console.log(JSON.stringify({ output: output.length, hN: hN.length, cN: cN.length, finite: output.every(Number.isFinite) }));
      engine.destroy();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(line)).toEqual({ output: 4 * 2 * 10, hN: 4 * 2 * 5, cN: 4 * 2 * 5, finite: true });
  });
});
