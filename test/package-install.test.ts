/**
 * The package as a user meets it: `npm pack`, the tarball installed into an empty project in
 * a temporary folder (npm fetches its one dependency, @webgpu/types, from the registry or its
 * cache), then
 * - what the tarball and the install hold: the built modules and types, no shaders or source
 *   maps, and not the `webgpu` package (an optional peer dependency);
 * - a Node script without `webgpu` runs a forward pass on the wasm backend, and asking for
 *   WebGPU there says to install it; with it (linked from this checkout) but no Vulkan driver,
 *   'auto' runs on wasm too; `import` and `require` both work;
 * - a strict TypeScript consumer (the README's calls) compiles against the installed types;
 * - a vite page that imports only createEngine bundles without the file readers or the wasm
 *   kernels, and runs in headless Chromium with WebGPU turned off (on the wasm backend, with
 *   threads: the server sends COOP and COEP), in the page and in a module Web Worker, and
 *   through webrnn/worker (the engine served from a worker, its models used from the page);
 *   engine.load there refuses a file: URL with a message that says why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './setup/browser.mjs';
import { serveStatic } from './setup/static-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// Outside the checkout, so that Node does not find this checkout's node_modules above it.
const work = mkdtempSync(join(tmpdir(), 'webrnn-install-'));
const project = join(work, 'consumer');
let tarball = '';

function bytesUnder(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isSymbolicLink() ? 0 : e.isDirectory() ? bytesUnder(p) : statSync(p).size);
  }, 0);
}

function node(args: string[], cwd = project): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000 });
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: `npm test` builds it first (or run `npm run build`)');
  mkdirSync(project, { recursive: true });
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' })) as Array<{ filename: string }>;
  tarball = join(work, packed[0].filename);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, stdio: 'pipe' });
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('holds the built modules and types, not the shaders, sources or source maps', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/require.cjs');
    expect(files).toContain('package/dist/types/index.d.ts');
    expect(files.filter((f) => f.endsWith('.map') || f.startsWith('package/shaders/') || f.startsWith('package/src/'))).toEqual([]);
    console.log(`tarball ${(statSync(tarball).size / 1024).toFixed(0)} kB, ${files.length} files`);
  });

  it('installs small: webrnn and @webgpu/types, not webgpu (Dawn)', () => {
    const modules = join(project, 'node_modules');
    expect(existsSync(join(modules, 'webgpu'))).toBe(false);
    expect(existsSync(join(modules, '@webgpu/types'))).toBe(true);
    const bytes = bytesUnder(modules);
    console.log(`node_modules after install: ${(bytes / 1024 / 1024).toFixed(2)} MB`);
    expect(bytes).toBeLessThan(5 * 1024 * 1024);
  });
});

describe('in Node', () => {
  const script = (options = '') => `
    import { createEngine } from 'webrnn';
    const engine = await createEngine(${options});
    const lstm = engine.lstm({ inputSize: 3, hiddenSize: 5 });
    const { output, cN } = await lstm.forward(new Float32Array(4 * 2 * 3).fill(0.5), { batch: 2, seqLen: 4 });
    console.log(JSON.stringify({ output: output.length, cN: cN.length, finite: output.every(Number.isFinite), backend: engine.info.backend, reason: engine.info.reason }));
    engine.destroy();`;
  const last = (out: string): Record<string, unknown> => JSON.parse(out.trim().split('\n').pop() ?? '');

  it('without the webgpu package, runs on the wasm backend; asking for WebGPU says to install it', () => {
    const r = node(['--input-type=module', '-e', script()]);
    expect(r.status, r.stderr).toBe(0);
    expect(last(r.stdout)).toMatchObject({ output: 40, cN: 10, finite: true, backend: 'wasm', reason: expect.stringMatching(/no WebGPU adapter.*npm install webgpu/) });
    const gpu = node(['--input-type=module', '-e', script("{ backend: 'webgpu' }")]);
    expect(gpu.status).not.toBe(0);
    expect(gpu.stderr).toMatch(/npm install webgpu/);
  });

  it('with it but no Vulkan driver, runs on wasm; import and require both work', () => {
    symlinkSync(join(root, 'node_modules/webgpu'), join(project, 'node_modules/webgpu'), 'dir');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script()], { cwd: project, encoding: 'utf8', timeout: 60_000, env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' } });
    expect(r.status, r.stderr).toBe(0);
    expect(last(r.stdout)).toMatchObject({ output: 40, cN: 10, finite: true, backend: 'wasm' });
    writeFileSync(join(project, 'required.cjs'), "const { createEngine } = require('webrnn');\nconsole.log(typeof createEngine);\n");
    const c = node(['required.cjs']);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout.trim().split('\n').pop()).toBe('function');
  });
});

describe('a strict TypeScript consumer', () => {
  it('compiles the README calls against the installed declarations (skipLibCheck false)', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, skipLibCheck: false, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], module: 'NodeNext', moduleResolution: 'NodeNext', noEmit: true },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { createEngine, type RecurrentModel } from 'webrnn';
import { connectEngine, serveEngine, type RemoteModel } from 'webrnn/worker';
const engine = await createEngine();
const lstm = engine.lstm({ inputSize: 3, hiddenSize: 4, outputSize: 2 });
const out = await lstm.forward(new Float32Array(6), { batch: 1, seqLen: 2 });
const cN: Float32Array = out.cN;
const y: Float32Array = out.y;
const gru = engine.gru({ inputSize: 3, hiddenSize: 4 });
// @ts-expect-error a GRU has no cell state
const none: Float32Array = (await gru.forward(new Float32Array(6), { batch: 1, seqLen: 2 })).cN;
const model = await engine.load('/model.safetensors');
const bytes: Uint8Array = await model.save();
const stream = model.stream({ batch: 1 });
const { h } = await stream.step(new Float32Array(3));
const step = await lstm.trainStep(new Float32Array(6), new Float32Array(4), { batch: 1, seqLen: 2, loss: 'mse', optimizer: { type: 'adam', lr: 1e-3 }, returnState: true });
const loss: number = step.loss;
const cAfter: Float32Array = step.cN;
const quiet = await lstm.trainStep(new Float32Array(6), new Float32Array(4), { batch: 1, seqLen: 2, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 }, readLoss: false });
// @ts-expect-error no loss is read back with readLoss: false
const noLoss: number = quiet.loss;
const onnx = await engine.load('/model.onnx');
const ran = await onnx.run({});
const any: RecurrentModel = lstm;
const channel = new MessageChannel();
serveEngine(channel.port1);
const remote = await connectEngine(channel.port2, { backend: 'wasm' });
const served: RemoteModel = await remote.lstm({ inputSize: 3, hiddenSize: 4 });
const servedY: Float32Array = (await served.forward(new Float32Array(6), { batch: 1, seqLen: 2 })).y;
console.log(cN, y, none, bytes, h, loss, cAfter, noLoss, ran, any.kind, servedY);
`,
    );
    const r = node([join(root, 'node_modules/typescript/bin/tsc'), '-p', '.']);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('a vite page', () => {
  let server: { url: string; close(): Promise<void> } | undefined;
  afterAll(async () => server?.close());

  it('bundles createEngine without the file readers and runs in headless Chromium without WebGPU, in the page, in a module worker and served from one', async () => {
    const page = join(project, 'page');
    mkdirSync(page, { recursive: true });
    const run = `import { createEngine } from 'webrnn';
export async function run() {
  const engine = await createEngine();
  const m = engine.gru({ inputSize: 2, hiddenSize: 3 });
  const { output } = await m.forward(new Float32Array(2 * 1 * 2).fill(0.25), { batch: 1, seqLen: 2 });
  const { backend, threads } = engine.info;
  engine.destroy();
  return { output: Array.from(output), backend, threads };
}
`;
    writeFileSync(join(page, 'run.js'), run);
    writeFileSync(join(page, 'worker.js'), "import { run } from './run.js';\nrun().then((o) => postMessage({ o }), (e) => postMessage({ e: String(e) }));\n");
    // A second page, built on its own (so that the first one's entry is that of createEngine
    // alone): the engine served from a module worker through webrnn/worker, driven from the page.
    writeFileSync(join(page, 'engine-worker.js'), "import { serveEngine } from 'webrnn/worker';\nserveEngine(self);\n");
    writeFileSync(
      join(page, 'remote.js'),
      `import { connectEngine } from 'webrnn/worker';
window.served = (async () => {
  const engine = await connectEngine(new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' }));
  const m = await engine.gru({ inputSize: 2, hiddenSize: 3 });
  const { output } = await m.forward(new Float32Array(2 * 1 * 2).fill(0.25), { batch: 1, seqLen: 2 });
  const t = await engine.gru({ inputSize: 2, hiddenSize: 3, outputSize: 1 });
  const steps = [];
  const history = await t.fit(new Float32Array(2 * 4 * 2).fill(0.5), new Float32Array(2 * 4).fill(0.1), { batch: 4, seqLen: 2, loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 }, batchSize: 2, onProgress: (p) => steps.push(p.step) });
  return { output: Array.from(output), backend: engine.info.backend, steps, fitted: history.steps };
})().catch((e) => ({ error: String(e) }));
`,
    );
    writeFileSync(join(page, 'remote.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./remote.js"></script>\n');
    writeFileSync(join(page, 'vite.remote.config.mjs'), "export default { logLevel: 'warn', base: './', build: { target: 'es2022', outDir: 'dist/remote', emptyOutDir: true, rollupOptions: { input: 'remote.html' } }, worker: { format: 'es' } };\n");
    writeFileSync(
      join(page, 'main.js'),
      `import { createEngine } from 'webrnn';
import { run } from './run.js';

const inWorker = new Promise((resolve) => {
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  w.onmessage = (e) => resolve(e.data);
});
// A page cannot read file: URLs; engine.load says so.
const fileError = createEngine().then((engine) => engine.load('file:///tmp/model.safetensors').then(() => 'loaded', (e) => String(e.message)));
window.result = Promise.all([run(), inWorker, fileError]).then(([page, worker, file]) => ({ page, worker, file }), (e) => ({ error: String(e) }));
`,
    );
    writeFileSync(join(page, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./main.js"></script>\n');
    writeFileSync(join(page, 'vite.config.mjs'), "export default { logLevel: 'warn', build: { target: 'es2022', outDir: 'dist', emptyOutDir: true }, worker: { format: 'es' } };\n");
    const built = node([join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.config.mjs'], page);
    expect(built.status, built.stderr).toBe(0);
    const remote = node([join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.remote.config.mjs'], page);
    expect(remote.status, remote.stderr).toBe(0);
    const assets = readdirSync(join(page, 'dist/assets'));
    const html = readFileSync(join(page, 'dist/index.html'), 'utf8');
    // The page's script (the html also preloads the chunks it imports).
    const entry = /<script type="module"[^>]*src="[^"]*\/assets\/([^"]+\.js)"/.exec(html)?.[1];
    expect(entry, `entry chunk among ${assets.join(', ')}`).toBeDefined();
    // What the page loads before anything runs: the entry and the chunks it imports statically
    // (the package's entries share a chunk, which the page's bundler may keep apart).
    const loaded = new Set<string>();
    const visit = (file: string): void => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const text = readFileSync(join(page, 'dist/assets', file), 'utf8');
      for (const m of text.matchAll(/(?:import|export)\s*(?:[\w*{}\s,$]*?from\s*)?["']\.\/([^"']+\.js)["']/g)) visit(m[1]);
    };
    visit(entry!);
    const entryBytes = [...loaded].reduce((n, f) => n + statSync(join(page, 'dist/assets', f)).size, 0);
    const entryText = [...loaded].map((f) => readFileSync(join(page, 'dist/assets', f), 'utf8')).join('\n');
    console.log(`vite page importing createEngine: entry and its static imports ${(entryBytes / 1024).toFixed(0)} kB (${[...loaded].join(', ')})`);
    // The readers (ONNX and protobufjs, TensorFlow.js) stay in chunks loaded by engine.load,
    // the wasm kernels in the one createEngine loads where it takes the wasm backend.
    expect(entryText).not.toMatch(/protobuf|weightsManifest|ModelProto|relaxedShared/);
    expect(entryBytes).toBeLessThan(175 * 1024);

    server = await serveStatic(join(page, 'dist'));
    const browser = await launchBrowser({ webgpu: false });
    try {
      const tab = await browser.newPage();
      await tab.goto(`${server.url}/index.html`);
      type Run = { output: number[]; backend: string; threads: number };
      const result = (await tab.evaluate(() => (window as unknown as { result: Promise<unknown> }).result)) as {
        page?: Run;
        worker?: { o?: Run; e?: string };
        file?: string;
        error?: string;
      };
      expect(result.error).toBeUndefined();
      expect(result.page?.backend).toBe('wasm');
      // Cross-origin isolated (the test server's headers): the machine's cores.
      expect(result.page?.threads).toBeGreaterThan(1);
      expect(result.page?.output.length).toBe(6);
      expect(result.page?.output.every(Number.isFinite)).toBe(true);
      expect(result.worker?.e).toBeUndefined();
      expect(result.worker?.o?.output).toEqual(result.page?.output);
      expect(result.file).toMatch(/a page cannot read file:\/\/\/tmp\/model.safetensors/);
      await tab.goto(`${server.url}/remote/remote.html`);
      const served = await tab.evaluate(() => (window as unknown as { served: Promise<unknown> }).served);
      expect(served).toEqual({ output: result.page?.output, backend: 'wasm', steps: [0, 1], fitted: 2 });
    } finally {
      await browser.close();
    }
  });
});
