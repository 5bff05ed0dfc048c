// The benchmark suite, shared by the headless-Chrome page (bench/page.js) and Node
// (`npm run bench -- --node`). It receives the package's exports, so the same code times the
// same build in both places, and, in the page, the peers (bench/peers.js). Plain ES module.
//
// Rows: { engine, backend, threads, workload, cell, mode, ms, minMs, runs, gflops, ok, onGpu, ... }
// with mode 'infer' (a forward pass, all outputs read back), 'train' (one training step:
// forward, MSE, BPTT, global-norm clipping, Adam, loss read back), 'stream' (per-step latency
// of model.stream on workload A's model), 'first-use' (createEngine to the first result of a
// fresh model) and 'ceiling' (what the backend can do, with webrnn's own kernels). webrnn runs
// on each of its backends: 'webgpu' (where there is an adapter), 'wasm' on all the machine's
// threads and 'wasm-1' on one; every peer row's ratio is to the row of the backend that
// createEngine's 'auto' picks here.

/** Workloads: batch B, sequence T, input I, hidden H. */
export const WORKLOADS = {
  A: { batch: 1, seqLen: 128, inputSize: 32, hiddenSize: 128, note: 'streaming, latency-bound' },
  B: { batch: 16, seqLen: 64, inputSize: 64, hiddenSize: 256, note: '' },
  C: { batch: 64, seqLen: 32, inputSize: 128, hiddenSize: 512, note: 'throughput-bound' },
};

export const CELLS = ['lstm', 'gru', 'rnn'];
export const ENGINES = ['webrnn', 'tfjs', 'ort'];
/** webrnn's backends as the suite runs them: WebGPU, wasm on all threads, wasm on one. */
export const BACKENDS = ['webgpu', 'wasm', 'wasm-1'];

/**
 * An engine on `label`'s backend; null where it cannot run here (no WebGPU adapter). A build
 * from before the backend option (a --baseline revision) runs on WebGPU alone.
 */
async function makeEngine(lib, label, placement) {
  const options = label === 'webgpu' ? { backend: 'webgpu', ...(placement ? { placement } : {}) } : { backend: 'wasm', ...(label === 'wasm-1' ? { threads: 1 } : {}) };
  try {
    return await lib.createEngine(options);
  } catch (e) {
    if (/unknown option 'backend'/.test(String(e?.message))) return label === 'webgpu' ? lib.createEngine() : null;
    if (label === 'webgpu' && e?.code === 'gpu-unavailable') return null;
    throw e;
  }
}

/** The backend label of an engine (what its rows carry), and its threads. */
function describeEngine(engine, label) {
  const info = engine.info;
  return { backend: label === 'webgpu' ? 'webgpu' : 'wasm', threads: info.backend === 'wasm' ? info.threads : undefined, onGpu: label === 'webgpu' && !info.software };
}
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
 * the page only) is { tf, ort, tfjsModel, ortSession, webgpu } from bench/peers.js. Options
 * pick cells, workloads, modes ('infer', 'train'), engines ('webrnn', 'tfjs', 'ort'), webrnn's
 * backends (default BACKENDS), the number of timed runs (default 5), a cap in ms on a peer
 * row's warm-up (default 5000: past it the row reports the warm-up alone, and a peer's
 * training row is skipped where its inference row was already over the cap), and whether to
 * measure the ceilings, first use and streams. Returns { adapter, auto, rows }: `auto` is what
 * createEngine() picks here and why.
 */
