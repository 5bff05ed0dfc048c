/**
 * End to end in headless Chromium: the built package (dist/index.js, as a bundler or a page
 * would import it) runs forward passes on the page's WebGPU adapter, compared with the
 * float64 reference computed here in Node.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSpec, type CellKind, type GruOptions, type RnnOptions } from '../../src/spec/spec.js';
import { recurrentForwardReference } from '../../src/reference/recurrent-forward.js';
import { expectClose } from '../helpers/compare.js';
import { randomFloats } from '../helpers/gpu.js';
import { randomStateDict } from '../helpers/models.js';
import { testRandom } from '../helpers/seed.js';
import { launchBrowser } from '../setup/browser.mjs';
import { serveStatic } from '../setup/static-server.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { rng, seed } = testRandom('chromium');
let browser: Browser;
let page: Page;
let server: { url: string; close(): Promise<void> };
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(`${root}/dist/index.js`)) throw new Error('dist/index.js is missing: `npm test` builds it first (or run `npm run build`)');
  server = await serveStatic(root);
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(`page: ${String(e)}`));
  await page.goto(`${server.url}/`);
  await page.addScriptTag({ url: `${server.url}/test/browser/page-runner.js`, type: 'module' });
  await page.waitForFunction(() => (window as unknown as { runnerReady?: boolean }).runnerReady === true);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface PageCase {
  kind: CellKind;
  options: RnnOptions & GruOptions;
  dict: Record<string, number[]>;
  x: number[];
  batch: number;
  seqLen: number;
  h0?: number[];
  c0?: number[];
}

/** Run cases in the page with the built package; returns outputs as plain arrays. */
function runInPage(cases: PageCase[]): Promise<{ info: Record<string, unknown>; results: Array<{ output: number[]; hN: number[]; cN?: number[] }> }> {
  return page.evaluate((c) => (window as unknown as { runCases(c: unknown): Promise<never> }).runCases(c), cases as never);
}

describe('the built package in headless Chromium', () => {
  it('has a WebGPU adapter', async () => {
    const found = await page.evaluate(async () => !!(navigator.gpu && (await navigator.gpu.requestAdapter())));
    expect(found).toBe(true);
  });

  it('every cell kind, stacked and bidirectional, matches the float64 reference', async () => {
    const configs: Array<{ kind: CellKind; extra: Record<string, unknown> }> = [
      { kind: 'lstm', extra: {} },
      { kind: 'gru', extra: {} },
      { kind: 'gru', extra: { linearBeforeReset: false } },
      { kind: 'rnn', extra: { nonlinearity: 'tanh' } },
      { kind: 'rnn', extra: { nonlinearity: 'relu' } },
      { kind: 'rnn', extra: { nonlinearity: 'identity' } },
    ];
    const cases: PageCase[] = [];
    for (const { kind, extra } of configs) {
      for (const batchFirst of [false, true]) {
        const options = { inputSize: 5, hiddenSize: 9, numLayers: 2, bidirectional: true, batchFirst, ...extra };
        const spec = resolveSpec(kind, options);
        const dict = randomStateDict(spec, rng);
        const batch = 3;
        const seqLen = 6;
        const state = 2 * 2 * batch * 9;
        cases.push({
          kind,
          options,
          dict: Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, Array.from(v)])),
          x: Array.from(randomFloats(rng, seqLen * batch * 5, -1.5, 1.5)),
          batch,
          seqLen,
          h0: Array.from(randomFloats(rng, state)),
          c0: kind === 'lstm' ? Array.from(randomFloats(rng, state)) : undefined,
        });
      }
    }
    const { info, results } = await runInPage(cases);
    expect(info.runtime).toBe('browser');
    cases.forEach((c, i) => {
      const spec = resolveSpec(c.kind, c.options);
      const ref = recurrentForwardReference(spec, c.dict, c.x, c);
      const label = `chromium ${c.kind} ${JSON.stringify(c.options)} (seed ${seed})`;
      expectClose(`${label}: output`, results[i].output, ref.output);
      expectClose(`${label}: hN`, results[i].hN, ref.hN);
      if (ref.cN) expectClose(`${label}: cN`, results[i].cN!, ref.cN);
    });
    expect(pageErrors).toEqual([]);
  });
});
