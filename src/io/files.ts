/**
 * A model's files from where a caller names them: bytes as given; in a page, a URL it can
 * fetch; in Node, a file path, a `file:` URL, or an http(s) URL.
 */
import { WebRnnError } from '../errors.js';
import type { TfjsModelSource } from './tfjs.js';

/** A URL scheme (http:, file:, data:, …); a Windows drive letter is not one. */
const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]+:/;

function inNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Whether `source` names a file on this machine: in Node, a path or a file: URL. */
function isLocal(source: string): boolean {
  return inNode() && (!SCHEME.test(source) || source.startsWith('file:'));
}

async function readLocal(source: string, what: string): Promise<Uint8Array> {
  // Through variables, so that a bundler for the browser does not try to resolve them.
  const fsName = 'node:fs/promises';
  const urlName = 'node:url';
  const { readFile } = (await import(/* @vite-ignore */ fsName)) as { readFile: (path: string) => Promise<Uint8Array> };
  const path = source.startsWith('file:') ? ((await import(/* @vite-ignore */ urlName)) as { fileURLToPath: (u: string) => string }).fileURLToPath(source) : source;
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new WebRnnError('invalid-file', `${what}: reading ${path} failed: ${(e as Error).message}`);
  }
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  if (url.startsWith('file:')) {
    throw new WebRnnError('invalid-option', `${what}: a page cannot read ${url}; serve the file and pass its URL, or pass the file's bytes`);
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new WebRnnError('invalid-file', `${what}: fetching ${url} failed: ${(e as Error).message}`);
  }
  if (!response.ok) throw new WebRnnError('invalid-file', `${what}: fetching ${url} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The bytes of a file given as bytes, a URL, or (in Node) a path or file: URL. */
export async function fileBytes(source: Uint8Array | ArrayBuffer | string, what: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== 'string') throw new WebRnnError('invalid-option', `${what}: file bytes (Uint8Array or ArrayBuffer), a URL or (in Node) a path expected`);
  return isLocal(source) ? readLocal(source, what) : fetchBytes(source, what);
}

/** Where file `name`, given relative to `source`'s folder, is: a path beside a path, else a URL resolved against `source`. */
function beside(source: string, name: string): string {
  if (isLocal(source) && !source.startsWith('file:')) return source.slice(0, Math.max(source.lastIndexOf('/'), source.lastIndexOf('\\')) + 1) + name;
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  return new URL(name, base ? new URL(source, base) : source).href;
}

/** A TensorFlow.js model.json and its weight shards (named relative to it), from a URL or a path. */
export async function tfjsFiles(source: string, what: string): Promise<TfjsModelSource> {
  const text = new TextDecoder().decode(await fileBytes(source, what));
  let json: { weightsManifest?: Array<{ paths?: string[] }> };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    throw new WebRnnError('invalid-file', `${what}: ${source} is not JSON: ${(e as Error).message}`);
  }
  const paths = (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []);
  const weights = await Promise.all(paths.map(async (p) => (await fileBytes(beside(source, p), what)).slice().buffer));
  return { json, weights };
}
