// Benchmark page module: imports the built package, the shared suite and the peers.
import * as lib from '/dist/index.js';
import { runSuite } from '/bench/suite.js';
import { loadPeers, ortSession, tfjsModel } from '/bench/peers.js';

window.benchRun = async (options) => {
  const wantPeers = (options.engines ?? ['webrnn', 'tfjs', 'ort']).some((e) => e !== 'webrnn');
  const peers = wantPeers ? { ...(await loadPeers(location.origin)), tfjsModel, ortSession } : null;
  const result = await runSuite(lib, options, (row) => console.log(`row ${JSON.stringify(row)}`), peers);
  return { ...result, peerVersions: peers?.versions };
};
// Old against new (bench/baseline.mjs): the suite with the build at `path` ('/dist/index.js'
// for this one), its rows.
window.benchBuild = async (path, options) => {
  const build = path === '/dist/index.js' ? lib : await import(path);
  return (await runSuite(build, options, (row) => console.log(`row ${JSON.stringify(row)}`))).rows;
};
window.benchReady = true;
