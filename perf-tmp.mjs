import * as lib from './dist/index.js';
const WORKLOADS = { A: [1, 128, 32, 128], B: [16, 64, 64, 256], C: [64, 32, 128, 512] };
const threads = Number(process.argv[2] ?? 2);
const simd = process.argv[3] ?? 'auto';
const engine = await lib.createEngine({ backend: 'wasm', threads, simd });
console.log(engine.info.description);
const c = await engine.measureCeilings({ gemmSizes: [512, 1024], runs: 3 });
console.log(JSON.stringify(c));
for (const cell of ['lstm', 'gru', 'rnn']) {
  const out = [];
  for (const [name, [B, T, I, H]] of Object.entries(WORKLOADS)) {
    const m = engine[cell]({ inputSize: I, hiddenSize: H });
    const x = new Float32Array(T * B * I).fill(0.1);
    for (let i = 0; i < 3; i++) await m.forward(x, { batch: B, seqLen: T });
    const ts = [];
    for (let i = 0; i < 7; i++) { const s = performance.now(); await m.forward(x, { batch: B, seqLen: T }); ts.push(performance.now() - s); }
    ts.sort((a, b) => a - b);
    out.push(`${name} ${ts[3].toFixed(2)}`);
    m.destroy();
  }
  console.log(cell, out.join('  '));
}
engine.destroy();