export async function runSuite(lib, options = {}, log = () => {}, peers = null) {
  const cells = options.cells ?? CELLS;
  const workloads = options.workloads ?? Object.keys(WORKLOADS);
  const modes = options.modes ?? ['infer', 'train'];
  const engines = options.engines ?? ENGINES;
  const runs = options.runs ?? 5;
  const capMs = options.capMs ?? 5000;
  // The recurrence kernel of webrnn's models: undefined (the model's default), true or false;
  // and their recurrent weights' precision (options.weights: 'f16', inference only).
  const kernel = { ...(options.persistent === undefined ? {} : { persistent: options.persistent }), ...(options.weights ? { weightPrecision: options.weights } : {}) };
  const rows = [];
  const add = (row) => {
    rows.push(row);
    log(row);
    return row;
  };
  const t0 = performance.now();

  // What 'auto' picks here, and webrnn's engines on each backend that can run.
  const probe = await lib.createEngine();
  const auto = { backend: probe.info.backend ?? 'webgpu', reason: probe.info.reason ?? '', threads: probe.info.threads };
  probe.destroy();
  const autoLabel = auto.backend === 'wasm' ? 'wasm' : 'webgpu';
  const live = [];
  for (const label of options.backends ?? BACKENDS) {
    const engine = await makeEngine(lib, label, options.placement);
    if (engine) live.push({ label, engine, ...describeEngine(engine, label) });
  }
  const gpuEngine = live.find((e) => e.label === 'webgpu')?.engine;
  const adapter = gpuEngine ? { ...gpuEngine.info } : { description: 'no WebGPU adapter', software: true };

  // First use: a fresh engine (on WebGPU a new device, so every pipeline compiles) to the first result.
  if (options.firstUse !== false && engines.includes('webrnn')) {
    const w = WORKLOADS.A;
    for (const { label, backend, threads, onGpu } of live) {
      for (const cell of cells) {
        const s = performance.now();
        const fresh = await makeEngine(lib, label, options.placement);
        const model = fresh[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, seed: 1 });
        const r = await model.forward(randomFloats(w.seqLen * w.batch * w.inputSize, 5), { batch: w.batch, seqLen: w.seqLen });
        const ms = performance.now() - s;
        // Which kernels gave that result: under 'auto' the per-step ones while a resident form
        // compiles in the background, whose end is awaited so that it takes no core from what follows.
        const persistent = model.lastForwardStats?.dispatchesPerStep === 0;
        await model.warmup(w.batch);
        fresh.destroy();
        add({ engine: 'webrnn', backend, threads, workload: 'A', cell, mode: 'first-use', ms, minMs: ms, runs: 1, gflops: 0, ok: r.output.every(Number.isFinite), onGpu, persistent });
      }
    }
  }

  try {
    // Ceilings: the GEMM rate each backend's rows are a share of.
    const gemmRate = {};
    if (options.ceilings !== false && engines.includes('webrnn')) {
      for (const { label, engine, backend, threads, onGpu } of live) {
        if (label === 'wasm-1') continue;
        const c = await engine.measureCeilings({ runs: 3 });
        const base = { engine: 'webrnn', backend, threads, cell: '-', mode: 'ceiling', runs: 3, ok: true, onGpu };
        if (c.backend === 'wasm') {
          for (const p of c.peak) add({ ...base, threads: p.threads, workload: `SIMD multiply-add peak, ${p.threads} thread${p.threads > 1 ? 's' : ''}`, ms: 0, minMs: 0, gflops: p.gflops });
          for (const g of c.gemm) add({ ...base, workload: `gemm ${g.n}³`, ms: g.ms, minMs: g.ms, gflops: g.gflops, shareOfPeak: g.shareOfPeak });
          gemmRate.wasm = Math.max(...c.gemm.map((g) => g.gflops));
          continue;
        }
        for (const g of c.gemm) add({ ...base, workload: `gemm ${g.n}³`, ms: g.ms, minMs: g.ms, gflops: g.gflops });
        gemmRate.webgpu = Math.max(...c.gemm.map((g) => g.gflops));
        add({ ...base, workload: 'one dispatch', ms: c.dispatchMs, minMs: c.dispatchMs, gflops: 0 });
        add({ ...base, workload: 'submit + readback', ms: c.submitReadbackMs, minMs: c.submitReadbackMs, gflops: 0 });
        add({ ...base, workload: 'copy', ms: 0, minMs: 0, gflops: 0, gbps: c.copyGBps });
      }
    }

    for (const cell of cells) {
      for (const name of workloads) {
        const w = WORKLOADS[name];
        const shape = { batch: w.batch, seqLen: w.seqLen };
        const x = randomFloats(w.seqLen * w.batch * w.inputSize, 12345);
        const target = randomFloats(w.seqLen * w.batch, 778);
        const flops = forwardFlops(w, cell);
        const base = { workload: name, cell };
        let dict = null;
        let first = null;

        for (const { engine, backend, threads, onGpu } of live) {
          // The same seed: the same weights on every backend.
          const model = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, outputSize: 1, seed: 1, ...kernel });
          dict ??= await model.stateDict();
          const share = (gflops) => (gemmRate[backend] > 0 ? gflops / gemmRate[backend] : undefined);
          const tag = { engine: 'webrnn', backend, threads, ...base, onGpu };
          // The reference check on the first result, then the timed runs, each with the kernels
          // the model's option picks (warmup: not the per-step ones that 'auto' runs while a
          // resident form compiles).
          await model.warmup(w.batch);
          const result = await model.forward(x, shape);
          first ??= result;
          const ok = checkReference(lib, model, dict, x, w, result.output);
          if (modes.includes('infer') && engines.includes('webrnn')) {
            const t = await timeRuns(() => model.forward(x, shape), runs, 0);
            const gflops = flops / (t.ms * 1e6);
            add({ ...tag, mode: 'infer', ...t, gflops, shareOfGemm: share(gflops), ok, dispatches: model.lastForwardStats?.dispatches, persistent: model.lastForwardStats?.dispatchesPerStep === 0 });
          }
          if (modes.includes('train') && engines.includes('webrnn')) {
            // A copy of the model per trainer: the same weights and the same first loss.
            const trainer = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, outputSize: 1, seed: 1, ...kernel });
            const opts = { batch: w.batch, seqLen: w.seqLen, loss: 'mse', optimizer: { type: 'adam', lr: 1e-3 }, clipGradNorm: 1 };
            const losses = [];
            await trainer.warmup(w.batch, { training: true });
            const t = await timeRuns(async () => losses.push((await trainer.trainStep(x, target, opts)).loss), runs, 0);
            // The same batch again and again: Adam must bring its loss down, and nothing may blow up.
            const learns = losses.every(Number.isFinite) && (losses.length < 2 || losses[losses.length - 1] < losses[0]);
            const gflops = trainFlops(w, cell) / (t.ms * 1e6);
            add({ ...tag, mode: 'train', ...t, gflops, shareOfGemm: share(gflops), ok: learns, dispatches: trainer.lastTrainStats?.dispatches });
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
            const lastRow = result.output.subarray((w.seqLen - 1) * w.batch * w.hiddenSize);
            const perStep = t.ms / w.seqLen;
            add({ ...tag, mode: 'stream', ...t, ms: perStep, minMs: t.minMs / w.seqLen, sequenceMs: t.ms, gflops: flops / w.seqLen / (perStep * 1e6), ok: maxDiff(last.h, lastRow) <= 1e-5 });
            s.close();
          }
          model.destroy();
        }
        if (peers) await peerRows(peers, live[0].engine, { cell, w, x, target, dict, first, flops, base, modes, engines, runs, capMs, add });
      }
    }
  } finally {
    for (const { engine } of live) engine.destroy();
  }
  // Each peer row's time as a multiple of webrnn's on the backend 'auto' picks, same workload, cell and mode.
  for (const r of rows) {
    if (r.engine === 'webrnn') continue;
    const ours = rows.find((o) => o.engine === 'webrnn' && o.backend === auto.backend && (autoLabel !== 'wasm' || o.threads === auto.threads) && o.workload === r.workload && o.cell === r.cell && o.mode === r.mode);
    if (ours && Number.isFinite(r.ms)) r.ratio = r.ms / ours.ms;
  }
  return { adapter, auto, rows, totalMs: performance.now() - t0 };
}

