// The benchmark's peers, in the page: TensorFlow.js layers models (webgpu and wasm backends)
// and ONNX Runtime Web (webgpu and wasm execution providers), given the same weights and inputs
// as webrnn's model. Each peer's output is checked against webrnn's before its time counts.
// Plain ES module; the peers' own UMD builds are loaded from node_modules as script tags.

const SCRIPTS = [
  'node_modules/@tensorflow/tfjs/dist/tf.min.js',
  'node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js',
  'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
  'node_modules/onnxruntime-web/dist/ort.webgpu.min.js',
];

function addScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

let siteBase = '';

/**
 * Load the peers' builds from under `base` (the site's root URL); returns { tf, ort } (globals
 * of their UMD builds), whether the page has a WebGPU adapter for their WebGPU backends, and
 * their versions. Their wasm backends get the machine's cores where the page is cross-origin
 * isolated (threads need SharedArrayBuffer), one thread otherwise: ONNX Runtime's
 * env.wasm.numThreads (its own default is half the cores, at most 4) and TensorFlow.js's
 * threaded wasm build with setThreadsCount.
 */
export async function loadPeers(base) {
  siteBase = base;
  for (const src of SCRIPTS) await addScript(`${base}/${src}`);
  const { tf, ort } = window;
  const threads = self.crossOriginIsolated ? navigator.hardwareConcurrency : 1;
  tf.wasm.setWasmPaths(`${base}/node_modules/@tensorflow/tfjs-backend-wasm/dist/`);
  tf.wasm.setThreadsCount(threads);
  ort.env.wasm.wasmPaths = `${base}/node_modules/onnxruntime-web/dist/`;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'warning';
  const webgpu = Boolean(navigator.gpu && (await navigator.gpu.requestAdapter()));
  return { tf, ort, webgpu, versions: { tfjs: tf.version.tfjs, ort: ort.env.versions?.web ?? ort.env.versions?.common ?? '?' } };
}

/** [T, B, F] ↔ [B, T, F]. */
function swap01(a, d0, d1, f) {
  const out = new Float32Array(a.length);
  for (let i = 0; i < d0; i++) for (let j = 0; j < d1; j++) out.set(a.subarray((i * d1 + j) * f, (i * d1 + j + 1) * f), (j * d0 + i) * f);
  return out;
}

/** PyTorch-named weights of a 1-layer unidirectional model as a Keras layer's [kernel, recurrentKernel, bias]. */
function kerasWeights(cell, dict, I, H) {
  // PyTorch blocks: LSTM i, f, g, o (Keras i, f, c, o: the same); GRU r, z, n (Keras z, r, h).
  const order = cell === 'gru' ? [1, 0, 2] : cell === 'lstm' ? [0, 1, 2, 3] : [0];
  const G = order.length;
  const wih = dict.weight_ih_l0;
  const whh = dict.weight_hh_l0;
  const kernel = new Float32Array(I * G * H);
  const recurrent = new Float32Array(H * G * H);
  const bias = new Float32Array(G * H);
  order.forEach((from, to) => {
    for (let j = 0; j < H; j++) {
      for (let i = 0; i < I; i++) kernel[i * G * H + to * H + j] = wih[(from * H + j) * I + i];
      for (let k = 0; k < H; k++) recurrent[k * G * H + to * H + j] = whh[(from * H + j) * H + k];
      // One bias: Keras's LSTM and SimpleRNN add them; its GRU (reset_after false) adds the
      // recurrent one outside r ⊙ (…), as ONNX's linear_before_reset = 0 form does.
      bias[to * H + j] = dict.bias_ih_l0[from * H + j] + dict.bias_hh_l0[from * H + j];
    }
  });
  return { kernel, recurrent, bias };
}

function kerasLayer(tf, cell, I, H, T, returnSequences = true) {
  const common = { units: H, returnSequences, inputShape: [T, I], kernelInitializer: 'zeros', recurrentInitializer: 'zeros' };
  if (cell === 'lstm') return tf.layers.lstm({ ...common, recurrentActivation: 'sigmoid' });
  if (cell === 'gru') return tf.layers.gru({ ...common, recurrentActivation: 'sigmoid', resetAfter: false });
  return tf.layers.simpleRNN({ ...common, activation: 'tanh' });
}

/**
 * A TensorFlow.js model of `cell` on `backend` with webrnn's weights. `expected` is the
 * output it must reproduce, [T, B, H] (for the GRU: webrnn's linearBeforeReset: false form,
 * the only one tfjs has). Returns { run, check } for inference and { step, loss0 } for training.
 */
