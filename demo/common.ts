// What every demo page shares: the engine (WebGPU on a hardware adapter, the wasm backend
// otherwise, and a line saying which), a status line with progress, plots drawn on canvases, and the page's result flag
// that the headless test waits for (window.demoResult).
import { createEngine, type Engine } from '../src/index.js';

declare global {
  interface Window {
    demoResult?: { ok: boolean; summary: string };
  }
}

export function element<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

/** The status line: text, and a progress bar for anything that takes more than a second. */
export function status(text: string, progress?: number): void {
  element('status').textContent = text;
  const bar = element<HTMLProgressElement>('progress');
  if (progress === undefined) bar.hidden = true;
  else {
    bar.hidden = false;
    bar.value = Math.max(0, Math.min(1, progress));
  }
}

let engine: Promise<Engine> | null = null;

/** What runs the page's models, in a line. */
export function describeBackend(e: Engine): string {
  const a = e.info;
  if (a.backend === 'wasm') return `wasm backend: ${a.description} (${a.reason}; threads: ${a.threadNote})`;
  return `WebGPU adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ')}${a.software ? ' (software)' : ''} (${a.reason})`;
}

/** The page's engine (the backend createEngine's 'auto' picks), its backend shown above the status line. */
export function getEngine(): Promise<Engine> {
  engine ??= createEngine().then((e) => {
    let line = document.getElementById('backend');
    if (!line) {
      line = document.createElement('p');
      line.id = 'backend';
      line.className = 'backend';
      element('status').parentElement!.before(line);
    }
    line.textContent = describeBackend(e);
    return e;
  });
  engine.catch(() => {
    engine = null;
  });
  return engine;
}

/** Yield to the browser so that the page repaints and stays responsive during long work. */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Run a piece of the page's work, its summary (or error) in the status line and in demoResult. */
export async function report(work: () => Promise<string>): Promise<void> {
  window.demoResult = undefined;
  try {
    const summary = await work();
    status(summary);
    window.demoResult = { ok: true, summary };
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    status(`Error: ${message}`);
    window.demoResult = { ok: false, summary: message };
  }
}

/** Run the page's main work from a button; `group` (the button by default) is disabled meanwhile, so that one job runs at a time. */
export function wire(button: HTMLButtonElement, work: () => Promise<string>, group: HTMLButtonElement[] = [button]): void {
  button.addEventListener('click', async () => {
    for (const b of group) b.disabled = true;
    try {
      await report(work);
    } finally {
      for (const b of group) b.disabled = false;
    }
  });
}

export interface Series {
  label: string;
  values: ArrayLike<number>;
  color: string;
  x?: ArrayLike<number>;
}

/** A line plot of one or more series on a canvas (log scale on y with `logY`). */
export function linePlot(canvas: HTMLCanvasElement, series: Series[], options: { logY?: boolean; title?: string; xLabel?: string; yLabel?: string } = {}): void {
  const ctx = canvas.getContext('2d')!;
  const { width: W, height: Hc } = canvas;
  ctx.clearRect(0, 0, W, Hc);
  const pad = { l: 56, r: 12, t: 24, b: 36 };
  const f = (v: number): number => (options.logY ? Math.log10(Math.max(v, 1e-30)) : v);
  const xs = series.flatMap((s) => Array.from(s.x ?? Array.from({ length: s.values.length }, (_, i) => i)));
  const ys = series.flatMap((s) => Array.from(s.values, f)).filter(Number.isFinite);
  if (!ys.length) return;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-12) [y0, y1] = [y0 - 1, y1 + 1];
  const px = (x: number): number => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const py = (y: number): number => Hc - pad.b - ((y - y0) / (y1 - y0)) * (Hc - pad.t - pad.b);
  ctx.strokeStyle = '#999';
  ctx.strokeRect(pad.l, pad.t, W - pad.l - pad.r, Hc - pad.t - pad.b);
  ctx.fillStyle = '#333';
  ctx.font = '11px system-ui, sans-serif';
  for (const [y, label] of [
    [y0, y0],
    [y1, y1],
  ]) ctx.fillText(options.logY ? `1e${label.toFixed(1)}` : label.toPrecision(3), 4, py(y) + 4);
  ctx.fillText(String(x0), pad.l, Hc - pad.b + 14);
  ctx.fillText(String(x1), W - pad.r - 24, Hc - pad.b + 14);
  if (options.xLabel) ctx.fillText(options.xLabel, W / 2 - 20, Hc - 6);
  if (options.title) ctx.fillText(options.title, pad.l, 14);
  series.forEach((s, k) => {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let started = false;
    for (let i = 0; i < s.values.length; i++) {
      const y = f(s.values[i]);
      if (!Number.isFinite(y)) continue;
      const x = px(s.x ? s.x[i] : i);
      if (started) ctx.lineTo(x, py(y));
      else ctx.moveTo(x, py(y));
      started = true;
    }
    ctx.stroke();
    // A mark on each point where there are few, so that a single point still shows.
    if (s.values.length <= 12) {
      ctx.fillStyle = s.color;
      for (let i = 0; i < s.values.length; i++) {
        const y = f(s.values[i]);
        if (Number.isFinite(y)) ctx.fillRect(px(s.x ? s.x[i] : i) - 2, py(y) - 2, 5, 5);
      }
    }
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, W - pad.r - 150, pad.t + 14 + 14 * k);
  });
}

/** A heatmap of a [rows, cols] matrix (log10 colour scale with `log`), NaN cells left blank. */
export function heatmap(canvas: HTMLCanvasElement, data: ArrayLike<number>, rows: number, cols: number, options: { log?: boolean; title?: string } = {}): void {
  const ctx = canvas.getContext('2d')!;
  const { width: W, height: Hc } = canvas;
  ctx.clearRect(0, 0, W, Hc);
  const top = 20;
  const f = (v: number): number => (options.log ? Math.log10(v) : v);
  const vals = Array.from(data, f).filter(Number.isFinite);
  if (!vals.length) return;
  const [lo, hi] = [Math.min(...vals), Math.max(...vals)];
  const cw = W / cols;
  const ch = (Hc - top) / rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = f(data[r * cols + c]);
      if (!Number.isFinite(v)) continue;
      const u = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      // Dark blue (small) to yellow (large).
      ctx.fillStyle = `rgb(${Math.round(40 + 215 * u)}, ${Math.round(30 + 200 * u)}, ${Math.round(120 - 100 * u)})`;
      ctx.fillRect(c * cw, top + r * ch, Math.ceil(cw), Math.ceil(ch));
    }
  }
  ctx.fillStyle = '#333';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(`${options.title ?? ''} ${options.log ? `1e${lo.toFixed(1)} … 1e${hi.toFixed(1)}` : `${lo.toPrecision(3)} … ${hi.toPrecision(3)}`}`, 2, 13);
}