/** The peers' rows for one cell and workload: TensorFlow.js (webgpu where the page has it, wasm) and ONNX Runtime Web (likewise). */
async function peerRows(peers, engine, c) {
  const { cell, w, x, target, dict, first, flops, base, modes, engines, runs, capMs, add } = c;
  const shape = { batch: w.batch, seqLen: w.seqLen };
  const backends = peers.webgpu ? ['webgpu', 'wasm'] : ['wasm'];
  if (engines.includes('tfjs')) {
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
    for (const backend of backends) {
      let m = null;
      try {
        m = await peers.tfjsModel(peers.tf, backend, cell, w, dict, null);
        const peerBase = { engine: 'tfjs', backend, threads: m.threads, ...base, onGpu: m.onGpu };
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
  if (engines.includes('ort') && modes.includes('infer')) {
    // ONNX Runtime Web: inference only (its training needs a separate build and artifacts).
    const inferModel = engine[cell]({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, seed: 1 });
    inferModel.loadStateDict(Object.fromEntries(Object.entries(dict).filter(([k]) => !k.startsWith('readout'))));
    const bytes = await inferModel.exportOnnx();
    inferModel.destroy();
    for (const ep of backends) {
      let s = null;
      try {
        s = await peers.ortSession(peers.ort, ep, bytes, cell === 'lstm' ? 'LSTM' : cell === 'gru' ? 'GRU' : 'RNN');
        const dims = [w.seqLen, w.batch, w.inputSize];
        const diff = maxDiff(await s.forward(x, dims), first.output);
        const t = await timeRuns(() => s.forward(x, dims), runs, capMs);
        add({ engine: 'ort', backend: ep, threads: s.threads, ...base, mode: 'infer', ...t, gflops: flops / (t.ms * 1e6), ok: diff <= 1e-4, maxDiff: diff, onGpu: s.onGpu, placements: s.placements });
      } catch (e) {
        add({ engine: 'ort', backend: ep, ...base, mode: 'infer', ms: NaN, minMs: NaN, runs: 0, gflops: 0, ok: false, onGpu: false, error: String(e?.message ?? e) });
      } finally {
        await s?.release();
      }
    }
  }
}
