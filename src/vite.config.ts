// Library build: ES modules with every WGSL shader inlined as a string (the `?raw` imports),
// usable from Node and from browser bundlers; what engine.load and model.exportOnnx need (the
// readers, protobufjs) in chunks loaded on first use. `webgpu` (Dawn for Node) stays external:
// it is imported dynamically, and only in Node.
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The shaders as the package carries them: their `//` comments (WGSL has no `//` operator and
 * no strings, so a `//` always starts one) and blank lines dropped. The sources keep them for
 * readers; the tests run the sources, test/package.test.ts the built package.
 */
function compactWgsl(): Plugin {
  return {
    name: 'webrnn-compact-wgsl',
    enforce: 'pre',
    load(id) {
      const [path, query] = id.split('?');
      if (!path.endsWith('.wgsl') || query !== 'raw') return null;
      const lines = readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/\/\/.*$/, '').trimEnd());
      return `export default ${JSON.stringify(lines.filter((l) => l.trim() !== '').join('\n') + '\n')};`;
    },
  };
}

/**
 * dist/require.cjs, what `require('webrnn')` resolves to: the ES module itself where Node can
 * require one (20.19 and later, the versions the package supports), and where it cannot, an
 * error that says how to import it.
 */
function requireEntry(): Plugin {
  const source = [
    "'use strict';",
    '// webrnn is an ES module: require() gets it where Node can load one that way.',
    'try {',
    "  module.exports = require('./index.js');",
    '} catch (e) {',
    "  if (e && e.code === 'ERR_REQUIRE_ESM') {",
    "    throw new Error(\"webrnn is an ES module and this Node cannot require() one (Node 20.19 or later can). Use import { createEngine } from 'webrnn', or in CommonJS: const { createEngine } = await import('webrnn').\");",
    '  }',
    '  throw e;',
    '}',
    '',
  ].join('\n');
  return {
    name: 'webrnn-require-entry',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'require.cjs', source });
    },
  };
}

export default defineConfig({
  root,
  plugins: [compactWgsl(), requireEntry()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    minify: false,
    lib: {
      // webrnn and webrnn/worker (the engine in a worker, remote/), sharing their chunks.
      entry: { index: fileURLToPath(new URL('./index.ts', import.meta.url)), worker: fileURLToPath(new URL('./worker.ts', import.meta.url)) },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
    rollupOptions: { external: ['webgpu', /^node:/], output: { chunkFileNames: 'chunks/[name]-[hash].js' } },
  },
});
