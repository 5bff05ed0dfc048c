// The benchmark suite, shared by the headless-Chrome page (bench/page.js) and Node
// (`npm run bench -- --node`). It receives the package's exports, so the same code times the
// same build in both places, and, in the page, the peers (bench/peers.js). Plain ES module.
//
// Rows: { engine, backend, workload, cell, mode, ms, minMs, runs, gflops, ok, onGpu, ... }
// with mode 'infer' (a forward pass, all outputs read back), 'train' (one training step:
// forward, MSE, BPTT, global-norm clipping, Adam, loss read back), 'stream' (per-step latency
// of model.stream on workload A's model), 'first-use' (createEngine to the first result of a
// fresh model) and 'ceiling' (the adapter's limits with webrnn's own kernels).

/** Workloads: batch B, sequence T, input I, hidden H. */
export const WORKLOADS = {
  A: { batch: 1, seqLen: 128, inputSize: 32, hiddenSize: 128, note: 'streaming, latency-bound' },
  B: { batch: 16, seqLen: 64, inputSize: 64, hiddenSize: 256, note: '' },
  C: { batch: 64, seqLen: 32, inputSize: 128, hiddenSize: 512, note: 'throughput-bound' },
};

export const CELLS = ['lstm', 'gru', 'rnn'];
export const ENGINES = ['webrnn', 'tfjs', 'ort'];
const GATES = { lstm: 4, gru: 3, rnn: 1 };

/** Forward FLOPs: 2·B·T·(I + H)·G·H. */
export function forwardFlops(w, cell) {
  return 2 * w.batch * w.seqLen * (w.inputSize + w.hiddenSize) * GATES[cell] * w.hiddenSize;
}

/** A training step counts 3× the forward's FLOPs (forward, and the two products of backward). */
export function trainFlops(w, cell) {
  return 3 * forwardFlops(w, cell);
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
function checkReference(lib, model, dict, x, w, output) {
  const { batch: B, seqLen: T, inputSize: I, hiddenSize: H } = w;
  const x0 = new Float32Array(T * I);
  for (let t = 0; t < T; t++) x0.set(x.subarray(t * B * I, t * B * I + I), t * I);
  const ref = lib.recurrentForwardReference(model.spec, dict, x0, { batch: 1, seqLen: T });
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < H; j++) {
      const g = output[t * B * H + j];
      const r = ref.output[t * H + j];
      if (!(Math.abs(g - r) <= 1e-5 + 1e-4 * Math.abs(r))) return false;
    }
  }
  return true;
}

/** Largest |a − b| (Infinity where either is not finite or the lengths differ). */
function maxDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isFinite(d) ? d : Infinity;
  }
  return worst;
}

/**
 * Time `fn`: one warm-up call, then `runs` timed calls; the median and minimum in ms. When the
 * warm-up alone takes longer than `capMs` (0: no cap), no timed run follows: the row carries
 * the warm-up's time with runs 0 and capped true, and says so, rather than stretching the
 * benchmark past its budget. Only the peers are capped: webrnn's rows always get their runs.
 */
async function timeRuns(fn, runs, capMs) {
  const w0 = performance.now();
  await fn();
  const warm = performance.now() - w0;
  if (capMs > 0 && warm > capMs) return { ms: warm, minMs: warm, runs: 0, capped: true };
  const times = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await fn();
    times.push(performance.now() - s);
  }
  return { ms: median(times), minMs: Math.min(...times), runs, capped: false };
}

/**
 * Run the suite. `lib` is the package (createEngine, recurrentForwardReference); `peers` (in
 * the page only) is { tf, ort, tfjsModel, ortSession } from bench/peers.js. Options pick
 * cells, workloads, modes ('infer', 'train'), engines ('webrnn', 'tfjs', 'ort'), the number of
 * timed runs (default 5), a cap in ms on a peer row's warm-up (default 5000: past it the row
 * reports the warm-up alone, and a peer's training row is skipped where its inference row was
 * already over the cap), and whether to measure the ceilings, first use and streams.
 * Returns { adapter, rows }.
 */
