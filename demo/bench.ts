// The benchmark's webrnn rows in the visitor's browser, from the suite `npm run bench` runs.
import * as lib from '../src/index.js';
import { runSuite, WORKLOADS } from '../bench/suite.js';
import { element, linePlot, status, wire } from './common.js';

interface Row {
  engine: string;
  workload: string;
  cell: string;
  mode: string;
  ms: number;
  gflops: number;
  ok: boolean;
}

wire(element<HTMLButtonElement>('run'), async () => {
  if (!('gpu' in navigator)) throw new Error('This browser has no WebGPU (navigator.gpu).');
  const workloads = element<HTMLSelectElement>('workloads').value.split(',');
  const modes = element<HTMLSelectElement>('modes').value.split(',');
  const ceilings = element<HTMLInputElement>('ceilings').checked;
  const cells = ['lstm', 'gru', 'rnn'];
  const expected = cells.length * workloads.length * modes.length;
  const rows: Row[] = [];
  const table = element<HTMLTableElement>('rows');
  table.innerHTML = '<tr><th>cell</th><th>workload</th><th>mode</th><th>median ms</th><th>GFLOP/s</th><th>checked</th></tr>';
  const result = await runSuite(lib, { engines: ['webrnn'], workloads, modes, cells, ceilings, firstUse: false, stream: false }, (row: Row) => {
    rows.push(row);
    const tr = document.createElement('tr');
    for (const v of [row.cell, row.workload, row.mode, row.ms.toFixed(2), row.gflops ? row.gflops.toFixed(3) : '', row.ok ? 'yes' : 'NO']) {
      const td = document.createElement('td');
      td.textContent = String(v);
      tr.appendChild(td);
    }
    table.appendChild(tr);
    const work = rows.filter((r) => r.mode !== 'ceiling').length;
    status(`${row.cell} ${row.workload} ${row.mode}: ${row.ms.toFixed(1)} ms`, work / expected);
  });
  const infer = rows.filter((r) => r.mode === 'infer');
  linePlot(
    element<HTMLCanvasElement>('plot'),
    cells.map((cell, k) => ({ label: `${cell} GFLOP/s`, color: ['#1f77b4', '#ff7f0e', '#2ca02c'][k], values: workloads.map((w) => infer.find((r) => r.cell === cell && r.workload === w)?.gflops ?? NaN), x: workloads.map((_, i) => i) })),
    { title: `forward GFLOP/s per workload (${workloads.join(', ')})`, xLabel: 'workload' },
  );
  const bad = result.rows.filter((r: Row) => !r.ok);
  if (bad.length) throw new Error(`rows that failed their check: ${bad.map((r: Row) => `${r.cell} ${r.workload} ${r.mode}`).join(', ')}`);
  const a = result.adapter;
  return `${rows.length} rows on ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ')}${a.software ? ' (software)' : ''}; every one checked (${Object.keys(WORKLOADS).length} workloads defined)`;
});
