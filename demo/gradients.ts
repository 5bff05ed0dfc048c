// The gradient explorer: ‖∂h_t/∂h_k‖ heatmaps of a one-layer model run by webrnn, with the gain
// and orthogonality of W_hh as controls, before and after a short training run with or
// without gradient-norm clipping.
import { jacobianNorms, type RecurrentModel } from '../src/index.js';
import { element, getEngine, heatmap, linePlot, status, wire, yieldToPage } from './common.js';

const T = 24;
const H = 16;
const I = 4;

/** Mean of log10 ‖∂h_t/∂h_{t−d}‖ over t, for each lag d = 1 .. T−1. */
function byLag(norms: Float64Array): number[] {
  const out: number[] = [];
  for (let d = 1; d < T; d++) {
    let sum = 0;
    let n = 0;
    for (let t = d; t < T; t++) {
      const v = norms[t * T + (t - d)];
      if (v > 0) {
        sum += Math.log10(v);
        n++;
      }
    }
    out.push(n ? 10 ** (sum / n) : NaN);
  }
  return out;
}

wire(element<HTMLButtonElement>('run'), async () => {
  const cell = element<HTMLSelectElement>('cell').value as 'rnn' | 'lstm' | 'gru';
  const gain = Number(element<HTMLInputElement>('gain').value);
  const orthogonal = element<HTMLInputElement>('orthogonal').checked;
  const train = element<HTMLInputElement>('train').checked;
  const clip = element<HTMLInputElement>('clip').checked;
  const engine = await getEngine();
  const model: RecurrentModel = engine[cell]({ inputSize: I, hiddenSize: H, outputSize: 1, seed: 3 });
  try {
    if (orthogonal) model.initialize({ weightHh: 'orthogonal' });
    const dict = await model.stateDict();
    dict.weight_hh_l0 = dict.weight_hh_l0.map((w) => w * gain);
    model.loadStateDict(dict);
    let seed = 99;
    const uniform = (): number => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 4294967296 - 0.5;
    };
    const x = Float32Array.from({ length: T * I }, uniform);
    status('‖∂h_t/∂h_k‖ by the backward sweep…', 0.1);
    const before = await jacobianNorms(model, x, { batch: 1, seqLen: T });
    heatmap(element<HTMLCanvasElement>('before'), before.norms, T, T, { log: true, title: 'before:' });
    const curves = [{ label: 'before', values: byLag(before.norms), color: '#1f77b4', x: Array.from({ length: T - 1 }, (_, d) => d + 1) }];
    linePlot(element<HTMLCanvasElement>('curve'), curves, { logY: true, title: 'mean ‖∂h_t/∂h_(t−d)‖ against the lag d', xLabel: 'd' });
    let summary = `${cell}, gain ${gain}${orthogonal ? ', orthogonal' : ''}: ‖∂h_t/∂h_(t−1)‖ ≈ ${curves[0].values[0].toPrecision(3)}, at lag ${T - 1} ≈ ${curves[0].values[T - 2].toPrecision(3)}`;
    if (train) {
      const target = Float32Array.from({ length: T }, uniform);
      const losses: number[] = [];
      for (let s = 0; s < 20; s++) {
        const r = await model.trainStep(x, target, { batch: 1, seqLen: T, loss: 'mse', optimizer: { type: 'sgd', lr: 0.5 }, ...(clip ? { clipGradNorm: 1 } : {}), returnGradNorm: true });
        losses.push(r.loss!);
        status(`training step ${s + 1} of 20: loss ${r.loss!.toPrecision(3)}, gradient norm ${r.gradNorm!.toPrecision(3)}`, 0.2 + (0.6 * (s + 1)) / 20);
        await yieldToPage();
      }
      const finite = losses.every(Number.isFinite) && (await model.stateDict()).weight_hh_l0.every(Number.isFinite);
      if (finite) {
        const after = await jacobianNorms(model, x, { batch: 1, seqLen: T });
        heatmap(element<HTMLCanvasElement>('after'), after.norms, T, T, { log: true, title: 'after training:' });
        curves.push({ label: 'after training', values: byLag(after.norms), color: '#ff7f0e', x: curves[0].x });
        linePlot(element<HTMLCanvasElement>('curve'), curves, { logY: true, title: 'mean ‖∂h_t/∂h_(t−d)‖ against the lag d', xLabel: 'd' });
      }
      summary += `; 20 steps at lr 0.5 ${clip ? 'with' : 'without'} clipping: loss ${losses[0].toPrecision(3)} → ${losses[losses.length - 1].toPrecision(3)}${finite ? '' : ' (the weights blew up)'}`;
    }
    return summary;
  } finally {
    model.destroy();
  }
});
