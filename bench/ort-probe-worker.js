// A worker that asks ONNX Runtime Web where it places each node of a model: it creates a
// session with verbose logging and returns ONNX Runtime's own "Node placements" report. It runs
// apart from the page's ONNX Runtime because the log level is fixed when the runtime starts, and
// verbose logging during timed runs would cost time. Classic worker script.
const lines = [];
for (const k of ['log', 'error', 'warn', 'info', 'debug']) console[k] = (...args) => lines.push(args.map(String).join(' '));
// Paths relative to this script, so that the site may live under any directory.
const ortDist = new URL('../node_modules/onnxruntime-web/dist/', self.location.href).href;
importScripts(`${ortDist}ort.webgpu.min.js`);
ort.env.wasm.wasmPaths = ortDist;
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'verbose';

onmessage = async ({ data: { bytes, ep } }) => {
  lines.length = 0;
  try {
    const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], logSeverityLevel: 0, logVerbosityLevel: 0 });
    await session.release();
    postMessage({ report: lines.filter((l) => l.includes('VerifyEachNodeIsAssignedToAnEp')).map((l) => l.replace(/^.*VerifyEachNodeIsAssignedToAnEp\]/, '')) });
  } catch (e) {
    postMessage({ error: String(e?.message ?? e) });
  }
};
