// Types of the plain-JS set-up modules used from TypeScript tests and the benchmark.
declare module '*/setup/browser.mjs' {
  import type { Browser } from 'puppeteer';
  export function findBrowser(): string | null;
  export const BROWSER_FLAGS: string[];
  export function launchBrowser(options?: { protocolTimeout?: number; webgpu?: boolean }): Promise<Browser>;
}
declare module '*/setup/static-server.mjs' {
  export function serveStatic(root: string): Promise<{ url: string; close(): Promise<void> }>;
}
