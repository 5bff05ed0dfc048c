import { createEngine } from '/work/main/dist/index.js';
const engine = await createEngine();
const time = async (label, f) => { await f(); const ts = []; for (let i = 0; i < 5; i++) { const s = performance.now(); await f(); ts.push(performance.now() - s); } ts.sort((a, b) => a - b); console.log(label, ts[2].toFixed(1), 'ms'); };
for (const [B, T, H] of [[64, 16, 24], [1024, 1, 24], [16, 64, 256]]) {
  const m = engine.lstm({ inputSize: 2, hiddenSize: H });
  const x = new Float32Array(T * B * 2).fill(0.3);
  await time(`forward B=${B} T=${T} H=${H}`, () => m.forward(x, { batch: B, seqLen: T }));
  m.destroy();
}
engine.destroy();
