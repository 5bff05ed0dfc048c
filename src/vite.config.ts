// Library build: one ES module with every WGSL shader inlined as a string (the `?raw` imports),
// usable from Node and from browser bundlers. `webgpu` (Dawn for Node) stays external: it is
// imported dynamically, and only in Node.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    minify: false,
    lib: {
      entry: fileURLToPath(new URL('./index.ts', import.meta.url)),
      formats: ['es'],
      fileName: () => 'index.js',
    },
    rollupOptions: { external: ['webgpu', /^node:/] },
  },
});
