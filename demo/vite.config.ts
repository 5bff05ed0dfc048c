// The demo site: one page per topic, built by `npm run build:demo` into demo/dist/ (static
// files, index.html linking every page) and served by `npm run demo`.
import { existsSync } from 'node:fs';
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export const PAGES = ['index', 'char-lstm', 'gradients', 'filtering', 'hmm', 'bench'].filter((p) => existsSync(here(`${p}.html`)));

export default defineConfig({
  root: here('.'),
  base: './',
  server: { fs: { allow: [here('..')] } },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: { input: Object.fromEntries(PAGES.map((p) => [p, here(`${p}.html`)])) },
  },
});
