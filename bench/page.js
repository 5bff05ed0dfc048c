// Benchmark page module: imports the built package and the shared suite.
import * as lib from '/dist/index.js';
import { runSuite } from '/bench/suite.js';

window.benchRun = (options) => runSuite(lib, options, (row) => console.log(`row ${JSON.stringify(row)}`));
window.benchReady = true;
