/**
 * One name per kernel (DESIGN.md): every shaders/<name>.wgsl has src/kernels/<name>.ts,
 * src/reference/<name>.ts and test/kernels/<name>.test.ts, and the wrapper labels its
 * pipeline with that name. shaders/common/ holds WGSL preludes shared by several kernels,
 * each named after the wrapper module that includes it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const shaders = readdirSync(join(root, 'shaders')).filter((f) => f.endsWith('.wgsl'));

describe('kernel manifest', () => {
  it('finds the kernels', () => {
    expect(shaders.length).toBeGreaterThanOrEqual(4);
  });

  for (const file of shaders) {
    const name = basename(file, '.wgsl');
    it(`${name}: wrapper, reference and test`, () => {
      const wrapper = join(root, 'src/kernels', `${name}.ts`);
      for (const path of [wrapper, join(root, 'src/reference', `${name}.ts`), join(root, 'test/kernels', `${name}.test.ts`)]) {
        expect(existsSync(path), `${path} missing`).toBe(true);
      }
      const text = readFileSync(wrapper, 'utf8');
      expect(text, 'wrapper imports its shader').toContain(`shaders/${file}?raw`);
      expect(text, 'wrapper names its pipeline after the kernel').toMatch(new RegExp(`=\\s*'${name}'`));
      const test = readFileSync(join(root, 'test/kernels', `${name}.test.ts`), 'utf8');
      expect(test, 'test compares with the reference').toContain(`reference/${name}.js`);
    });
  }

  it('each shared WGSL prelude is used by its wrapper module', () => {
    const common = readdirSync(join(root, 'shaders/common')).filter((f) => f.endsWith('.wgsl'));
    for (const file of common) {
      const module = join(root, 'src/kernels', `${basename(file, '.wgsl')}.ts`);
      expect(existsSync(module), `${module} missing`).toBe(true);
      expect(readFileSync(module, 'utf8')).toContain(`shaders/common/${file}?raw`);
    }
  });
});
