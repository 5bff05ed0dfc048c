/**
 * safetensors, read and write. The format: an 8-byte little-endian unsigned header length N,
 * N bytes of UTF-8 JSON mapping each tensor name to { dtype, shape, data_offsets: [begin, end] }
 * (byte offsets into the data that follows; an optional "__metadata__" maps strings to
 * strings), then the data. Every check below refuses a file rather than guess: the data must be
 * exactly covered by the tensors, in bounds and without overlap, each tensor's byte size must
 * match its dtype and shape, and the header must be valid JSON of that form.
 */
import { WebRnnError } from '../errors.js';
import { floatToBfloat16, floatToHalf, halfToFloat } from '../spec/half.js';

/** Element types read (and converted to float32). */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64';

/** Element types written: float32 as it is, or rounded to half or bfloat16. */
export type SafetensorsWriteDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** One tensor, converted to float32. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** Largest header accepted (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function fail(message: string): never {
  throw new WebRnnError('invalid-file', `safetensors: ${message}`);
}

/** True when `bytes` start like safetensors: a plausible header length, then '{'. */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9 || bytes[8] !== 0x7b) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n <= BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8));
}

/** Parse safetensors bytes. Throws a WebRnnError ('invalid-file') naming what is wrong. */
export function readSafetensors(input: Uint8Array | ArrayBuffer): SafetensorsFile {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 8) fail(`file of ${bytes.length} bytes is shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerBytes = Number(n);
  if (8 + headerBytes > bytes.length) fail(`header length ${headerBytes} runs past the end of the ${bytes.length}-byte file`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail("header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  const entries: Array<[string, SafetensorsDtype, number[], number, number]> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (value === null || typeof value !== 'object') fail(`tensor '${name}': entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') fail(`tensor '${name}': dtype missing`);
    if (!(dtype in DTYPE_BYTES)) fail(`tensor '${name}': dtype ${dtype} is not supported (F32, F16, BF16 and F64 are)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}': data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`tensor '${name}': data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataBytes) fail(`tensor '${name}': data_offsets [${begin}, ${end}] run past the ${dataBytes} bytes of data`);
    let elements = 1;
    for (const d of shape as number[]) {
      elements *= d;
      if (elements > dataBytes) fail(`tensor '${name}': shape ${JSON.stringify(shape)} is larger than the file`);
    }
    const size = DTYPE_BYTES[dtype as SafetensorsDtype];
    if (elements * size !== end - begin) {
      fail(`tensor '${name}': shape ${JSON.stringify(shape)} of ${dtype} needs ${elements * size} bytes, data_offsets give ${end - begin}`);
    }
    ranges.push([begin, end, name]);
    entries.push([name, dtype as SafetensorsDtype, shape as number[], begin, end]);
  }
  // The tensors must tile the data exactly: no overlap, no gap, nothing after the last.
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, name] of ranges) {
    if (begin < at) fail(`tensor '${name}': data_offsets [${begin}, ${end}] overlap the tensor before`);
    if (begin > at) fail(`bytes ${at} to ${begin} of the data belong to no tensor`);
    at = end;
  }
  if (at !== dataBytes) fail(`bytes ${at} to ${dataBytes} of the data belong to no tensor`);

  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, dtype, shape, begin, end] of entries) {
    const count = (end - begin) / DTYPE_BYTES[dtype];
    const data = new Float32Array(count);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') data[i] = dv.getFloat32(i * 4, true);
      else if (dtype === 'F64') data[i] = dv.getFloat64(i * 8, true);
      else if (dtype === 'F16') data[i] = halfToFloat(dv.getUint16(i * 2, true));
      else data[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0];
    }
    tensors[name] = { dtype, shape: [...shape], data };
  }
  return { tensors, metadata };
}

/**
 * Write tensors as safetensors, in the order given, with the header padded by spaces to a
 * multiple of 8 bytes (so the data is 8-byte aligned, as the reference writer does). F32 by
 * default; F16 and BF16 round each value to nearest, ties to even.
 *
 * @throws WebRnnError ('invalid-option') when a finite value rounds to ±Inf in the dtype (F16's
 *   largest is 65504), naming the tensor and the value.
 */
export function writeSafetensors(tensors: Readonly<Record<string, { shape: readonly number[]; data: Float32Array }>>, metadata?: Readonly<Record<string, string>>, dtype: SafetensorsWriteDtype = 'F32'): Uint8Array {
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new WebRnnError('invalid-option', `safetensors: dtype must be 'F32', 'F16' or 'BF16', got ${String(dtype)}`);
  const bytes = DTYPE_BYTES[dtype];
  const round = dtype === 'F16' ? floatToHalf : floatToBfloat16;
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new WebRnnError('invalid-option', 'safetensors: no tensor may be called __metadata__');
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new WebRnnError('shape', `safetensors: tensor '${name}' has ${t.data.length} elements, its shape ${JSON.stringify(t.shape)} says ${elements}`);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.length * bytes] };
    offset += t.data.length * bytes;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  while (encoder.encode(json).length % 8 !== 0) json += ' ';
  const headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [name, t] of Object.entries(tensors)) {
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === 'F32') {
        view.setFloat32(at + i * 4, t.data[i], true);
        continue;
      }
      const r = round(t.data[i]);
      // ±Inf in either dtype: exponent all ones, significand zero.
      const inf = dtype === 'F16' ? (r & 0x7fff) === 0x7c00 : (r & 0x7fff) === 0x7f80;
      if (inf && Number.isFinite(t.data[i])) throw new WebRnnError('invalid-option', `safetensors: tensor '${name}' holds ${t.data[i]} at index ${i}, beyond the range of ${dtype}`);
      view.setUint16(at + i * 2, r, true);
    }
    at += t.data.length * bytes;
  }
  return out;
}
