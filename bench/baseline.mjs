// Old against new: the suite's webrnn rows for the current build and for a baseline revision,
// alternated in one page (or one Node process) round after round, so that both see the same
// machine at the same times. `npm run bench -- --baseline REV [--rounds N]`.
//
// The baseline is built from `git archive REV` into bench/baseline-builds/<commit>/ (ignored by
// git; kept for the next comparison with the same revision) with this checkout's node_modules.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Build `rev` once; returns its commit and the path of its dist/index.js relative to `root`. */
export function prepareBaseline(root, rev) {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
  const rel = join('bench/baseline-builds', commit.slice(0, 12));
  const dir = join(root, rel);
  if (!existsSync(join(dir, 'dist/index.js'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive --format=tar ${commit} | tar -x -C '${dir}'`], { cwd: root, stdio: 'inherit' });
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    // The wasm kernels are generated (git-ignored), as `npm run build` makes them first.
    if (existsSync(join(dir, 'src/backends/wasm/build.mjs'))) execFileSync(process.execPath, ['src/backends/wasm/build.mjs'], { cwd: dir, stdio: 'inherit' });
    execFileSync(join(root, 'node_modules/.bin/vite'), ['build', '--config', 'src/vite.config.ts', '--logLevel', 'warn'], { cwd: dir, stdio: 'inherit' });
  }
  return { commit, path: `${rel}/dist/index.js` };
}

/**
 * Run the suite's webrnn rows `rounds` times for each of two builds, alternating which goes
 * first. `run(build, options)` runs one suite on 'new' or 'old' and resolves to its rows.
 */
export async function alternate(run, options, rounds) {
  // One backend (default WebGPU, which every revision has): rows of the same key from both builds.
  const suiteOptions = { ...options, backends: options.backends ?? ['webgpu'], engines: ['webrnn'], ceilings: false, firstUse: false, stream: false };
  const results = [];
  for (let r = 0; r < rounds; r++) {
    for (const build of r % 2 === 0 ? ['new', 'old'] : ['old', 'new']) {
      process.stderr.write(`round ${r + 1} of ${rounds}: ${build} build\n`);
      results.push({ round: r, build, rows: await run(build, suiteOptions) });
    }
  }
  return results;
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Per row (cell, workload, mode): each build's medians over the rounds, their range, and
 * new / old of the medians; `overlap` says whether the two ranges meet (within the spread).
 */
export function summarise(results) {
  const rows = new Map();
  for (const { build, rows: rs } of results) {
    for (const r of rs) {
      if (!Number.isFinite(r.ms)) continue;
      const key = `${r.cell} ${r.workload} ${r.mode} ${r.backend} ${r.threads ?? ''}`;
      if (!rows.has(key)) rows.set(key, { cell: r.cell, workload: r.workload, mode: r.mode, backend: r.backend, threads: r.threads, new: [], old: [] });
      rows.get(key)[build].push(r.ms);
    }
  }
  return [...rows.values()].map((r) => {
    const [nMed, oMed] = [median(r.new), median(r.old)];
    const [nLo, nHi, oLo, oHi] = [Math.min(...r.new), Math.max(...r.new), Math.min(...r.old), Math.max(...r.old)];
    return { ...r, newMedian: nMed, oldMedian: oMed, ratio: nMed / oMed, overlap: nLo <= oHi && oLo <= nHi, newRange: [nLo, nHi], oldRange: [oLo, oHi] };
  });
}
