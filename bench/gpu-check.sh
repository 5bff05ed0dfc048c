#!/usr/bin/env bash
# The GPU check: on a Linux machine with an NVIDIA GPU, run webrnn's Node-side GPU tests and its
# benchmarks with and without each form that waits for a GPU measurement (docs/decisions.md
# D12: the cooperative persistent forward; D13: the tiled per-step forward and sweep; half-precision W_hh,
# weightPrecision 'f16'), and write
# everything to one folder as JSON and text.
#
#   bash bench/gpu-check.sh [OUT]        (OUT defaults to bench/results/gpu-check-<date>)
#
# What it needs, and installs where it can (as root, with apt-get and a network): Node 20.19+,
# the npm packages (npm ci), the Vulkan loader (libvulkan1) and the NVIDIA driver's Vulkan ICD
# (it stops and says so when no Vulkan adapter is found: Dawn reaches the GPU through Vulkan).
# Set WEBRNN_GPU_CHECK_QUICK=1 for a short run (one cell, fewer sizes) that still covers every step.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/results/gpu-check-$(date -u +%Y-%m-%d-%H%M)}"
mkdir -p "$out"
log() { echo "[gpu-check] $*" | tee -a "$out/log.txt"; }
quick="${WEBRNN_GPU_CHECK_QUICK:-0}"
cells=lstm,gru,rnn
hidden=32,64,128,256,512
batches=1,4,16,64
if [ "$quick" = 1 ]; then cells=lstm; hidden=64,128,256; batches=1,16; fi
# The cooperative form on, as far as the device's workgroup allows (cooperativeShape refuses more).
coop='{"gpuCooperativeMaxHidden":512,"gpuCooperativeMaxRows":64}'
# The tiled forms on for every per-step forward and sweep of 4 rows or more.
tiled='{"gpuTiledMinHidden":1,"gpuTiledMinRows":4}'

# --- what the machine has ----------------------------------------------------------------
if ! command -v node > /dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    log "installing Node.js (Debian's nodejs and npm)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
  fi
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' || { log "Node 20.19 or newer is needed (found $(node --version 2>/dev/null || echo none))"; exit 1; }
fi
if [ ! -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] && [ ! -e /usr/lib64/libvulkan.so.1 ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  log "installing the Vulkan loader (libvulkan1)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libvulkan1 || true
fi
[ -d node_modules/webgpu ] || { log "installing the npm packages (npm ci)"; npm ci --no-audit --no-fund; }
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi: not found"; } > "$out/nvidia-smi.txt"
log "GPU: $(head -2 "$out/nvidia-smi.txt" | tail -1)"
npm run build > "$out/build.txt" 2>&1

# The adapter Dawn gives Node, as createEngine reports it; a software one means no GPU driver.
node --input-type=module -e "
  import { createEngine } from './dist/index.js';
  const e = await createEngine({ backend: 'webgpu' });
  console.log(JSON.stringify(e.info));
  process.exit(e.info.software ? 3 : 0);" > "$out/adapter.json" 2>> "$out/log.txt" || {
  log "no hardware WebGPU adapter in Node (see $out/adapter.json): install the NVIDIA driver with its Vulkan ICD"
  exit 1
}
log "adapter: $(cat "$out/adapter.json")"

# --- the GPU tests (kernels on the hardware adapter, the GPU's forms at model level) ----------
log "tests: kernels, schedule, backends/webgpu, model, train on the GPU"
npx vitest run --config test/vitest.config.ts --project all test/kernels test/schedule test/backends/webgpu test/model test/train \
  --reporter=default --reporter=json --outputFile="$out/tests.json" > "$out/tests.txt" 2>&1 || log "some tests failed: see $out/tests.txt"
grep -E "Test Files|Tests " "$out/tests.txt" | tee -a "$out/log.txt" || true

# --- the benchmarks, with and without the cooperative and tiled forms --------------------------
bench() {
  local name="$1"; shift
  log "bench $name: $*"
  node bench/run.mjs --node --backends webgpu --cells "$cells" "$@" > "$out/bench-$name.txt" 2>&1 || log "bench $name failed: see $out/bench-$name.txt"
  cp bench/results/latest.json "$out/bench-$name.json" 2> /dev/null || true
}
bench default
bench cooperative --placement "$coop"
bench per-step --persistent off
bench tiled --placement "$tiled"
bench tiled-per-step --persistent off --placement "$tiled"
bench half --modes infer --weights f16
bench half-cooperative --modes infer --weights f16 --placement "$coop"
bench half-tiled --modes infer --weights f16 --persistent off --placement "$tiled"

crossover() {
  local name="$1"; shift
  log "crossover $name: $*"
  node bench/crossover.mjs --cells "$cells" --hidden "$hidden" --batches "$batches" "$@" > "$out/crossover-$name.txt" 2>&1 || log "crossover $name failed: see $out/crossover-$name.txt"
}
crossover staged
crossover cooperative --placement "$coop"
crossover staged-train --train
crossover cooperative-train --train --placement "$coop"
# Per step in the tiled form against the persistent kernel: where D3's thresholds move with it.
crossover tiled --placement "$tiled"
crossover tiled-train --train --placement "$tiled"

log "done: $out"
