// Filtering versus smoothing: the Kalman filter and smoother against a unidirectional and a
// bidirectional RNN trained by webrnn, over observation-to-state noise ratios.
import { compareFilteringSmoothing } from '../src/index.js';
import { element, getEngine, linePlot, status, wire, yieldToPage } from './common.js';

wire(element<HTMLButtonElement>('run'), async () => {
  const steps = Number(element<HTMLInputElement>('steps').value);
  const noise = [
    { q: 1, r: 0.1 },
    { q: 1, r: 1 },
    { q: 0.1, r: 1 },
  ];
  const engine = await getEngine();
  const uni: number[] = [];
  const bi: number[] = [];
  let last = performance.now();
  const result = await compareFilteringSmoothing(engine, {
    noise,
    steps,
    onProgress: (p) => {
      if (p.phase === 'train') {
        uni.push(p.uniLoss ?? NaN);
        bi.push(p.biLoss ?? NaN);
      }
      // Repaint now and then; the work itself runs in the engine between the calls.
      if (performance.now() - last > 250) {
        last = performance.now();
        status(`setting ${p.setting + 1} of ${p.settings} (q ${p.q}, r ${p.r}): step ${p.step} of ${p.steps}`, (p.setting + p.step / p.steps) / p.settings);
        linePlot(element<HTMLCanvasElement>('losses'), [
          { label: 'unidirectional loss', values: uni, color: '#1f77b4' },
          { label: 'bidirectional loss', values: bi, color: '#ff7f0e' },
        ], { title: 'training losses (all settings in turn)', xLabel: 'read-out', logY: true });
      }
    },
  });
  await yieldToPage();
  const s = result.settings;
  const x = s.map((r) => Math.log10(r.r / r.q));
  linePlot(element<HTMLCanvasElement>('ratios'), [
    { label: 'smoother / filter MSE', values: s.map((r) => r.smootherOverFilter), color: '#2ca02c', x },
    { label: 'bi / uni RNN MSE', values: s.map((r) => r.biOverUni), color: '#d62728', x },
  ], { title: 'error ratios against log10(r / q)', xLabel: 'log10(r/q)' });
  element('table').textContent = [
    '     q      r   filter  smoother   uni RNN    bi RNN  smoother/filter  bi/uni',
    ...s.map((r) => `${r.q.toFixed(2).padStart(6)} ${r.r.toFixed(2).padStart(6)} ${r.kalmanMse.toFixed(4).padStart(8)} ${r.smootherMse.toFixed(4).padStart(9)} ${r.uniMse.toFixed(4).padStart(9)} ${r.biMse.toFixed(4).padStart(9)} ${r.smootherOverFilter.toFixed(3).padStart(16)} ${r.biOverUni.toFixed(3).padStart(7)}`),
  ].join('\n');
  if (!s.every((r) => Number.isFinite(r.uniMse) && Number.isFinite(r.biMse))) throw new Error('a network did not train to a finite error');
  return `${s.length} settings, ${result.steps} steps per network: bi/uni ${s.map((r) => r.biOverUni.toFixed(2)).join(', ')} against smoother/filter ${s.map((r) => r.smootherOverFilter.toFixed(2)).join(', ')}`;
});
