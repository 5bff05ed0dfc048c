// The landing page: which backend runs webrnn here (the line getEngine writes), and a forward
// pass of a small LSTM timed on it, as soon as the page opens.
import { getEngine, report } from './common.js';

void report(async () => {
  const engine = await getEngine();
  const [B, T, I, H] = [1, 128, 32, 128];
  const model = engine.lstm({ inputSize: I, hiddenSize: H, outputSize: 1, seed: 1 });
  try {
    const x = Float32Array.from({ length: T * B * I }, (_, i) => Math.sin(i * 0.37));
    await model.forward(x, { batch: B, seqLen: T });
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await model.forward(x, { batch: B, seqLen: T });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return `an LSTM of ${H} units runs ${T} steps here in ${times[2].toFixed(1)} ms (median of 5)`;
  } finally {
    model.destroy();
  }
});
