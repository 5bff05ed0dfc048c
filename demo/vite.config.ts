// The demo site: one page per topic, built by `npm run build:demo` into demo/dist/ (static
// files, index.html linking every page) and served by `npm run demo`.
import { copyFileSync, createReadStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/** The site's pages in the order of its navigation bar, each with its label there. */
export const SITE: ReadonlyArray<{ page: string; label: string }> = [
  { page: 'index', label: 'webrnn' },
  { page: 'char-lstm', label: 'Character LSTM' },
  { page: 'gradients', label: 'Gradients' },
  { page: 'ode', label: 'ODE solvers' },
  { page: 'filtering', label: 'Filtering and smoothing' },
  { page: 'hmm', label: 'HMMs as RNNs' },
  { page: 'bench', label: 'Benchmark' },
];

export const PAGES = SITE.map((p) => p.page).filter((p) => existsSync(here(`${p}.html`)));

/** Every page's header, written into its HTML at build (and when served): one navigation bar, the current page marked. */
function siteHeader(): Plugin {
  return {
    name: 'webrnn-site-header',
    transformIndexHtml(html, { filename }) {
      const current = filename.split(/[\\/]/).pop()!.replace(/\.html$/, '');
      const links = SITE.map(({ page, label }) => `<a href="./${page}.html"${page === 'index' ? ' class="brand"' : ''}${page === current ? ' aria-current="page"' : ''}>${label}</a>`);
      return html.replace('<body>', `<body>\n<header class="site"><nav>${links.join('')}</nav></header>`);
    },
  };
}

/**
 * What the benchmark page needs besides the bundle: the peers' own builds (TensorFlow.js and
 * ONNX Runtime Web, loaded as script tags by bench/peers.js, with their wasm) and the ONNX
 * Runtime placement-probe worker, at the paths bench/peers.js uses (/node_modules/…, /bench/…).
 * Served from the project in development, copied into demo/dist by the build.
 */
export const PEER_FILES = [
  'node_modules/@tensorflow/tfjs/dist/tf.min.js',
  'node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js',
  'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
  ...['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f) => `node_modules/@tensorflow/tfjs-backend-wasm/dist/${f}`),
  'node_modules/onnxruntime-web/dist/ort.webgpu.min.js',
  ...['', '.asyncify', '.jsep', '.jspi'].flatMap((v) => [`ort-wasm-simd-threaded${v}.mjs`, `ort-wasm-simd-threaded${v}.wasm`]).map((f) => `node_modules/onnxruntime-web/dist/${f}`),
  'bench/ort-probe-worker.js',
];

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

function peerFiles(): Plugin {
  return {
    name: 'webrnn-peer-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\//, '');
        if (!PEER_FILES.includes(path)) return next();
        res.setHeader('content-type', TYPES[extname(path)] ?? 'application/octet-stream');
        createReadStream(here(`../${path}`)).pipe(res);
      });
    },
    writeBundle() {
      for (const f of PEER_FILES) {
        const to = here(`dist/${f}`);
        mkdirSync(dirname(to), { recursive: true });
        copyFileSync(here(`../${f}`), to);
      }
    },
  };
}

export default defineConfig({
  root: here('.'),
  base: './',
  plugins: [siteHeader(), peerFiles()],
  // Cross-origin isolation, so that the wasm peers may use threads.
  server: { fs: { allow: [here('..')] }, headers: { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: { input: Object.fromEntries(PAGES.map((p) => [p, here(`${p}.html`)])) },
  },
});
