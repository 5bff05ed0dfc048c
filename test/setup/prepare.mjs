#!/usr/bin/env node
// Set-up step run before `npm test` and `npm run bench` (plain Node, no packages):
//   1. installs the npm packages when any is missing (npm ci, or npm install without a lock);
//   2. builds the wasm backend's kernels (src/backends/wasm/build.mjs), which the tests import;
//   3. makes sure WebGPU can be had: a Chromium for the browser tests and the benchmark, and a
//      WebGPU adapter in Node (Dawn, through the `webgpu` package). Where either is missing and
//      apt-get is usable as root, installs Debian's `chromium` (which carries SwiftShader, a
//      CPU Vulkan driver) and `libvulkan1` (the Vulkan loader Dawn opens).
// It says what it does, and stops with a message saying what to install where it cannot act.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBrowser } from './browser.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const say = (msg) => console.log(`[setup] ${msg}`);
const fail = (msg) => {
  console.error(`[setup] ${msg}`);
  process.exit(1);
};

// --- 1. Node and npm packages -------------------------------------------------------------
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) fail(`Node ${process.versions.node} is too old: webrnn needs Node 20.19 or newer.`);

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const wanted = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
const missing = wanted.filter((name) => !existsSync(join(root, 'node_modules', name, 'package.json')));
if (missing.length) {
  const hasLock = existsSync(join(root, 'package-lock.json'));
  const args = hasLock ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
  say(`npm packages missing (${missing.join(', ')}): running npm ${args[0]}`);
  const r = spawnSync('npm', args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) fail(`npm ${args[0]} failed (exit ${r.status}); check the network access to the npm registry and run it again.`);
} else {
  say('npm packages present');
}

// --- 2. The wasm kernels ------------------------------------------------------------------
{
  const r = spawnSync(process.execPath, [join(root, 'src', 'backends', 'wasm', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(`building the wasm kernels failed (exit ${r.status})`);
}

// --- 3. WebGPU: a browser, and an adapter in Node -----------------------------------------
// The Node probe asks Dawn for an adapter as createEngine does: first as the environment is,
// then with the Vulkan loader pointed at the SwiftShader manifest beside the found browser.
function nodeAdapter() {
  const browser = findBrowser();
  const icds = [undefined];
  for (const dir of ['/usr/lib/chromium', '/usr/lib/chromium-browser', '/opt/google/chrome', browser && dirname(browser)]) {
    const p = dir && join(dir, 'vk_swiftshader_icd.json');
    if (p && existsSync(p) && !icds.includes(p)) icds.push(p);
  }
  const probe = `
    import { create } from 'webgpu';
    const a = await create([]).requestAdapter();
    console.log(a ? 'adapter:' + a.info.vendor + ' ' + a.info.architecture : 'none');
    process.exit(0);`;
  for (const icd of icds) {
    const env = { ...process.env };
    if (icd) env.VK_ICD_FILENAMES = icd;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: root, env, encoding: 'utf8', timeout: 60000 });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('adapter:'));
    if (line) return `${line.slice(8)}${icd ? ` (VK_ICD_FILENAMES=${icd})` : ''}`;
  }
  return null;
}

function canApt() {
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let browser = findBrowser();
let adapter = nodeAdapter();
if (!browser || !adapter) {
  const lacks = [!browser && 'no Chromium/Chrome browser', !adapter && 'no WebGPU adapter in Node'].filter(Boolean).join(' and ');
  if (!canApt()) {
    fail(
      `Found ${lacks}. Install Chromium or Chrome (on Debian/Ubuntu: apt-get install chromium libvulkan1, ` +
        'which brings the SwiftShader CPU driver) or a GPU driver with Vulkan, or set WEBRNN_CHROME to a browser ' +
        'executable, then run this again.',
    );
  }
  say(`found ${lacks}: installing Debian's chromium and libvulkan1 with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', 'chromium', 'libvulkan1']]) {
    say(`apt-get ${args.join(' ')}`);
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) fail(`apt-get ${args.join(' ')} failed (exit ${r.status}); install chromium and libvulkan1 by hand.`);
  }
  browser = findBrowser();
  adapter = nodeAdapter();
  if (!browser) fail('chromium was installed but no browser executable was found; set WEBRNN_CHROME to its path.');
  if (!adapter) fail('no WebGPU adapter in Node even with SwiftShader; check that libvulkan1 is installed and /usr/lib/chromium/vk_swiftshader_icd.json exists.');
}
say(`browser: ${browser}`);
say(`Node WebGPU adapter: ${adapter}`);
