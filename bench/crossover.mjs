#!/usr/bin/env node
// `npm run bench:crossover`: where the persistent kernel beats one dispatch per step on this
// machine's adapter, in Node through Dawn. For each cell, hidden size and batch it times a
// forward pass (and, with --train, a gradient pass) of T steps with `persistent: true` and
// with `persistent: false`, medians of --runs runs after a warm-up, and prints per-step ÷
// persistent: above 1, the persistent kernel is faster. The rule `persistent: 'auto'` follows
// (src/kernels/recurrent-step.ts, autoPersistent) was read off this table on SwiftShader.
//
// Options: --cells lstm,gru,rnn  --hidden 32,64,128,256  --batches 1,4,16,64  --seq 64
//          --input 32  --runs 5  --train  --placement JSON (the engine's thresholds, e.g. the
//          cooperative form's: '{"gpuCooperativeMaxHidden":512}')
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { cells: ['lstm', 'gru', 'rnn'], hidden: [32, 64, 128, 256], batches: [1, 4, 16, 64], seq: 64, input: 32, runs: 5, train: false };
  const list = (v) => v.split(',').map(Number);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--cells') o.cells = value().split(',');
    else if (a === '--hidden') o.hidden = list(value());
    else if (a === '--batches') o.batches = list(value());
    else if (a === '--seq') o.seq = Number(value());
    else if (a === '--input') o.input = Number(value());
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--train') o.train = true;
    else if (a === '--placement') o.placement = JSON.parse(value());
    else throw new Error(`unknown option ${a} (see the head of bench/crossover.mjs)`);
  }
  for (const c of o.cells) if (!['lstm', 'gru', 'rnn'].includes(c)) throw new Error(`unknown cell ${c}`);
  for (const n of [...o.hidden, ...o.batches, o.seq, o.input, o.runs]) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`sizes and --runs must be positive integers, got ${n}`);
  }
  return o;
}

async function median(runs, fn) {
  await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)];
}

const o = parseArgs(process.argv.slice(2));
const { createEngine } = await import(join(root, 'dist/index.js'));
const engine = await createEngine(o.placement ? { placement: o.placement } : {});
console.log(`adapter: ${engine.info.description} (${engine.info.software ? 'software' : 'hardware'}); T = ${o.seq}, I = ${o.input}, medians of ${o.runs}${o.placement ? `; placement ${JSON.stringify(o.placement)}` : ''}`);
console.log(`per-step ms ÷ persistent ms (${o.train ? 'gradient pass' : 'forward pass'}); above 1: persistent is faster`);
console.log(`| cell | H | ${o.batches.map((b) => `B ${b}`).join(' | ')} |`);
console.log(`|---|---|${o.batches.map(() => '---').join('|')}|`);
for (const cell of o.cells) {
  for (const H of o.hidden) {
    const row = [];
    for (const B of o.batches) {
      const x = new Float32Array(o.seq * B * o.input).map((_, i) => Math.sin(i));
      const gradOutput = new Float32Array(o.seq * B * H).map((_, i) => Math.cos(i));
      const ms = {};
      for (const persistent of [true, false]) {
        const model = engine[cell]({ inputSize: o.input, hiddenSize: H, persistent });
        const run = o.train ? () => model.gradients(x, { batch: B, seqLen: o.seq, gradOutput }) : () => model.forward(x, { batch: B, seqLen: o.seq });
        ms[persistent] = await median(o.runs, run);
        model.destroy();
      }
      row.push(`${(ms.false / ms.true).toFixed(2)} (${ms.true.toFixed(1)} / ${ms.false.toFixed(1)})`);
    }
    console.log(`| ${cell} | ${H} | ${row.join(' | ')} |`);
  }
}
engine.destroy();
