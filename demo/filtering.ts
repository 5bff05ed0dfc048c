// Filtering versus smoothing: the Kalman filter and RTS smoother against a unidirectional and a
// bidirectional RNN trained by webrnn, at three noise settings of the scalar model and for a
// two-dimensional state (position and velocity, position observed). Sequences are long enough
// (T = 128, and 512 for the 2-D state, whose ends' transients are longer) that the networks'
// gap to the optimal estimators is the training's, not the ends' (src/analysis/filtering.ts).
import { compareFilteringSmoothing, matrixFromRows, stationaryCovariance, type FilteringSettingResult } from '../src/index.js';
import { element, getEngine, linePlot, status, wire, yieldToPage } from './common.js';

/** The target: each network's MSE within 5% of its optimal estimator's. */
const TOLERANCE = 1.05;

/** Position and velocity: p_t = 0.9 p_{t−1} + 0.5 v_{t−1}, v_t = 0.7 v_{t−1}, p observed. */
function positionVelocity() {
  const A = matrixFromRows([[0.9, 0.5], [0, 0.7]]);
  const Q = matrixFromRows([[0.1, 0], [0, 1]]);
  return { A, C: matrixFromRows([[1, 0]]), Q, R: matrixFromRows([[1]]), m0: [0, 0], P0: stationaryCovariance(A, Q) };
}

wire(element<HTMLButtonElement>('run'), async () => {
  const steps = Number(element<HTMLInputElement>('steps').value);
  const engine = await getEngine();
  const started = performance.now();
  const uni: number[] = [];
  const bi: number[] = [];
  let last = performance.now();
  const runs = [
    { name: 'scalar', seqLen: 128, noise: [{ q: 1, r: 0.1 }, { q: 1, r: 1 }, { q: 0.1, r: 1 }] },
    { name: 'position, velocity', seqLen: 512, noise: [{ q: 1, r: 1 }], model: positionVelocity() },
  ];
  const rows: Array<{ name: string; s: FilteringSettingResult }> = [];
  for (const [i, run] of runs.entries()) {
    const result = await compareFilteringSmoothing(engine, {
      ...(run.model ? { model: run.model } : {}),
      noise: run.noise,
      seqLen: run.seqLen,
      steps,
      onProgress: (p) => {
        if (p.phase === 'train') {
          uni.push(p.uniLoss ?? NaN);
          bi.push(p.biLoss ?? NaN);
        }
        // Repaint now and then; the work itself runs in the engine between the calls.
        if (performance.now() - last > 250) {
          last = performance.now();
          status(`${run.name}, setting ${p.setting + 1} of ${p.settings} (q ${p.q}, r ${p.r}): step ${p.step} of ${p.steps}, ${((performance.now() - started) / 1000).toFixed(0)} s`, (i + (p.setting + p.step / p.steps) / p.settings) / runs.length);
          linePlot(element<HTMLCanvasElement>('losses'), [
            { label: 'unidirectional loss', values: uni, color: '#1f77b4' },
            { label: 'bidirectional loss', values: bi, color: '#ff7f0e' },
          ], { title: 'training losses (every setting in turn)', xLabel: 'read-out', logY: true });
        }
      },
    });
    for (const s of result.settings) rows.push({ name: run.name, s });
    await yieldToPage();
  }
  const seconds = (performance.now() - started) / 1000;
  // Each setting's MSEs beside the steady-state Riccati variances, the theoretical lines.
  const x = rows.map((_, i) => i + 1);
  const series = (label: string, color: string, f: (s: FilteringSettingResult) => number) => ({ label, color, x, values: rows.map((r) => f(r.s)) });
  linePlot(element<HTMLCanvasElement>('ratios'), [
    series('filter Riccati', '#9ecae1', (s) => s.kalmanVariance),
    series('Kalman filter MSE', '#1f77b4', (s) => s.kalmanMse),
    series('unidirectional RNN MSE', '#17becf', (s) => s.uniMse),
    series('smoother Riccati', '#fdae6b', (s) => s.smootherVariance),
    series('RTS smoother MSE', '#ff7f0e', (s) => s.smootherMse),
    series('bidirectional RNN MSE', '#d62728', (s) => s.biMse),
  ], { title: 'state MSE per setting (1-3 scalar, 4 position and velocity) and the Riccati lines', xLabel: 'setting', logY: true });
  const ratio = (s: FilteringSettingResult): [number, number] => [s.uniMse / s.kalmanMse, s.biMse / s.smootherMse];
  element('table').textContent = [
    'model       q     r  filter Riccati  smoother Riccati  uni RNN  bi RNN  uni/f  bi/s',
    ...rows.map(({ name, s }) => {
      const [u, b] = ratio(s);
      return `${(name === 'scalar' ? 'scalar' : '2-D').padEnd(7)} ${s.q.toFixed(2).padStart(5)} ${s.r.toFixed(2).padStart(5)} ${s.kalmanMse.toFixed(4).padStart(7)} ${s.kalmanVariance.toFixed(4).padStart(7)} ${s.smootherMse.toFixed(4).padStart(9)} ${s.smootherVariance.toFixed(4).padStart(7)} ${s.uniMse.toFixed(4).padStart(8)} ${s.biMse.toFixed(4).padStart(7)} ${u.toFixed(3).padStart(6)} ${b.toFixed(3).padStart(5)}`;
    }),
  ].join('\n');
  if (!rows.every(({ s }) => Number.isFinite(s.uniMse) && Number.isFinite(s.biMse))) throw new Error('a network did not train to a finite error');
  const short = rows.filter(({ s }) => ratio(s).some((v) => v > TOLERANCE));
  const ratios = rows.map(({ s }) => ratio(s).map((v) => v.toFixed(3)).join('/')).join(', ');
  const verdict = short.length === 0 ? 'every network within 5% of its optimal estimator' : `stopped short of 5% at ${short.map(({ name, s }) => `${name} q ${s.q} r ${s.r}`).join('; ')} (more training steps may close it)`;
  return `${rows.length} settings (3 scalar at T = 128, position and velocity at T = 512), ${steps} steps per network in ${seconds.toFixed(1)} s: uni/filter and bi/smoother ${ratios}; ${verdict}`;
});
