/**
 * The demo site in headless Chromium with WebGPU turned off, as in a browser without it: every
 * page of the built site (demo/dist, made by `npm run build:demo`) is opened, its main control
 * pressed, its result awaited, on the wasm backend; any console error or page error fails the
 * page, and a screenshot of each is saved in test/artifacts/. The index page also runs with
 * WebGPU on, where it names the backend 'auto' chose and why.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../setup/browser.mjs';
import { serveStatic } from '../setup/static-server.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const site = `${root}/demo/dist`;
const artifacts = `${root}/test/artifacts`;
let browser: Browser;
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  if (!existsSync(`${site}/index.html`)) throw new Error('demo/dist is missing: `npm test` builds it first (or run `npm run build:demo`)');
  mkdirSync(artifacts, { recursive: true });
  server = await serveStatic(site);
  browser = await launchBrowser({ protocolTimeout: 0, webgpu: false });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Each page, what to set before pressing its button, and how long its work may take. */
const PAGES: Array<{ page: string; setup?: Record<string, string>; seconds: number; expect: RegExp }> = [
  { page: 'index', seconds: 30, expect: /^wasm backend: WebAssembly .*SIMD, \d+ threads? \(no WebGPU adapter/ },
  { page: 'hmm', seconds: 60, expect: /the three agree/ },
  // Trains until the loss is 10% below the unigram entropy, at most 60 s of training.
  { page: 'char-lstm', seconds: 150, expect: /below the unigram entropy/ },
  // With the short training run, so that the clipped training path and the second heatmap run too.
  { page: 'gradients', setup: { train: 'checked' }, seconds: 120, expect: /‖∂h_t\/∂h_\(t−1\)‖ ≈ .*20 steps at lr 0.5 with clipping/ },
  // Euler outside its stability region (the default a = 0.5, ω = 1.5 put the edge at h = 0.4):
  // the engine's exploding Jacobian norms beside ‖(I + hA)^t‖.
  { page: 'ode', setup: { step: '0.6' }, seconds: 90, expect: /^euler, h = 0\.6: .*\(outside: errors grow\).*max relative difference (0\.0e\+0|\d\.\de-([5-9]|1\d))$/ },
  // Fewer training steps than the page's default: the test checks that it runs, not how well.
  { page: 'filtering', setup: { steps: '40' }, seconds: 200, expect: /^4 settings \(3 scalar at T = 128, position and velocity at T = 512\), 40 steps per network in [\d.]+ s: uni\/filter and bi\/smoother [\d./, ]+; (every network within 5% of its optimal estimator|stopped short of 5% at .*)$/ },
  // Workload A's LSTM forward passes with the peers (TensorFlow.js, ONNX Runtime Web) loaded
  // from the built site: the page's path through every engine that runs without WebGPU (one
  // cell keeps it short): webrnn, tfjs and ONNX Runtime on wasm.
  { page: 'bench', setup: { cells: 'lstm' }, seconds: 300, expect: /^3 rows; createEngine\(\) picks wasm here \(no WebGPU adapter.*\); every one checked, peers included/ },
];

describe('the demo pages in headless Chromium', () => {
  it('index, with WebGPU on: names the backend and why', async () => {
    const gpuBrowser = await launchBrowser({ webgpu: true });
    try {
      const page = await gpuBrowser.newPage();
      await page.goto(`${server.url}/index.html`, { waitUntil: 'load' });
      await page.click('#run');
      await page.waitForFunction(() => (window as unknown as { demoResult?: unknown }).demoResult !== undefined, { timeout: 30_000, polling: 250 });
      const result = await page.evaluate(() => (window as unknown as { demoResult: { ok: boolean; summary: string } }).demoResult);
      expect(result.ok, result.summary).toBe(true);
      // A hardware adapter runs WebGPU; SwiftShader (this machine) hands over to the wasm backend.
      expect(result.summary).toMatch(/^WebGPU adapter: .*\(a hardware WebGPU adapter|^wasm backend: .*the WebGPU adapter is a software one/);
    } finally {
      await gpuBrowser.close();
    }
  });

  for (const { page: name, setup, seconds, expect: pattern } of PAGES) {
    it(`${name}: runs its main control to a result without errors`, async () => {
      expect(existsSync(`${site}/${name}.html`), `${name}.html was built`).toBe(true);
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page: ${String(e)}`));
      try {
        await page.setViewport({ width: 900, height: 1100 });
        await page.goto(`${server.url}/${name}.html`, { waitUntil: 'load' });
        for (const [id, value] of Object.entries(setup ?? {})) {
          await page.$eval(`#${id}`, (el, v) => {
            const input = el as HTMLInputElement;
            if (input.type === 'checkbox') input.checked = v === 'checked';
            else input.value = v;
          }, value);
        }
        await page.click('#run');
        await page.waitForFunction(() => (window as unknown as { demoResult?: unknown }).demoResult !== undefined, { timeout: seconds * 1000, polling: 250 });
        const result = await page.evaluate(() => (window as unknown as { demoResult: { ok: boolean; summary: string } }).demoResult);
        await page.screenshot({ path: `${artifacts}/demo-${name}.png`, fullPage: true });
        expect(result.ok, `${name}: ${result.summary}`).toBe(true);
        expect(result.summary).toMatch(pattern);
        expect(problems, `${name}: console or page errors`).toEqual([]);
      } finally {
        await page.close();
      }
    }, 400_000);
  }
});