export async function tfjsModel(tf, backend, cell, w, dict, readout) {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} is not available`);
  await tf.ready();
  const { batch: B, seqLen: T, inputSize: I, hiddenSize: H } = w;
  const model = tf.sequential();
  const layer = kerasLayer(tf, cell, I, H, T);
  model.add(layer);
  const k = kerasWeights(cell, dict, I, H);
  layer.setWeights([tf.tensor2d(k.kernel, [I, k.kernel.length / I]), tf.tensor2d(k.recurrent, [H, k.recurrent.length / H]), tf.tensor1d(k.bias)]);
  let dense = null;
  if (readout) {
    dense = tf.layers.dense({ units: 1 });
    model.add(dense);
    dense.setWeights([tf.tensor2d(readout.weight, [H, 1]), tf.tensor1d(readout.bias)]);
  }
  return {
    backend: tf.getBackend(),
    onGpu: tf.getBackend() === 'webgpu',
    threads: backend === 'wasm' ? tf.wasm.getThreadsCount() : undefined,
    /** Forward of x [T, B, I]; returns the output [T, B, H] (or the read-out [T, B, 1]). */
    async forward(x) {
      const xt = tf.tensor3d(swap01(x, T, B, I), [B, T, I]);
      const y = model.predict(xt);
      const data = await y.data();
      xt.dispose();
      y.dispose();
      return swap01(data, B, T, data.length / (B * T));
    },
    /** One training step: MSE on the read-out, gradients, global-norm clipping to 1, Adam. Returns the loss. */
    trainer(x, target, lr) {
      const xt = tf.tensor3d(swap01(x, T, B, I), [B, T, I]);
      const yt = tf.tensor3d(swap01(target, T, B, 1), [B, T, 1]);
      const optimizer = tf.train.adam(lr);
      return {
        async step() {
          const loss = tf.tidy(() => {
            const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(yt, model.apply(xt, { training: true })));
            const names = Object.keys(grads);
            const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n])))));
            const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(1), tf.add(norm, tf.scalar(1e-6))));
            const clipped = {};
            for (const n of names) clipped[n] = tf.mul(grads[n], scale);
            optimizer.applyGradients(clipped);
            return value;
          });
          const v = (await loss.data())[0];
          loss.dispose();
          return v;
        },
        dispose() {
          xt.dispose();
          yt.dispose();
          optimizer.dispose();
        },
      };
    },
    dispose() {
      model.dispose();
    },
  };
}

let probeWorker = null;

/**
 * Where ONNX Runtime places each node of `bytes` on `ep`, from its own verbose "Node
 * placements" report (in a worker: see bench/ort-probe-worker.js). Returns { providers: {
 * provider: [op types] } }.
 */
async function ortPlacements(bytes, ep) {
  probeWorker ??= new Worker(`${siteBase}/bench/ort-probe-worker.js`);
  const reply = await new Promise((resolve) => {
    probeWorker.onmessage = (m) => resolve(m.data);
    probeWorker.postMessage({ bytes, ep });
  });
  if (reply.error) throw new Error(`placement probe: ${reply.error}`);
  // " All nodes placed on [P]. Number of nodes: n", or per provider " Node(s) placed on [P].
  // Number of nodes: n" followed by one "  OpType (name)" line per node.
  const providers = {};
  let current = null;
  for (const line of reply.report) {
    const m = /(All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (m) {
      current = m[2];
      providers[current] ??= [];
      if (m[1] === 'All nodes') providers[current].push(`all ${m[3]}`);
      continue;
    }
    const node = /^\s+(\w+) \(/.exec(line);
    if (node && current) providers[current].push(node[1]);
  }
  return providers;
}

/**
 * An ONNX Runtime session on execution provider `ep` for the ONNX bytes of webrnn's model,
 * with where each node runs. On the GPU means: the recurrent node ran on the WebGPU provider.
 */
export async function ortSession(ort, ep, bytes, op) {
  const placements = await ortPlacements(bytes, ep);
  const gpu = placements.WebGpuExecutionProvider ?? [];
  // Errors only: the placement warnings were read by the probe, and are not this session's to print.
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], logSeverityLevel: 3 });
  return {
    placements,
    threads: ep === 'wasm' ? ort.env.wasm.numThreads : undefined,
    onGpu: ep === 'webgpu' && (gpu.includes(op) || (gpu.some((n) => n.startsWith('all ')) && Object.keys(placements).length === 1)),
    async forward(x, dims) {
      const out = await session.run({ X: new ort.Tensor('float32', x, dims) });
      return out.output.data;
    },
    release: () => session.release(),
  };
}
