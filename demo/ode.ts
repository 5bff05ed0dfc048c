// ODE solvers and BPTT: the global error of Euler, RK4 and implicit Euler on a damped
// oscillator, the norms ‖(I + hA)^t‖ of the Euler RNN's Jacobians measured on the engine beside
// the solver's amplification, and the method's stability region with hλ marked.
import { amplificationMatrix, eulerRnnWeights, globalError, jacobianNorms, matrixFromRows, powerNorms, spectralRadius, stabilityBoundary, stabilityFunction, type Complex, type OdeMethod } from '../src/index.js';
import { element, getEngine, linePlot, status, wire } from './common.js';

const T = 40;

/** The damped oscillator x″ + 2a x′ + (a² + ω²) x = u as x′ = A x + B u: eigenvalues −a ± ωi. */
function oscillator(a: number, w: number) {
  return { A: matrixFromRows([[0, 1], [-(a * a + w * w), -2 * a]]), B: matrixFromRows([[0], [1]]), lambda: { re: -a, im: w } };
}

/** The stability region's boundary and the points hλ, h·λ̄ on a canvas (axes through 0). */
function drawRegion(canvas: HTMLCanvasElement, boundary: Complex[], marks: Complex[], inside: boolean): void {
  const ctx = canvas.getContext('2d')!;
  const { width: W, height: H } = canvas;
  ctx.clearRect(0, 0, W, H);
  const extent = Math.max(3.2, ...marks.map((z) => Math.max(Math.abs(z.re), Math.abs(z.im)) * 1.2));
  const px = (z: Complex): [number, number] => [W / 2 + (z.re / extent) * (W / 2), H / 2 - (z.im / extent) * (H / 2)];
  ctx.strokeStyle = '#bbb';
  ctx.beginPath();
  ctx.moveTo(0, H / 2);
  ctx.lineTo(W, H / 2);
  ctx.moveTo(W / 2, 0);
  ctx.lineTo(W / 2, H);
  ctx.stroke();
  ctx.fillStyle = '#1f77b4';
  for (const z of boundary) {
    const [x, y] = px(z);
    ctx.fillRect(x - 1, y - 1, 2, 2);
  }
  ctx.fillStyle = inside ? '#2ca02c' : '#d62728';
  for (const z of marks) {
    const [x, y] = px(z);
    ctx.beginPath();
    ctx.arc(x, y, 4, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.fillStyle = '#333';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(`|R(z)| = 1 and hλ (${inside ? 'inside' : 'outside'}); axes ±${extent.toPrecision(2)}`, 4, 12);
}

const input = (k: number): number[] => [Math.sin(0.3 * k)];

/** Set h to Euler's case `kind` for the current a and ω. */
function preset(kind: 'decaying' | 'marginal' | 'explosive'): void {
  const a = Number(element<HTMLInputElement>('damping').value);
  const w = Number(element<HTMLInputElement>('omega').value);
  // |1 + hλ|² = (1 − ha)² + (hω)² = 1 at h = 2a / (a² + ω²).
  const edge = (2 * a) / (a * a + w * w);
  const h = kind === 'marginal' ? edge : kind === 'decaying' ? edge / 2 : edge * 1.5;
  element<HTMLInputElement>('step').value = h.toPrecision(4);
  element<HTMLSelectElement>('method').value = 'euler';
  element<HTMLButtonElement>('run').click();
}
for (const kind of ['decaying', 'marginal', 'explosive'] as const) element<HTMLButtonElement>(kind).addEventListener('click', () => preset(kind));

wire(element<HTMLButtonElement>('run'), async () => {
  const a = Number(element<HTMLInputElement>('damping').value);
  const w = Number(element<HTMLInputElement>('omega').value);
  const h = Number(element<HTMLInputElement>('step').value);
  const method = element<HTMLSelectElement>('method').value as OdeMethod;
  const { A, B, lambda } = oscillator(a, w);
  const z = { re: h * lambda.re, im: h * lambda.im };
  const R = stabilityFunction(method, z);
  const gain = Math.hypot(R.re, R.im);
  drawRegion(element<HTMLCanvasElement>('region'), stabilityBoundary(method, 360), [z, { re: z.re, im: -z.im }], gain <= 1);
  const error = globalError(A, [1, 0], { method, h, steps: T, B, input });
  // From the first step on (the error at t = 0 is 0).
  const times = Array.from({ length: T }, (_, k) => Number(((k + 1) * h).toPrecision(4)));
  linePlot(element<HTMLCanvasElement>('error'), [{ label: `${method} global error`, values: error.subarray(1), color: '#d62728', x: times }], { logY: true, title: '‖x_n − x(t_n)‖ against t', xLabel: 't' });

  // The Euler RNN on the engine: its Jacobian norms beside the solver's ‖R(hA)^t‖.
  status('‖∂h_t/∂h_0‖ by the RNN\'s backward sweep…', 0.3);
  const engine = await getEngine();
  const model = engine.rnn({ inputSize: 1, hiddenSize: 2, nonlinearity: 'identity', bias: false });
  try {
    model.loadStateDict(eulerRnnWeights(A, B, h));
    const u = Float32Array.from({ length: T }, (_, k) => input(k)[0]);
    const j = await jacobianNorms(model, u, { batch: 1, seqLen: T });
    const euler = powerNorms(amplificationMatrix(A, h, 'euler'), T + 1).subarray(1);
    const chosen = powerNorms(amplificationMatrix(A, h, method), T + 1).subarray(1);
    const steps = Array.from({ length: T }, (_, t) => t + 1);
    const series = [
      { label: 'engine: ‖∂h_t/∂h_0‖', values: j.initial, color: '#1f77b4', x: steps },
      { label: 'Euler: ‖(I + hA)^t‖', values: euler, color: '#ff7f0e', x: steps },
    ];
    if (method !== 'euler') series.push({ label: `${method}: ‖R(hA)^t‖`, values: chosen, color: '#2ca02c', x: steps });
    linePlot(element<HTMLCanvasElement>('jacobian'), series, { logY: true, title: 'error amplification and BPTT Jacobian norms against t', xLabel: 't' });
    const worst = Math.max(...Array.from(j.initial, (v, t) => Math.abs(v / euler[t] - 1)));
    const rho = spectralRadius(amplificationMatrix(A, h, method));
    return `${method}, h = ${h}: hλ = ${z.re.toPrecision(3)} ± ${Math.abs(z.im).toPrecision(3)}i, |R(hλ)| = ${gain.toPrecision(4)} (${gain <= 1 ? 'inside' : 'outside'}: errors ${gain < 1 ? 'decay' : gain === 1 ? 'persist' : 'grow'}), ρ(R(hA)) = ${rho.toPrecision(4)}; global error at t = ${(T * h).toPrecision(3)}: ${error[T].toExponential(2)}; engine ‖∂h_${T}/∂h_0‖ = ${j.initial[T - 1].toPrecision(4)} against ‖(I + hA)^${T}‖ = ${euler[T - 1].toPrecision(4)}, max relative difference ${worst.toExponential(1)}`;
  } finally {
    model.destroy();
  }
});
