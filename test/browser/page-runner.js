// Loaded into the test page as a module: runs forward passes with the built package and
// returns plain arrays. Kept out of the test file so that it reaches the page untransformed.
import { createEngine } from '/dist/index.js';

window.runCases = async (cases) => {
  const engine = await createEngine();
  const results = [];
  for (const c of cases) {
    const model = engine[c.kind](c.options);
    const dict = {};
    for (const [k, v] of Object.entries(c.dict)) dict[k] = new Float32Array(v);
    model.loadStateDict(dict);
    const f = (a) => (a ? new Float32Array(a) : undefined);
    const r = await model.forward(new Float32Array(c.x), { batch: c.batch, seqLen: c.seqLen, h0: f(c.h0), c0: f(c.c0) });
    results.push({ output: Array.from(r.output), hN: Array.from(r.hN), cN: r.cN ? Array.from(r.cN) : undefined });
    model.destroy();
  }
  const info = { ...engine.info };
  engine.destroy();
  return { info, results };
};
window.runnerReady = true;
