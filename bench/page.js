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
window.benchReady = true;
