/**
 * One name per kernel (DESIGN.md): every kernel shaders/<name>.wgsl has src/kernels/<name>.ts,
 * src/reference/<name>.ts and test/kernels/<name>.test.ts, and the wrapper labels its pipeline
 * with that name. Every other WGSL file is a part of kernels: a form of one kernel at the top
 * level (shaders/<kernel>-<form>.wgsl), what several share in shaders/common/, the forms chosen
 * only on software adapters in shaders/software/. Each part is imported by a module of
 * src/kernels that builds kernels from it (directly, or through the module that puts a family
 * together, such as recurrent-step.ts), and those kernels have their references and tests. Each
 * file keeps within about 300 lines and 3 preprocessor flags.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const shaderRoot = join(root, 'shaders');

function wgslFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? wgslFiles(join(dir, e.name)) : e.name.endsWith('.wgsl') ? [join(dir, e.name)] : []));
}

const all = wgslFiles(shaderRoot).map((f) => relative(shaderRoot, f));
const kernels = all.filter((f) => !f.includes('/') && existsSync(join(root, 'src/kernels', `${basename(f, '.wgsl')}.ts`)));
const kernelNames = kernels.map((f) => basename(f, '.wgsl'));
const modules = readdirSync(join(root, 'src/kernels')).filter((f) => f.endsWith('.ts'));
const moduleText = new Map(modules.map((m) => [basename(m, '.ts'), readFileSync(join(root, 'src/kernels', m), 'utf8')]));

/**
 * The kernels built from module `name`: itself if it is a kernel's wrapper, else those of the
 * modules that import it (statically, or on first use as software-sources.ts is).
 */
function kernelsOf(name: string, seen = new Set<string>()): string[] {
  if (kernelNames.includes(name)) return [name];
  if (seen.has(name)) return [];
  seen.add(name);
  const importers = [...moduleText].filter(([m, text]) => m !== name && text.includes(`'./${name}.js'`)).map(([m]) => m);
  return [...new Set(importers.flatMap((m) => kernelsOf(m, seen)))];
}

describe('kernel manifest', () => {
  it('finds the kernels and their parts', () => {
    expect(kernels.length).toBeGreaterThanOrEqual(4);
    expect(all.length).toBeGreaterThan(kernels.length);
  });

  for (const file of kernels) {
    const name = basename(file, '.wgsl');
    it(`${name}: wrapper, reference and test`, () => {
      const wrapper = join(root, 'src/kernels', `${name}.ts`);
      for (const path of [wrapper, join(root, 'src/reference', `${name}.ts`), join(root, 'test/kernels', `${name}.test.ts`)]) {
        expect(existsSync(path), `${path} missing`).toBe(true);
      }
      const text = readFileSync(wrapper, 'utf8');
      expect(text, 'wrapper names its pipeline after the kernel').toMatch(new RegExp(`=\\s*'${name}'`));
      expect(kernelsOf(name)).toEqual([name]);
      const test = readFileSync(join(root, 'test/kernels', `${name}.test.ts`), 'utf8');
      expect(test, 'test compares with the reference').toContain(`reference/${name}.js`);
    });
  }

  for (const file of all) {
    it(`${file}: imported by the kernels it is part of`, () => {
      const importers = [...moduleText].filter(([, text]) => text.includes(`shaders/${file}?raw`)).map(([m]) => m);
      expect(importers.length, `no module of src/kernels imports shaders/${file}`).toBeGreaterThan(0);
      const built = [...new Set(importers.flatMap((m) => kernelsOf(m)))];
      expect(built.length, `${importers.join(', ')}: no kernel is built from it`).toBeGreaterThan(0);
      // A top-level part is a form of one kernel, named after it.
      if (!file.includes('/') && !kernels.includes(file)) {
        expect(built.some((k) => basename(file, '.wgsl').startsWith(`${k}-`)), `${file} is named after none of ${built.join(', ')}`).toBe(true);
      }
    });

    it(`${file}: at most about 300 lines and 3 preprocessor flags`, () => {
      const source = readFileSync(join(shaderRoot, file), 'utf8');
      expect(source.split('\n').length).toBeLessThanOrEqual(300);
      const flags = new Set([...source.matchAll(/#(?:if|elif)[ \t]+([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
      expect([...flags].length, [...flags].join(', ')).toBeLessThanOrEqual(3);
    });
  }
});

/**
 * The wasm kernels follow the same rule: every kernel src/backends/wasm/assembly/<name>.ts
 * (the file whose export is camelCase(<name>), which build.mjs numbers and the programs call by
 * name: its one wrapper) has src/reference/<name>.ts and test/backends/wasm/<name>.test.ts,
 * which compares with that reference; every other file there is a part imported by a kernel
 * (or by the interpreter build.mjs writes).
 */
describe('wasm kernel manifest', () => {
  const dir = join(root, 'src/backends/wasm/assembly');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  const camel = (n: string): string => n.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  const text = new Map(files.map((f) => [basename(f, '.ts'), readFileSync(join(dir, f), 'utf8')]));
  const wasmKernels = [...text].filter(([n, t]) => t.includes(`export function ${camel(n)}(`)).map(([n]) => n);

  it('finds the kernels', () => {
    expect(wasmKernels.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of wasmKernels) {
    it(`${name}: reference and test`, () => {
      for (const path of [join(root, 'src/reference', `${name}.ts`), join(root, 'test/backends/wasm', `${name}.test.ts`)]) expect(existsSync(path), `${path} missing`).toBe(true);
      expect(readFileSync(join(root, 'test/backends/wasm', `${name}.test.ts`), 'utf8'), 'test compares with the reference').toContain(`reference/${name}.js`);
    });
  }

  for (const [name, t] of text) {
    if (wasmKernels.includes(name)) continue;
    it(`${name}: a part imported by a kernel`, () => {
      // Imported by a kernel, or by the program interpreter that build.mjs writes.
      const importers = [...text].filter(([, other]) => other.includes(`from './${name}'`)).map(([n]) => n);
      if (readFileSync(join(root, 'src/backends/wasm/build.mjs'), 'utf8').includes(`from '../assembly/${name}'`)) importers.push('build.mjs');
      expect(importers.length, `nothing in assembly/ imports ${name}`).toBeGreaterThan(0);
      expect(t.split('\n').length).toBeLessThanOrEqual(300);
    });
  }
});
