#!/usr/bin/env node
// `npm run bench`: times webrnn in headless Chromium (through puppeteer; on the browser's
// WebGPU adapter, and on the wasm backend with all the machine's threads and with one) next to
// TensorFlow.js (webgpu, wasm) and ONNX Runtime Web (webgpu, wasm) on the same weights and
// inputs, in a cross-origin-isolated page so that every wasm engine may use threads, with each
// backend's ceilings measured by webrnn's own kernels; or, with --node, webrnn alone in Node
// (Dawn's WebGPU and the wasm backend). Prints one table and writes bench/results/latest.json.
//
// Options: --node  --cells lstm,gru,rnn  --workloads A,B,C  --modes infer,train
//          --backends webgpu,wasm,wasm-1 (webrnn's: WebGPU, wasm on all threads, wasm on one)
//          --engines webrnn,tfjs,ort  --runs 5  --cap 5 (seconds a peer row's warm-up may take
//          before the row stops at it; 0: no cap)  --no-ceilings  --no-first-use
//          --persistent on|off|auto (webrnn's recurrence kernel; default auto, the model's own choice)
//          --placement JSON (thresholds of webrnn's WebGPU engine: createEngine's placement option)
//          --weights f32|f16 (webrnn's models' weightPrecision; f16 with --modes infer)
//          --baseline REV [--rounds 3]: webrnn's rows of this build and of revision REV
//          alternated in one page (bench/baseline.mjs), written to bench/results/compare-latest.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { alternate, prepareBaseline, summarise } from './baseline.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKENDS, ENGINES, WORKLOADS } from './suite.js';

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
    else if (a === '--backends') o.backends = value().split(',');
    else if (a === '--workloads') o.workloads = value().split(',');
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--modes') o.modes = value().split(',');
    else if (a === '--engines') o.engines = value().split(',');
    else if (a === '--cap') o.capMs = Number(value()) * 1000;
    else if (a === '--no-ceilings') o.ceilings = false;
    else if (a === '--persistent') {
      const v = value();
      if (!['on', 'off', 'auto'].includes(v)) throw new Error('--persistent takes on, off or auto');
      o.persistent = v === 'auto' ? 'auto' : v === 'on';
    }
    else if (a === '--placement') {
      const v = value();
      try {
        o.placement = JSON.parse(v);
      } catch {
        throw new Error(`--placement takes a JSON object of thresholds, got ${v}`);
      }
    } else if (a === '--weights') {
      const v = value();
      if (!['f32', 'f16'].includes(v)) throw new Error('--weights takes f32 or f16');
      o.weights = v;
    } else if (a === '--no-first-use') o.firstUse = false;
    else if (a === '--baseline') o.baseline = value();
    else if (a === '--rounds') o.rounds = Number(value());
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--node] [--cells lstm,gru,rnn] [--backends webgpu,wasm,wasm-1] [--workloads A,B,C] [--modes infer,train] [--engines webrnn,tfjs,ort] [--runs N] [--cap SECONDS] [--no-ceilings] [--no-first-use] [--persistent on|off|auto] [--placement JSON] [--weights f32|f16] [--baseline REV [--rounds N]]');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  for (const c of o.cells ?? []) if (!['lstm', 'gru', 'rnn'].includes(c)) throw new Error(`unknown cell ${c}`);
  for (const w of o.workloads ?? []) if (!(w in WORKLOADS)) throw new Error(`unknown workload ${w}`);
  for (const m of o.modes ?? []) if (!['infer', 'train'].includes(m)) throw new Error(`unknown mode ${m}`);
  if (o.weights === 'f16' && (o.modes ?? ['infer', 'train']).includes('train')) throw new Error('--weights f16 is for inference: add --modes infer');
  for (const e of o.engines ?? []) if (!ENGINES.includes(e)) throw new Error(`unknown engine ${e}`);
  for (const b of o.backends ?? []) if (!BACKENDS.includes(b)) throw new Error(`unknown backend ${b} (webrnn's: ${BACKENDS.join(', ')})`);
  if (o.runs !== undefined && !(Number.isInteger(o.runs) && o.runs >= 1)) throw new Error('--runs must be a positive integer');
  if (o.rounds !== undefined && !(Number.isInteger(o.rounds) && o.rounds >= 1)) throw new Error('--rounds must be a positive integer');
  if (o.rounds !== undefined && o.baseline === undefined) throw new Error('--rounds goes with --baseline');
  if (o.baseline !== undefined && o.engines) throw new Error('--baseline compares webrnn builds alone; leave out --engines');
  if (o.capMs !== undefined && !(o.capMs >= 0)) throw new Error('--cap must be a number of seconds ≥ 0 (0: no cap)');
  if (o.node) {
    if (o.engines && o.engines.some((e) => e !== 'webrnn')) throw new Error('--node runs webrnn alone (the peers run in the browser)');
    o.engines = ['webrnn'];
  }
  return o;
}

