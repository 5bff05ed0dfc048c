// Finding and launching the system Chromium with WebGPU, shared by the set-up step, the
// browser tests and the benchmark. Plain Node, no packages, except `launch`, which imports
// puppeteer when called.
import { existsSync } from 'node:fs';

/** Environment variables that may name a browser, in the order they are consulted. */
export const BROWSER_ENV = ['WEBRNN_CHROME', 'PUPPETEER_EXECUTABLE_PATH', 'CHROME_PATH'];

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
  '/snap/bin/chromium',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/opt/google/chrome/chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

/** Path of a Chromium or Chrome executable, or null. */
export function findBrowser() {
  for (const name of BROWSER_ENV) {
    const p = process.env[name];
    if (p && existsSync(p)) return p;
  }
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** Flags that give headless Chromium a WebGPU adapter (SwiftShader where there is no GPU). */
export const BROWSER_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Launch headless Chromium through puppeteer with WebGPU enabled (`webgpu: false`: turned off,
 * as in a browser without it). `protocolTimeout` (ms, 0 for none) bounds one call into the
 * page; long benchmark runs need more than puppeteer's 180 s.
 */
export async function launchBrowser({ protocolTimeout, webgpu = true } = {}) {
  const executablePath = findBrowser();
  if (!executablePath) {
    throw new Error(
      `No Chromium or Chrome found (looked at ${BROWSER_ENV.join(', ')} and ${CANDIDATES.join(', ')}). ` +
        'Install one (Debian/Ubuntu: apt-get install chromium) or set WEBRNN_CHROME to its path.',
    );
  }
  const { default: puppeteer } = await import('puppeteer');
  const args = webgpu ? BROWSER_FLAGS : [...BROWSER_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu'), '--disable-features=WebGPU'];
  return puppeteer.launch({ executablePath, headless: true, args, ...(protocolTimeout !== undefined ? { protocolTimeout } : {}) });
}
