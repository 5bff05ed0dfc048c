// The benchmark's webrnn rows in the visitor's browser, from the suite `npm run bench` runs.
import * as lib from '../src/index.js';
import { runSuite } from '../bench/suite.js';
// @ts-expect-error plain JavaScript shared with `npm run bench`, typed where it is used here
import { loadPeers, ortSession, tfjsModel } from '../bench/peers.js';
import { element, linePlot, status, wire } from './common.js';

interface Row {
  engine: string;
  backend: string;
  threads?: number;
  ratio?: number;
  onGpu: boolean;
  capped?: boolean;
  skipped?: boolean;
  workload: string;
  cell: string;
  mode: string;
  ms: number;
  gflops: number;
  ok: boolean;
}

wire(element<HTMLButtonElement>('run'), async () => {
  const workloads = element<HTMLSelectElement>('workloads').value.split(',');
  const modes = element<HTMLSelectElement>('modes').value.split(',');
  const ceilings = element<HTMLInputElement>('ceilings').checked;
  const withPeers = element<HTMLInputElement>('peers').checked;
  let peers: unknown = null;
  if (withPeers) {
    status('loading TensorFlow.js and ONNX Runtime Web…');
    // The page's own directory: the build puts the peers' files under it (see demo/vite.config.ts).
    const base = new URL('.', location.href).href.replace(/\/$/, '');
    peers = { ...(await loadPeers(base)), tfjsModel, ortSession };
  }
  const cells = element<HTMLSelectElement>('cells').value.split(',');
  const engines = withPeers ? ['webrnn', 'tfjs', 'ort'] : ['webrnn'];
  // Rows per (cell, workload), about: webrnn's on WebGPU and wasm, and per peer backend one per
  // mode (ONNX Runtime: inference); for the progress bar only.
  const expected = cells.length * workloads.length * (modes.length * (withPeers ? 4 : 2) + (withPeers ? 2 : 0));
  const rows: Row[] = [];
  const table = element<HTMLTableElement>('rows');
  table.innerHTML = '<tr><th>cell</th><th>workload</th><th>mode</th><th>engine</th><th>median ms</th><th>GFLOP/s</th><th>×webrnn</th><th>GPU</th><th>checked</th></tr>';
  const result = await runSuite(lib, { engines, backends: ['webgpu', 'wasm'], workloads, modes, cells, ceilings, firstUse: false, stream: false }, (row: Row) => {
    rows.push(row);
    const tr = document.createElement('tr');
    const ours = rows.find((r) => r.engine === 'webrnn' && r.cell === row.cell && r.workload === row.workload && r.mode === row.mode);
    const ratio = row.engine !== 'webrnn' && ours && Number.isFinite(row.ms) ? (row.ms / ours.ms).toFixed(2) : '';
    const ms = Number.isFinite(row.ms) ? `${row.ms.toFixed(2)}${row.capped ? ' (1 run)' : ''}` : row.skipped ? 'skipped' : 'failed';
    for (const v of [row.cell, row.workload, row.mode, `${row.engine} ${row.backend}${row.threads ? ` ×${row.threads}` : ''}`, ms, row.gflops ? row.gflops.toFixed(3) : '', ratio, row.onGpu ? 'yes' : 'no', row.ok ? 'yes' : 'NO']) {
      const td = document.createElement('td');
      td.textContent = String(v);
      tr.appendChild(td);
    }
    table.appendChild(tr);
    const work = rows.filter((r) => r.mode !== 'ceiling').length;
    status(`${row.engine} ${row.backend} ${row.cell} ${row.workload} ${row.mode}: ${Number.isFinite(row.ms) ? `${row.ms.toFixed(1)} ms` : 'skipped'}`, work / expected);
  }, peers);
  const infer = rows.filter((r) => r.mode === 'infer' && r.engine === 'webrnn');
  linePlot(
    element<HTMLCanvasElement>('plot'),
    cells.map((cell, k) => ({ label: `${cell} GFLOP/s`, color: ['#1f77b4', '#ff7f0e', '#2ca02c'][k], values: workloads.map((w) => infer.find((r) => r.cell === cell && r.workload === w)?.gflops ?? NaN), x: workloads.map((_, i) => i) })),
    { title: `forward GFLOP/s per workload (${workloads.join(', ')})`, xLabel: 'workload' },
  );
  const bad = result.rows.filter((r) => !r.ok);
  if (bad.length) throw new Error(`rows that failed their check: ${bad.map((r) => `${r.engine} ${r.backend} ${r.cell} ${r.workload} ${r.mode}${r.error ? ` (${r.error})` : ''}`).join(', ')}`);
  return `${rows.length} rows; createEngine() picks ${result.auto.backend} here (${result.auto.reason}); every one checked${withPeers ? ', peers included' : ''}`;
});
