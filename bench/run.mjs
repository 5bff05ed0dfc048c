#!/usr/bin/env node
// `npm run bench`: times webrnn's forward pass in headless Chromium (through puppeteer, on
// the browser's WebGPU adapter) or, with --node, in Node through Dawn. Prints one table and
// writes bench/results/latest.json.
//
// Options: --node  --cells lstm,gru,rnn  --workloads A,B,C  --runs 7
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKLOADS } from './suite.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { node: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--node') o.node = true;
    else if (a === '--cells') o.cells = value().split(',');
    else if (a === '--workloads') o.workloads = value().split(',');
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--modes') o.modes = value().split(',');
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--node] [--cells lstm,gru,rnn] [--workloads A,B,C] [--modes infer,train] [--runs N]');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  for (const c of o.cells ?? []) if (!['lstm', 'gru', 'rnn'].includes(c)) throw new Error(`unknown cell ${c}`);
  for (const w of o.workloads ?? []) if (!(w in WORKLOADS)) throw new Error(`unknown workload ${w}`);
  for (const m of o.modes ?? []) if (!['infer', 'train'].includes(m)) throw new Error(`unknown mode ${m}`);
  if (o.runs !== undefined && !(Number.isInteger(o.runs) && o.runs >= 1)) throw new Error('--runs must be a positive integer');
  return o;
}

async function inBrowser(options) {
  const { launchBrowser } = await import('../test/setup/browser.mjs');
  const { serveStatic } = await import('../test/setup/static-server.mjs');
  const server = await serveStatic(root);
  const browser = await launchBrowser({ protocolTimeout: 0 });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      const text = m.text();
      if (text.startsWith('row ')) progress(JSON.parse(text.slice(4)));
      else if (m.type() === 'error') console.error(`[page] ${text}`);
    });
    page.on('pageerror', (e) => console.error(`[page] ${e}`));
    await page.goto(`${server.url}/`);
    await page.addScriptTag({ url: `${server.url}/bench/page.js`, type: 'module' });
    await page.waitForFunction(() => window.benchReady === true);
    const result = await page.evaluate((o) => window.benchRun(o), options);
    return { ...result, browser: await browser.version() };
  } finally {
    await browser.close();
    await server.close();
  }
}

async function inNode(options) {
  const lib = await import('../dist/index.js');
  const { runSuite } = await import('./suite.js');
  const result = await runSuite(lib, options, progress);
  return { ...result, browser: `node ${process.version} (webgpu/Dawn)` };
}

function progress(row) {
  process.stderr.write(`  ${row.cell} ${row.workload} ${row.mode}: ${row.ms.toFixed(2)} ms\n`);
}

function table(rows) {
  const head = ['cell', 'mode', 'workload', 'B', 'T', 'I', 'H', 'median ms', 'min ms', 'GFLOP/s', 'first call ms', 'dispatches', 'ok'];
  const body = rows.map((r) => {
    const w = WORKLOADS[r.workload];
    return [r.cell, r.mode, r.workload, w.batch, w.seqLen, w.inputSize, w.hiddenSize, r.ms.toFixed(2), r.minMs.toFixed(2), r.gflops.toFixed(2), r.firstCallMs.toFixed(1), r.dispatches ?? '', r.ok ? 'yes' : 'NO'].map(String);
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

const options = parseArgs(process.argv.slice(2));
const { node, ...suiteOptions } = options;
console.log(`webrnn benchmark (${node ? 'Node, Dawn' : 'headless Chromium'}), float32, median of ${suiteOptions.runs ?? 7} runs after warm-up`);
console.log('infer: a forward pass with results read back; train: one training step (forward, MSE, BPTT, clipping, Adam, loss read back)');
const result = node ? await inNode(suiteOptions) : await inBrowser(suiteOptions);
const a = result.adapter;
console.log(`adapter: ${a.vendor} ${a.architecture} ${a.device} ${a.description}${a.software ? ' (software)' : ''}; ${result.browser}`);
console.log(table(result.rows));
const out = { adapter: result.adapter, browser: result.browser, date: new Date().toISOString(), rows: result.rows };
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/latest.json'), JSON.stringify(out, null, 2) + '\n');
console.log('written: bench/results/latest.json');
if (result.rows.some((r) => !r.ok)) {
  console.error('some results did not match the reference');
  process.exit(1);
}
