/** safetensors reading and writing, and every malformed-file error. */
import { describe, expect, it } from 'vitest';
import { WebRnnError } from '../../src/errors.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { floatToBfloat16, floatToHalf } from '../../src/spec/half.js';
import { randomFloats } from '../helpers/gpu.js';
import { testRandom } from '../helpers/seed.js';

const { rng } = testRandom('safetensors');

/** A file with a hand-written header and raw data bytes. */
export function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const text = headerText ?? JSON.stringify(header);
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function expectFileError(bytes: Uint8Array, message: RegExp): void {
  let error: unknown;
  try {
    readSafetensors(bytes);
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${message}`).toBeInstanceOf(WebRnnError);
  expect((error as WebRnnError).code).toBe('invalid-file');
  expect((error as Error).message).toMatch(message);
}

describe('safetensors', () => {
  it('writes and reads back bit-identically, with metadata, 8-byte aligned data', () => {
    const tensors = {
      'lstm.weight_ih_l0': { shape: [8, 3], data: randomFloats(rng, 24) },
      scalar: { shape: [], data: new Float32Array([Math.PI]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
      odd: { shape: [7], data: Float32Array.from([NaN, -0, Infinity, 1e-45, -3.5, 2 ** 100, 7]) },
    };
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt' });
    for (const [name, t] of Object.entries(tensors)) {
      expect(back.tensors[name].shape).toEqual(t.shape);
      expect(back.tensors[name].dtype).toBe('F32');
      expect(new Uint32Array(back.tensors[name].data.buffer)).toEqual(new Uint32Array(t.data.buffer));
    }
  });

  it('reads F16, BF16 and F64 into float32', () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555]);
    const bf16 = new Uint16Array([0x3f80, 0x4049, 0xbf00, 0x7f80]);
    const f64 = new Float64Array([0.1, -1e300, 2.5]);
    const data = new Uint8Array(f16.byteLength + bf16.byteLength + f64.byteLength);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(bf16.buffer), 14);
    data.set(new Uint8Array(f64.buffer), 22);
    const file = readSafetensors(
      rawFile(
        {
          h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] },
          b: { dtype: 'BF16', shape: [2, 2], data_offsets: [14, 22] },
          d: { dtype: 'F64', shape: [3], data_offsets: [22, 46] },
        },
        data,
      ),
    );
    expect(Array.from(file.tensors.h.data)).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity, Math.fround(0.333251953125)]);
    expect(Array.from(file.tensors.b.data)).toEqual([1, 3.140625, -0.5, Infinity]);
    expect(Array.from(file.tensors.d.data)).toEqual([Math.fround(0.1), -Infinity, 2.5]);
  });

  // Bit patterns from IEEE 754 binary16 and bfloat16: 1 = 0x3c00, 65504 the largest half, 2^-24
  // the smallest subnormal, 2^-14 the smallest normal; halfway cases go to the even neighbour.
  it('rounds float to half to nearest, ties to even, over the whole range', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [-1e6, 0xfc00],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -24, 0x0002], [2.5 * 2 ** -24, 0x0002], [2 ** -26, 0x0000],
      [2 ** -14, 0x0400], [2 ** -14 - 2 ** -24, 0x03ff], [1 / 3, 0x3555], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
      [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00],
    ];
    for (const [v, bits] of cases) expect(floatToHalf(v).toString(16), String(v)).toBe(bits.toString(16));
    expect(floatToHalf(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalf(NaN) & 0x3ff).not.toBe(0);
    // Every half (NaNs aside) survives half -> float -> half; the reader's conversion is checked above.
    const one = new Uint16Array(1);
    const file = (bits: Uint16Array): Float32Array => readSafetensors(rawFile({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.byteLength] } }, new Uint8Array(bits.buffer))).tensors.h.data;
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0);
    const floats = file(all);
    for (let i = 0; i < all.length; i++) if (floatToHalf(floats[i]) !== all[i]) expect(floatToHalf(floats[i]).toString(16), `half 0x${all[i].toString(16)}`).toBe(all[i].toString(16));
    // Random floats in range land on a neighbour at least as close as the other one.
    for (let i = 0; i < 2000; i++) {
      const v = rng.range(-1, 1) * 2 ** Math.floor(rng.range(-24, 16));
      const h = floatToHalf(v);
      one[0] = h;
      const back = file(one)[0];
      one[0] = Math.abs(v) > Math.abs(back) ? h + 1 : Math.max(h - 1, h & 0x8000);
      const other = file(one)[0];
      expect(Math.abs(Math.fround(v) - back), `${v}: ${back} vs ${other}`).toBeLessThanOrEqual(Math.abs(Math.fround(v) - other));
    }
  });

  it('rounds float to bfloat16 to nearest, ties to even', () => {
    const cases: Array<[number, number]> = [[1, 0x3f80], [Math.PI, 0x4049], [-0.5, 0xbf00], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [1 + 2 ** -8 + 2 ** -20, 0x3f81], [Infinity, 0x7f80], [3.4e38, 0x7f80], [-0, 0x8000]];
    for (const [v, bits] of cases) expect(floatToBfloat16(v).toString(16), String(v)).toBe(bits.toString(16));
    expect(floatToBfloat16(NaN) & 0x7f80).toBe(0x7f80);
    expect(floatToBfloat16(NaN) & 0x7f).not.toBe(0);
  });

  it('writes F16 and BF16 files that read back as the rounded values, and refuses values out of range', () => {
    const tensors = { w: { shape: [3, 5], data: randomFloats(rng, 15) }, b: { shape: [3], data: Float32Array.from([1e-9, -70000 / 2, 0.1]) } };
    for (const dtype of ['F16', 'BF16'] as const) {
      const bytes = writeSafetensors(tensors, { format: 'pt' }, dtype);
      const back = readSafetensors(bytes);
      expect(back.metadata).toEqual({ format: 'pt' });
      expect(bytes.length).toBe(8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)) + 18 * 2);
      const round = dtype === 'F16' ? floatToHalf : floatToBfloat16;
      for (const [name, t] of Object.entries(tensors)) {
        expect(back.tensors[name].dtype).toBe(dtype);
        expect(back.tensors[name].shape).toEqual(t.shape);
        expect(Array.from(back.tensors[name].data, round), name).toEqual(Array.from(t.data, round));
        for (let i = 0; i < t.data.length; i++) expect(Math.abs(back.tensors[name].data[i] - t.data[i])).toBeLessThanOrEqual(Math.abs(t.data[i]) * (dtype === 'F16' ? 2 ** -11 : 2 ** -8) + (dtype === 'F16' ? 2 ** -25 : 0));
      }
    }
    expect(() => writeSafetensors({ big: { shape: [2], data: Float32Array.from([1, 70000]) } }, undefined, 'F16')).toThrow(/tensor 'big' holds 70000 at index 1, beyond the range of F16/);
    expect(() => writeSafetensors(tensors, undefined, 'F64' as 'F32')).toThrow(/dtype must be 'F32', 'F16' or 'BF16'/);
  });

  it('refuses malformed files with a message naming the fault', () => {
    const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const data8 = new Uint8Array(8);
    expectFileError(new Uint8Array(5), /shorter than the 8-byte header length/);
    expectFileError(rawFile(good, data8).subarray(0, 20), /runs past the end/);
    expectFileError(rawFile(good, data8).subarray(0, 30), /runs past the end|data_offsets/);
    expectFileError(rawFile(null, data8, '{"a": '), /not valid JSON/);
    expectFileError(rawFile(null, data8, '[1, 2]'), /does not start with/);
    expectFileError(rawFile({ a: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, data8), /dtype I32 is not supported/);
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data8), /needs 12 bytes, data_offsets give 8/);
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 16] } }, data8), /run past the 8 bytes of data/);
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, data8), /end before they begin/);
    expectFileError(
      rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data8),
      /overlap/,
    );
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data8), /bytes 0 to 4 of the data belong to no tensor/);
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data8), /bytes 4 to 8 of the data belong to no tensor/);
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, data8), /larger than the file/);
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data8), /shape \[-2\]/);
    expectFileError(rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, data8), /is not \[begin, end\]/);
    expectFileError(rawFile({ a: 3 }, data8), /entry is not an object/);
    expectFileError(rawFile({ __metadata__: { k: 1 }, ...good }, data8), /__metadata__.k is not a string/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 62n, true);
    expectFileError(huge, /exceeds the .*-byte limit/);
    const badUtf8 = rawFile(good, data8);
    badUtf8[9] = 0xff;
    expectFileError(badUtf8, /not valid UTF-8/);
  });

  it('refuses to write mismatched shapes', () => {
    expect(() => writeSafetensors({ a: { shape: [3], data: new Float32Array(2) } })).toThrow(/has 2 elements, its shape \[3\] says 3/);
  });
});