export async function runSuite(lib, options = {}, log = () => {}, peers = null) {
  const cells = options.cells ?? CELLS;
  const workloads = options.workloads ?? Object.keys(WORKLOADS);
  const modes = options.modes ?? ['infer', 'train'];
  const engines = options.engines ?? ENGINES;
  const runs = options.runs ?? 5;
  const capMs = options.capMs ?? 5000;
  // The recurrence kernel of webrnn's models: undefined (the model's default), true or false.
  const kernel = options.persistent === undefined ? {} : { persistent: options.persistent };
  const rows = [];
  const add = (row) => {
    rows.push(row);
    log(row);
    return row;
  };
  const t0 = performance.now();

  // First use: a fresh engine (a new device, so every pipeline compiles) to the first result.
  if (options.firstUse !== false && engines.includes('webrnn')) {
    const w = WORKLOADS.A;
    for (const cell of cells) {
      const s = performance.now();
      const fresh = await lib.createEngine();
      const model = fresh[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, seed: 1 });
      const r = await model.forward(randomFloats(w.seqLen * w.batch * w.inputSize, 5), { batch: w.batch, seqLen: w.seqLen });
      const ms = performance.now() - s;
      // Which kernels gave that result: under 'auto' the per-step ones while a resident form
      // compiles in the background, whose end is awaited so that it takes no core from what follows.
      const persistent = model.lastForwardStats?.dispatchesPerStep === 0;
      await model.warmup(w.batch);
      fresh.destroy();
      add({ engine: 'webrnn', backend: 'webgpu', workload: 'A', cell, mode: 'first-use', ms, minMs: ms, runs: 1, gflops: 0, ok: r.output.every(Number.isFinite), onGpu: true, persistent });
    }
  }

  const engine = await lib.createEngine();
  const adapter = { ...engine.info };
  let gemmRate = 0;
  try {
    if (options.ceilings !== false && engines.includes('webrnn')) {
      const c = await engine.measureCeilings({ runs: 3 });
      for (const g of c.gemm) add({ engine: 'webrnn', backend: 'webgpu', workload: `gemm ${g.n}³`, cell: '-', mode: 'ceiling', ms: g.ms, minMs: g.ms, runs: 3, gflops: g.gflops, ok: true, onGpu: true });
      gemmRate = Math.max(...c.gemm.map((g) => g.gflops));
      add({ engine: 'webrnn', backend: 'webgpu', workload: 'one dispatch', cell: '-', mode: 'ceiling', ms: c.dispatchMs, minMs: c.dispatchMs, runs: 3, gflops: 0, ok: true, onGpu: true });
      add({ engine: 'webrnn', backend: 'webgpu', workload: 'submit + readback', cell: '-', mode: 'ceiling', ms: c.submitReadbackMs, minMs: c.submitReadbackMs, runs: 3, gflops: 0, ok: true, onGpu: true });
      add({ engine: 'webrnn', backend: 'webgpu', workload: 'copy', cell: '-', mode: 'ceiling', ms: 0, minMs: 0, runs: 3, gflops: 0, gbps: c.copyGBps, ok: true, onGpu: true });
    }

    for (const cell of cells) {
      for (const name of workloads) {
        const w = WORKLOADS[name];
        const shape = { batch: w.batch, seqLen: w.seqLen };
        const x = randomFloats(w.seqLen * w.batch * w.inputSize, 12345);
        const target = randomFloats(w.seqLen * w.batch, 778);
        const flops = forwardFlops(w, cell);
        const model = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, outputSize: 1, seed: 1, ...kernel });
        const dict = await model.stateDict();
        const share = (gflops) => (gemmRate > 0 ? gflops / gemmRate : undefined);
        const base = { workload: name, cell };

        // webrnn: the reference check on the first result, then the timed runs, each with the
        // kernels the model's option picks (warmup: not the per-step ones that 'auto' runs
        // while a resident form compiles).
        await model.warmup(w.batch);
        const first = await model.forward(x, shape);
        const ok = checkReference(lib, model, dict, x, w, first.output);
        if (modes.includes('infer') && engines.includes('webrnn')) {
          const t = await timeRuns(() => model.forward(x, shape), runs, 0);
          const gflops = flops / (t.ms * 1e6);
          add({ engine: 'webrnn', backend: 'webgpu', ...base, mode: 'infer', ...t, gflops, shareOfGemm: share(gflops), ok, onGpu: true, dispatches: model.lastForwardStats?.dispatches, persistent: model.lastForwardStats?.dispatchesPerStep === 0 });
        }
        if (modes.includes('train')) {
          // A copy of the model per trainer: the same weights and the same first loss.
          const trainer = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, outputSize: 1, seed: 1, ...kernel });
          const opts = { batch: w.batch, seqLen: w.seqLen, loss: 'mse', optimizer: { type: 'adam', lr: 1e-3 }, clipGradNorm: 1 };
          const losses = [];
          await trainer.warmup(w.batch, { training: true });
          const t = await timeRuns(async () => losses.push((await trainer.trainStep(x, target, opts)).loss), runs, 0);
          // The same batch again and again: Adam must bring its loss down, and nothing may blow up.
          const learns = losses.every(Number.isFinite) && (losses.length < 2 || losses[losses.length - 1] < losses[0]);
          if (engines.includes('webrnn')) {
            const gflops = trainFlops(w, cell) / (t.ms * 1e6);
            add({ engine: 'webrnn', backend: 'webgpu', ...base, mode: 'train', ...t, gflops, shareOfGemm: share(gflops), ok: learns, onGpu: true, dispatches: trainer.lastTrainStats?.dispatches });
          }
          trainer.destroy();
        }
        if (name === 'A' && options.stream !== false && engines.includes('webrnn') && modes.includes('infer')) {
          // Streaming: T calls of step on workload A's model, against the whole-sequence forward.
          const s = model.stream({ batch: w.batch });
          const steps = [];
          for (let t = 0; t < w.seqLen; t++) steps.push(x.subarray(t * w.batch * w.inputSize, (t + 1) * w.batch * w.inputSize));
          let last = null;
          const t = await timeRuns(
            async () => {
              await s.reset();
              for (const xt of steps) last = await s.step(xt);
            },
            runs,
            0,
          );
          const lastRow = first.output.subarray((w.seqLen - 1) * w.batch * w.hiddenSize);
          const perStep = t.ms / w.seqLen;
          add({ engine: 'webrnn', backend: 'webgpu', ...base, mode: 'stream', ...t, ms: perStep, minMs: t.minMs / w.seqLen, sequenceMs: t.ms, gflops: flops / w.seqLen / (perStep * 1e6), ok: maxDiff(last.h, lastRow) <= 1e-5, onGpu: true });
          s.close();
        }

        if (peers && engines.includes('tfjs')) {
          // tfjs has only the reset-before GRU (Keras reset_after false): its check is against
          // webrnn's GRU in that form, with the same weights.
          let expected = first;
          if (cell === 'gru') {
            const lbr0 = engine.gru({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, outputSize: 1, linearBeforeReset: false });
            lbr0.loadStateDict(dict);
            expected = await lbr0.forward(x, shape);
            lbr0.destroy();
          }
          // The loss of the untrained model: the mean of (y − target)² over every step.
          let loss0 = 0;
          for (let i = 0; i < target.length; i++) loss0 += (expected.y[i] - target[i]) ** 2;
          loss0 /= target.length;
          const readout = { weight: dict['readout.weight'], bias: dict['readout.bias'] };
          for (const backend of ['webgpu', 'wasm']) {
            let m = null;
            try {
              m = await peers.tfjsModel(peers.tf, backend, cell, w, dict, null);
              const peerBase = { engine: 'tfjs', backend, ...base, onGpu: m.onGpu };
              let inferCapped = false;
              if (modes.includes('infer')) {
                const diff = maxDiff(await m.forward(x), expected.output);
                const t = await timeRuns(() => m.forward(x), runs, capMs);
                inferCapped = t.capped;
                add({ ...peerBase, mode: 'infer', ...t, gflops: flops / (t.ms * 1e6), ok: diff <= 1e-4, maxDiff: diff, note: cell === 'gru' ? 'GRU reset-before (tfjs has no reset-after)' : undefined });
              }
              m.dispose();
              m = null;
              if (modes.includes('train') && inferCapped) {
                add({ ...peerBase, mode: 'train', ms: NaN, minMs: NaN, runs: 0, gflops: 0, ok: true, skipped: true, note: 'skipped: its forward alone was over the cap' });
              } else if (modes.includes('train')) {
                m = await peers.tfjsModel(peers.tf, backend, cell, w, dict, readout);
                const tr = m.trainer(x, target, 1e-3);
                const losses = [];
                const t = await timeRuns(async () => losses.push(await tr.step()), runs, capMs);
                tr.dispose();
                // The first loss is that of the same weights on the same data.
                const lossOk = Math.abs(losses[0] - loss0) <= 1e-4 * Math.max(1, loss0);
                add({ ...peerBase, mode: 'train', ...t, gflops: trainFlops(w, cell) / (t.ms * 1e6), ok: lossOk && losses.every(Number.isFinite), loss0: losses[0], expectedLoss0: loss0 });
              }
            } catch (e) {
              add({ engine: 'tfjs', backend, ...base, mode: 'infer', ms: NaN, minMs: NaN, runs: 0, gflops: 0, ok: false, onGpu: false, error: String(e?.message ?? e) });
            } finally {
              m?.dispose();
            }
          }
        }

        if (peers && engines.includes('ort') && modes.includes('infer')) {
          // ONNX Runtime Web: inference only (its training needs a separate build and artifacts).
          const inferModel = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, seed: 1 });
          inferModel.loadStateDict(Object.fromEntries(Object.entries(dict).filter(([k]) => !k.startsWith('readout'))));
          const bytes = await inferModel.exportOnnx();
          inferModel.destroy();
          for (const ep of ['webgpu', 'wasm']) {
            let s = null;
            try {
              s = await peers.ortSession(peers.ort, ep, bytes, cell === 'lstm' ? 'LSTM' : cell === 'gru' ? 'GRU' : 'RNN');
              const dims = [w.seqLen, w.batch, w.inputSize];
              const diff = maxDiff(await s.forward(x, dims), first.output);
              const t = await timeRuns(() => s.forward(x, dims), runs, capMs);
              add({ engine: 'ort', backend: ep, ...base, mode: 'infer', ...t, gflops: flops / (t.ms * 1e6), ok: diff <= 1e-4, maxDiff: diff, onGpu: s.onGpu, placements: s.placements });
            } catch (e) {
              add({ engine: 'ort', backend: ep, ...base, mode: 'infer', ms: NaN, minMs: NaN, runs: 0, gflops: 0, ok: false, onGpu: false, error: String(e?.message ?? e) });
            } finally {
              await s?.release();
            }
          }
        }
        model.destroy();
      }
    }
  } finally {
    engine.destroy();
  }
  // Each peer row's time as a multiple of webrnn's on the same workload, cell and mode.
  for (const r of rows) {
    if (r.engine === 'webrnn') continue;
    const ours = rows.find((o) => o.engine === 'webrnn' && o.workload === r.workload && o.cell === r.cell && o.mode === r.mode);
    if (ours && Number.isFinite(r.ms)) r.ratio = r.ms / ours.ms;
  }
  return { adapter, rows, totalMs: performance.now() - t0 };
}
