/**
 * The demo site in headless Chromium with WebGPU turned off, as in a browser without it: every
 * page of the built site (demo/dist, made by `npm run build:demo`) is opened, what it does on
 * arrival awaited, its main control pressed, its result awaited, on the wasm backend; any
 * console error or page error fails the page. Each page must carry the site's navigation bar
 * (every page linked, itself marked), name its backend, and fit a phone's width without
 * sideways scrolling; a screenshot of each is saved in test/artifacts/. The index page also
 * runs with WebGPU on, where it names the backend 'auto' chose and why.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../setup/browser.mjs';
import { PAGES as SITE_PAGES } from '../../demo/vite.config.js';
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

const BACKEND = /^wasm backend: WebAssembly .*SIMD, \d+ threads? \(no WebGPU adapter/;

/**
 * Each page: what it reports on arrival (`onLoad`, with a check of its figures), what to set
 * before pressing its button, what that reports (`expect`), and how long its work may take.
 */
const PAGES: Array<{ page: string; onLoad?: RegExp; check?: (m: RegExpMatchArray) => void; setup?: Record<string, string>; seconds: number; expect?: RegExp; backendLine?: false }> = [
  { page: 'index', seconds: 30, onLoad: /^an LSTM of 128 units runs 128 steps here in [\d.]+ ms \(median of 5\)$/ },
  { page: 'hmm', seconds: 60, expect: /the three agree/ },
  // The shipped model scored on held-out text (what the training script measured, within the
  // spread of a 2000-character excerpt) and streaming; then one trained from scratch for 15 s,
  // its held-out loss below the unigram entropy.
  {
    page: 'char-lstm',
    seconds: 150,
    onLoad: /^trained model \(\d+ steps, weights in F16\): held-out loss (\d\.\d+) nats\/char on 2000 characters \((\d\.\d+) on the whole held-out tenth, by the training script\); 500 characters streamed in [\d.]+ s at temperature 0\.8$/,
    check: (m) => {
      expect(Number(m[1])).toBeLessThan(2);
      expect(Math.abs(Number(m[1]) - Number(m[2]))).toBeLessThan(0.25);
    },
    setup: { seconds: '15' },
    expect: /^\d+ steps in 1\d\.\d s: held-out loss \d\.\d+ nats\/char, below the unigram entropy \d\.\d+$/,
  },
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
  // It runs both of webrnn's backends itself, so it has no backend line; its summary names the one createEngine() picks.
  { page: 'bench', setup: { cells: 'lstm' }, seconds: 300, backendLine: false, expect: /^3 rows; createEngine\(\) picks wasm here \(no WebGPU adapter.*\); every one checked, peers included/ },
];

describe('the demo pages in headless Chromium', () => {
  it('index, with WebGPU on: names the backend and why', async () => {
    const gpuBrowser = await launchBrowser({ webgpu: true });
    try {
      const page = await gpuBrowser.newPage();
      await page.goto(`${server.url}/index.html`, { waitUntil: 'load' });
      await page.waitForFunction(() => (window as unknown as { demoResult?: unknown }).demoResult !== undefined, { timeout: 30_000, polling: 250 });
      const result = await page.evaluate(() => (window as unknown as { demoResult: { ok: boolean; summary: string } }).demoResult);
      expect(result.ok, result.summary).toBe(true);
      // A hardware adapter runs WebGPU; SwiftShader (this machine) hands over to the wasm backend.
      expect(await page.$eval('#backend', (e) => e.textContent)).toMatch(/^WebGPU adapter: .*\(a hardware WebGPU adapter|^wasm backend: .*the WebGPU adapter is a software one/);
    } finally {
      await gpuBrowser.close();
    }
  });

  const result = async (page: Page, seconds: number): Promise<{ ok: boolean; summary: string }> => {
    await page.waitForFunction(() => (window as unknown as { demoResult?: unknown }).demoResult !== undefined, { timeout: seconds * 1000, polling: 250 });
    return page.evaluate(() => (window as unknown as { demoResult: { ok: boolean; summary: string } }).demoResult);
  };

  for (const { page: name, onLoad, check, setup, seconds, expect: pattern, backendLine } of PAGES) {
    it(`${name}: runs to its results without errors, in the site's frame, at any width`, async () => {
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
        const nav = await page.$$eval('header.site nav a', (as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('aria-current')]));
        expect(nav, `${name}: the navigation bar`).toEqual(SITE_PAGES.map((p) => [`./${p}.html`, p === name ? 'page' : null]));
        if (onLoad) {
          const first = await result(page, seconds);
          expect(first.ok, `${name} on arrival: ${first.summary}`).toBe(true);
          const m = first.summary.match(onLoad);
          expect(first.summary).toMatch(onLoad);
          check?.(m!);
        }
        if (pattern) {
          for (const [id, value] of Object.entries(setup ?? {})) {
            await page.$eval(`#${id}`, (el, v) => {
              const input = el as HTMLInputElement;
              if (input.type === 'checkbox') input.checked = v === 'checked';
              else input.value = v;
            }, value);
          }
          await page.click('#run');
          const r = await result(page, seconds);
          expect(r.ok, `${name}: ${r.summary}`).toBe(true);
          expect(r.summary).toMatch(pattern);
        }
        if (backendLine !== false) expect(await page.$eval('#backend', (e) => e.textContent), `${name}: the backend line`).toMatch(BACKEND);
        await page.screenshot({ path: `${artifacts}/demo-${name}.png`, fullPage: true });
        // A phone's width: the column, controls and plots reflow; nothing scrolls sideways.
        await page.setViewport({ width: 375, height: 800 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        await page.screenshot({ path: `${artifacts}/demo-${name}-narrow.png`, fullPage: true });
        expect(overflow, `${name}: pixels wider than a 375-pixel window`).toBeLessThanOrEqual(0);
        expect(problems, `${name}: console or page errors`).toEqual([]);
      } finally {
        await page.close();
      }
    }, 400_000);
  }
});