/** Run `fn(page)` on the benchmark page (bench/page.js) in headless Chromium; resolves to its result and the browser's version. */
async function onBenchPage(fn) {
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
    return { result: await fn(page), browser: await browser.version() };
  } finally {
    await browser.close();
    await server.close();
  }
}

async function inBrowser(options) {
  const { result, browser } = await onBenchPage((page) => page.evaluate((o) => window.benchRun(o), options));
  return { ...result, browser };
}

async function inNode(options) {
  const lib = await import('../dist/index.js');
  const { runSuite } = await import('./suite.js');
  const result = await runSuite(lib, options, progress);
  return { ...result, browser: `node ${process.version} (Dawn's WebGPU, wasm)` };
}

function progress(row) {
  const what = row.mode === 'ceiling' ? `ceiling ${row.workload}` : `${row.engine} ${row.backend} ${row.cell} ${row.workload} ${row.mode}`;
  process.stderr.write(`  ${what}: ${Number.isFinite(row.ms) ? `${row.ms.toFixed(2)} ms` : (row.error ?? row.note)}${row.capped ? ' (warm-up only: over the cap)' : ''}\n`);
}

const fmt = (x, digits = 2) => (x === undefined || x === null || !Number.isFinite(x) ? '' : x.toFixed(digits));

function render(head, body) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** webrnn's backend as a row shows it: webgpu, or wasm with its threads. */
const backendOf = (r) => (r.backend === 'wasm' && r.threads !== undefined ? `wasm ×${r.threads}` : r.backend);

function table(rows) {
  const out = [];
  const ceilings = rows.filter((r) => r.mode === 'ceiling');
  if (ceilings.length) {
    out.push('Ceilings (webrnn\'s own kernels; wasm: a register-only multiply-add loop, and the GEMM\'s share of the all-thread peak):');
    out.push(render(['backend', 'measure', 'ms', 'GFLOP/s', '% of peak', 'GB/s'], ceilings.map((r) => [backendOf(r), r.workload, r.workload === 'copy' || r.ms === 0 ? '' : fmt(r.ms, 3), fmt(r.gflops || undefined), r.shareOfPeak === undefined ? '' : `${(100 * r.shareOfPeak).toFixed(0)}%`, fmt(r.gbps, 1)])));
  }
  const first = rows.filter((r) => r.mode === 'first-use');
  if (first.length) {
    out.push('', 'First use: createEngine to the first result of a fresh model (workload A, kernels compiled):');
    out.push(render(['cell', 'backend', 'ms', 'kernels'], first.map((r) => [r.cell, backendOf(r), fmt(r.ms, 0), r.backend === 'webgpu' ? (r.persistent ? 'persistent' : 'per-step') : ''])));
  }
  const work = rows.filter((r) => !['ceiling', 'first-use'].includes(r.mode));
  if (work.length) {
    out.push('', 'Workloads (median ms of the timed runs after a warm-up; ×webrnn: time as a multiple of webrnn\'s):');
    const head = ['cell', 'workload', 'mode', 'engine', 'backend', 'threads', 'median ms', 'runs', 'GFLOP/s', '% GEMM', '×webrnn', 'GPU', 'ok', 'note'];
    const body = work.map((r) => {
      const w = WORKLOADS[r.workload];
      const note = [r.capped ? 'over the cap: one (warm-up) run' : '', r.error ?? '', r.note ?? '', r.mode === 'stream' ? `per step; ${fmt(r.sequenceMs, 1)} ms for ${w.seqLen} steps` : ''].filter(Boolean).join('; ');
      return [r.cell, `${r.workload} (B${w.batch} T${w.seqLen} I${w.inputSize} H${w.hiddenSize})`, r.mode, r.engine, r.backend, r.threads === undefined ? '' : String(r.threads), fmt(r.ms), String(r.runs), fmt(r.gflops, 3), r.shareOfGemm === undefined ? '' : `${(100 * r.shareOfGemm).toFixed(0)}%`, r.engine === 'webrnn' ? '' : fmt(r.ratio), r.onGpu ? 'yes' : 'no', r.ok ? 'yes' : 'NO', note];
    });
    out.push(render(head, body));
  }
  return out.join('\n');
}

