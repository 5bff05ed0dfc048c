// The benchmark suite, shared by the headless-Chrome page (bench/page.js) and Node
// (`npm run bench -- --node`). It receives the package's exports, so the same code times the
// same build in both places. Plain ES module, no packages.

/** Workloads: batch B, sequence T, input I, hidden H. */
export const WORKLOADS = {
  A: { batch: 1, seqLen: 128, inputSize: 32, hiddenSize: 128, note: 'streaming, latency-bound' },
  B: { batch: 16, seqLen: 64, inputSize: 64, hiddenSize: 256, note: '' },
  C: { batch: 64, seqLen: 32, inputSize: 128, hiddenSize: 512, note: 'throughput-bound' },
};

export const CELLS = ['lstm', 'gru', 'rnn'];
const GATES = { lstm: 4, gru: 3, rnn: 1 };

/** Forward FLOPs: 2·B·T·(I + H)·G·H. */
export function forwardFlops(w, cell) {
  return 2 * w.batch * w.seqLen * (w.inputSize + w.hiddenSize) * GATES[cell] * w.hiddenSize;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seeded uniform floats in [-1, 1). */
function randomFloats(n, seed) {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}

/**
 * Check a forward result against the float64 reference on the first sequence of the batch
 * (sequences are independent, so this checks the GPU's work without the reference's full cost).
 */
function check(lib, model, dict, x, w, result) {
  const { batch: B, seqLen: T, inputSize: I, hiddenSize: H } = w;
  const x0 = new Float32Array(T * I);
  for (let t = 0; t < T; t++) x0.set(x.subarray((t * B) * I, (t * B) * I + I), t * I);
  const ref = lib.recurrentForwardReference(model.spec, dict, x0, { batch: 1, seqLen: T });
  let worst = 0;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < H; j++) {
      const g = result.output[(t * B) * H + j];
      const r = ref.output[t * H + j];
      const excess = Math.abs(g - r) - (1e-5 + 1e-4 * Math.abs(r));
      if (!(excess <= 0)) worst = Math.max(worst, Number.isNaN(excess) ? Infinity : excess);
    }
  }
  return worst === 0;
}

/** Time `fn` `runs` times after `warmup` calls; returns the median and the minimum in ms. */
async function timeRuns(fn, runs, warmup) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await fn();
    times.push(performance.now() - s);
  }
  return { ms: median(times), minMs: Math.min(...times) };
}

/**
 * One training step per run: forward, MSE on a 1-output read-out of every step, BPTT, global
 * norm clipping and Adam, with the loss read back (so each run waits for the step to finish).
 * GFLOP/s counts 3× the forward's recurrent FLOPs (forward, and the two products of backward).
 */
async function trainRow(engine, cell, name, w, runs, log) {
  const model = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, outputSize: 1, seed: 1 });
  const x = randomFloats(w.seqLen * w.batch * w.inputSize, 777);
  const target = randomFloats(w.seqLen * w.batch, 778);
  const opts = { batch: w.batch, seqLen: w.seqLen, loss: 'mse', optimizer: { type: 'adam', lr: 1e-3 }, clipGradNorm: 1 };
  const losses = [];
  const step = async () => losses.push((await model.trainStep(x, target, opts)).loss);
  const first0 = performance.now();
  await step();
  const firstCallMs = performance.now() - first0;
  const { ms, minMs } = await timeRuns(step, runs, 1);
  // The same batch again and again: Adam must bring its loss down, and nothing may blow up.
  const ok = losses.every(Number.isFinite) && losses[losses.length - 1] < losses[0];
  const row = {
    engine: 'webrnn',
    backend: 'webgpu',
    workload: name,
    cell,
    mode: 'train',
    ms,
    minMs,
    runs,
    firstCallMs,
    gflops: (3 * forwardFlops(w, cell)) / (ms * 1e6),
    ok,
    onGpu: true,
    dispatches: model.lastTrainStats?.dispatches,
  };
  log(row);
  model.destroy();
  return row;
}

/**
 * Run the suite. `lib` is the package (createEngine, recurrentForwardReference); options pick
 * cells, workloads, modes ('infer', 'train') and the number of timed runs. Returns { adapter, rows }.
 */
export async function runSuite(lib, options = {}, log = () => {}) {
  const cells = options.cells ?? CELLS;
  const workloads = options.workloads ?? Object.keys(WORKLOADS);
  const runs = options.runs ?? 7;
  const warmup = options.warmup ?? 2;
  const modes = options.modes ?? ['infer', 'train'];
  const rows = [];
  const t0 = performance.now();
  const engine = await lib.createEngine();
  const adapter = { ...engine.info };
  try {
    for (const cell of cells) {
      for (const name of workloads) {
        const w = WORKLOADS[name];
        if (modes.includes('train')) rows.push(await trainRow(engine, cell, name, w, runs, log));
        if (!modes.includes('infer')) continue;
        const model = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, seed: 1 });
        const dict = await model.stateDict();
        const x = randomFloats(w.seqLen * w.batch * w.inputSize, 12345);
        const opts = { batch: w.batch, seqLen: w.seqLen };
        const first0 = performance.now();
        const first = await model.forward(x, opts);
        const firstMs = performance.now() - first0;
        const ok = check(lib, model, dict, x, w, first);
        const { ms, minMs } = await timeRuns(() => model.forward(x, opts), runs, warmup - 1);
        const gflops = forwardFlops(w, cell) / (ms * 1e6);
        const row = {
          engine: 'webrnn',
          backend: 'webgpu',
          workload: name,
          cell,
          mode: 'infer',
          ms,
          minMs,
          runs,
          firstCallMs: firstMs,
          gflops,
          ok,
          onGpu: true,
          dispatches: model.lastForwardStats?.dispatches,
        };
        rows.push(row);
        log(row);
        model.destroy();
      }
    }
  } finally {
    engine.destroy();
  }
  return { adapter, rows, totalMs: performance.now() - t0 };
}
