// Placeholder demo: one LSTM forward pass on the visitor's adapter, compared with the
// float64 reference.
import { createEngine, recurrentForwardReference } from '../src/index.js';

const out = document.getElementById('out')!;
const button = document.getElementById('run') as HTMLButtonElement;

button.addEventListener('click', async () => {
  button.disabled = true;
  out.textContent = 'Running…';
  try {
    const engine = await createEngine();
    const lstm = engine.lstm({ inputSize: 16, hiddenSize: 64, numLayers: 2, bidirectional: true, seed: 1 });
    const batch = 4;
    const seqLen = 50;
    const x = Float32Array.from({ length: seqLen * batch * 16 }, (_, i) => Math.sin(i * 0.37));
    await lstm.forward(x, { batch, seqLen }); // compiles the pipelines
    const t0 = performance.now();
    const { output, hN } = await lstm.forward(x, { batch, seqLen });
    const ms = performance.now() - t0;
    const ref = recurrentForwardReference(lstm.spec, await lstm.stateDict(), x, { batch, seqLen });
    let worst = 0;
    for (let i = 0; i < output.length; i++) worst = Math.max(worst, Math.abs(output[i] - ref.output[i]));
    out.textContent = [
      `adapter: ${engine.info.vendor} ${engine.info.architecture} ${engine.info.description}`,
      `LSTM 2 layers × 2 directions, H = 64, batch ${batch}, ${seqLen} steps: ${ms.toFixed(1)} ms`,
      `output [${seqLen}, ${batch}, 128], hN [4, ${batch}, 64]; hN[0..3] = ${Array.from(hN.slice(0, 4), (v) => v.toFixed(4)).join(', ')}`,
      `largest difference from the float64 reference: ${worst.toExponential(2)}`,
    ].join('\n');
    engine.destroy();
  } catch (e) {
    out.textContent = `Error: ${(e as Error).message}`;
  } finally {
    button.disabled = false;
  }
});
