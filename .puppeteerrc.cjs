// Puppeteer must not download a browser of its own: the tests and the benchmark launch the
// system Chromium (found by test/setup/browser.mjs), which carries WebGPU on SwiftShader.
module.exports = { skipDownload: true };