/** The suite's rows of each build, alternated: in one page, or with --node in this process. */
async function compareBuilds(node, baseline, suiteOptions, rounds) {
  if (node) {
    const builds = { new: await import('../dist/index.js'), old: await import(pathToFileURL(join(root, baseline.path)).href) };
    const { runSuite } = await import('./suite.js');
    return { results: await alternate(async (build, o) => (await runSuite(builds[build], o, progress)).rows, suiteOptions, rounds), browser: `node ${process.version} (webgpu/Dawn)` };
  }
  const paths = { new: '/dist/index.js', old: `/${baseline.path}` };
  const { result, browser } = await onBenchPage((page) => alternate((build, o) => page.evaluate((path, opts) => window.benchBuild(path, opts), paths[build], o), suiteOptions, rounds));
  return { results: result, browser };
}

const options = parseArgs(process.argv.slice(2));
const { node, baseline: baselineRev, rounds, ...suiteOptions } = options;
if (baselineRev !== undefined) {
  const started = Date.now();
  const baseline = prepareBaseline(root, baselineRev);
  const head = (await import('node:child_process')).execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  console.log(`webrnn: this build (HEAD ${head.slice(0, 12)}, with what the checkout changes) against ${baseline.commit.slice(0, 12)}, alternated ${rounds ?? 3} rounds, ${node ? 'Node, Dawn' : 'headless Chromium'}`);
  const { results, browser } = await compareBuilds(node, baseline, suiteOptions, rounds ?? 3);
  const summary = summarise(results);
  const ms = (x) => fmt(x, x < 10 ? 2 : 1);
  console.log(`${browser}; median ms of each round's median, [min, max] over the rounds`);
  console.log(render(['cell', 'workload', 'mode', 'backend', 'new', 'old', 'new / old', 'within spread'], summary.map((r) => [r.cell, r.workload, r.mode, backendOf(r), `${ms(r.newMedian)} [${ms(r.newRange[0])}, ${ms(r.newRange[1])}]`, `${ms(r.oldMedian)} [${ms(r.oldRange[0])}, ${ms(r.oldRange[1])}]`, fmt(r.ratio, 3), r.overlap ? 'yes' : 'NO'])));
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/compare-latest.json'), JSON.stringify({ head, baseline: baseline.commit, browser, date: new Date().toISOString(), summary, results }, null, 2) + '\n');
  console.log(`written: bench/results/compare-latest.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  process.exit(0);
}
console.log(`webrnn benchmark (${node ? 'Node, Dawn' : 'headless Chromium'}), float32, median of ${suiteOptions.runs ?? 5} runs after a warm-up`);
console.log('infer: a forward pass with all outputs read back; train: one training step (forward, MSE on a 1-output read-out, BPTT, global-norm clipping, Adam, loss read back)');
const started = Date.now();
const result = node ? await inNode(suiteOptions) : await inBrowser(suiteOptions);
const a = result.adapter;
console.log(`adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ')}${a.software ? ' (software)' : ''}; ${result.browser}${result.peerVersions ? `; tfjs ${result.peerVersions.tfjs}, onnxruntime-web ${result.peerVersions.ort}` : ''}`);
console.log(`createEngine() picks ${result.auto.backend}${result.auto.threads ? ` (${result.auto.threads} threads)` : ''} here: ${result.auto.reason}; ×webrnn is to that backend's rows`);
console.log(table(result.rows));
const out = { adapter: result.adapter, auto: result.auto, browser: result.browser, date: new Date().toISOString(), peers: result.peerVersions, rows: result.rows };
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/latest.json'), JSON.stringify(out, null, 2) + '\n');
console.log(`written: bench/results/latest.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);
const bad = result.rows.filter((r) => r.engine === 'webrnn' && !r.ok);
if (bad.length) {
  console.error(`webrnn rows that failed their check: ${bad.map((r) => `${r.cell} ${r.workload} ${r.mode}`).join(', ')}`);
  process.exit(1);
}
