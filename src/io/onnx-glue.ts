/**
 * The glue of ONNX graphs that PyTorch's exporter writes around the recurrent nodes, run on
 * the CPU: Constant, Identity, Transpose, Squeeze/Unsqueeze, Reshape, Concat, Gather, Slice,
 * Gemm, MatMul, Add, and Shape, ConstantOfShape, Expand and Cast (the exporter's zero initial
 * states for a batch known only at run time). Each operator as the ONNX specification defines
 * it for the cases the exporter writes; anything else is refused by name.
 */
import { WebRnnError } from '../errors.js';
import { RECURRENT_OPS, type OnnxValue } from './onnx.js';
import { ONNX_DOUBLE, ONNX_FLOAT, ONNX_INT32, ONNX_INT64, tensorValues, type OnnxAttribute, type OnnxNode } from './onnx-proto.js';

/** The glue operators, run on the CPU. */
export const GLUE = new Set(['Constant', 'Identity', 'Transpose', 'Squeeze', 'Unsqueeze', 'Reshape', 'Concat', 'Gather', 'Slice', 'Gemm', 'MatMul', 'Add', 'Shape', 'ConstantOfShape', 'Expand', 'Cast']);
/** Whether a node is one of the recurrent operators, which run on the GPU. */
export const isRecurrent = (node: OnnxNode): boolean => node.opType in RECURRENT_OPS;

export function fail(node: OnnxNode, message: string): never {
  throw new WebRnnError('invalid-file', `onnx: ${node.opType} node '${node.name}': ${message}`);
}

export const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
const strides = (dims: readonly number[]): number[] => dims.map((_, i) => size(dims.slice(i + 1)));
const attr = (node: OnnxNode, name: string): OnnxAttribute | undefined => node.attribute.find((a) => a.name === name);

function same(v: OnnxValue, n: number): Float32Array | Float64Array | Int32Array {
  return v.data instanceof Float32Array ? new Float32Array(n) : v.data instanceof Int32Array ? new Int32Array(n) : new Float64Array(n);
}

function ints(v: OnnxValue | undefined, node: OnnxNode, what: string): number[] {
  if (!v) fail(node, `${what} missing`);
  return Array.from(v.data, Number);
}

function axisOf(a: number, rank: number, node: OnnxNode): number {
  const r = a < 0 ? a + rank : a;
  if (r < 0 || r >= rank) fail(node, `axis ${a} out of range for rank ${rank}`);
  return r;
}

function transpose(v: OnnxValue, perm: number[], node: OnnxNode): OnnxValue {
  if (perm.length !== v.dims.length || [...perm].sort().some((p, i) => p !== i)) fail(node, `perm ${JSON.stringify(perm)} for rank ${v.dims.length}`);
  const dims = perm.map((p) => v.dims[p]);
  const src = strides(v.dims);
  const out = same(v, v.data.length);
  const idx = new Array(dims.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let s = 0;
    for (let k = 0; k < dims.length; k++) s += idx[k] * src[perm[k]];
    out[o] = v.data[s];
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { dims, data: out };
}

/** C = A·B (+ C) for 2-D A [M, K], B [K, N]; with transposes and scaling as Gemm has them. */
function gemm(a: OnnxValue, b: OnnxValue, c: OnnxValue | undefined, node: OnnxNode, transA = 0, transB = 0, alpha = 1, beta = 1): OnnxValue {
  const [M, K] = transA ? [a.dims[a.dims.length - 1], a.dims[a.dims.length - 2]] : [a.dims[a.dims.length - 2], a.dims[a.dims.length - 1]];
  const [K2, N] = transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
  if (b.dims.length !== 2 || K !== K2) fail(node, `shapes [${a.dims}] and [${b.dims}] do not multiply`);
  const batch = size(a.dims.slice(0, -2));
  const out = new Float32Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = a.data[z * M * K + (transA ? k * M + m : m * K + k)];
          const bv = b.data[transB ? n * K + k : k * N + n];
          acc += av * bv;
        }
        out[(z * M + m) * N + n] = alpha * acc;
      }
    }
  }
  const result: OnnxValue = { dims: [...a.dims.slice(0, -2), M, N], data: out };
  return c ? add(result, { dims: c.dims, data: Float32Array.from(c.data, (x) => beta * x) }, node) : result;
}

/** Elementwise sum with numpy broadcasting. */
export function add(a: OnnxValue, b: OnnxValue, node: OnnxNode): OnnxValue {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: number[]): number[] => [...new Array(rank - d.length).fill(1), ...d];
  const [da, db] = [pad(a.dims), pad(b.dims)];
  const dims = da.map((x, i) => {
    if (x !== db[i] && x !== 1 && db[i] !== 1) fail(node, `shapes [${a.dims}] and [${b.dims}] do not broadcast`);
    return Math.max(x, db[i]);
  });
  const [sa, sb] = [strides(da), strides(db)];
  const out = new Float32Array(size(dims));
  const idx = new Array(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) {
      if (da[k] !== 1) ia += idx[k] * sa[k];
      if (db[k] !== 1) ib += idx[k] * sb[k];
    }
    out[o] = a.data[ia] + b.data[ib];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { dims, data: out };
}


/** Evaluate one glue node on the CPU. */
export function runGlue(node: OnnxNode, ins: ReadonlyArray<OnnxValue | undefined>): Array<OnnxValue | undefined> {
  const need = (k: number): OnnxValue => ins[k] ?? fail(node, `input ${k} missing`);
  switch (node.opType) {
    case 'Constant': {
      const t = attr(node, 'value')?.t;
      if (!t) fail(node, 'only the value attribute is supported');
      const v = tensorValues(t);
      return [{ dims: v.dims, data: v.values }];
    }
    case 'Identity':
      return [need(0)];
    case 'Transpose': {
      const v = need(0);
      const perm = attr(node, 'perm')?.ints.map(Number) ?? v.dims.map((_, i) => v.dims.length - 1 - i);
      return [transpose(v, perm, node)];
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const v = need(0);
      const axes = ins[1] ? ints(ins[1], node, 'axes') : (attr(node, 'axes')?.ints.map(Number) ?? []);
      if (node.opType === 'Squeeze') {
        const rank = v.dims.length;
        const drop = new Set((axes.length ? axes : v.dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => axisOf(a, rank, node)));
        for (const a of drop) if (v.dims[a] !== 1) fail(node, `axis ${a} has size ${v.dims[a]}, not 1`);
        return [{ dims: v.dims.filter((_, i) => !drop.has(i)), data: v.data }];
      }
      const rank = v.dims.length + axes.length;
      const add1 = new Set(axes.map((a) => axisOf(a, rank, node)));
      if (add1.size !== axes.length) fail(node, `repeated axes ${JSON.stringify(axes)}`);
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) dims.push(add1.has(i) ? 1 : v.dims[k++]);
      return [{ dims, data: v.data }];
    }
    case 'Reshape': {
      const v = need(0);
      const shape = ints(ins[1], node, 'shape');
      const dims = shape.map((d, i) => (d === 0 && !attr(node, 'allowzero')?.i ? v.dims[i] : d));
      if (dims.filter((d) => d === -1).length > 1) fail(node, `more than one -1 in ${JSON.stringify(shape)}`);
      const known = size(dims.filter((d) => d !== -1));
      const out = dims.map((d) => (d === -1 ? v.data.length / known : d));
      if (!out.every((d) => Number.isInteger(d) && d >= 0) || size(out) !== v.data.length) fail(node, `cannot reshape [${v.dims}] to ${JSON.stringify(shape)}`);
      return [{ dims: out, data: v.data }];
    }
    case 'Concat': {
      const parts = ins.filter((v): v is OnnxValue => v !== undefined);
      if (!parts.length) fail(node, 'no inputs');
      const rank = parts[0].dims.length;
      const axis = axisOf(Number(attr(node, 'axis')?.i ?? 0), rank, node);
      const outer = size(parts[0].dims.slice(0, axis));
      for (const p of parts) {
        if (p.dims.length !== rank || p.dims.some((d, i) => i !== axis && d !== parts[0].dims[i])) fail(node, 'inputs of different shapes');
      }
      const dims = [...parts[0].dims];
      dims[axis] = parts.reduce((n, p) => n + p.dims[axis], 0);
      const out = same(parts[0], size(dims));
      let at = 0;
      for (let o = 0; o < outer; o++) {
        for (const p of parts) {
          const block = size(p.dims.slice(axis));
          out.set(p.data.subarray(o * block, (o + 1) * block), at);
          at += block;
        }
      }
      return [{ dims, data: out }];
    }
    case 'Gather': {
      const v = need(0);
      const indices = ints(ins[1], node, 'indices');
      const axis = axisOf(Number(attr(node, 'axis')?.i ?? 0), v.dims.length, node);
      const n = v.dims[axis];
      const outer = size(v.dims.slice(0, axis));
      const inner = size(v.dims.slice(axis + 1));
      const out = same(v, outer * indices.length * inner);
      indices.forEach((raw, q) => {
        const i = raw < 0 ? raw + n : raw;
        if (i < 0 || i >= n) fail(node, `index ${raw} out of range for size ${n}`);
        for (let o = 0; o < outer; o++) out.set(v.data.subarray((o * n + i) * inner, (o * n + i + 1) * inner), (o * indices.length + q) * inner);
      });
      const dims = [...v.dims.slice(0, axis), ...need(1).dims, ...v.dims.slice(axis + 1)];
      return [{ dims, data: out }];
    }
    case 'Slice': {
      const v = need(0);
      const starts = ints(ins[1], node, 'starts');
      const ends = ints(ins[2], node, 'ends');
      const axes = ins[3] ? ints(ins[3], node, 'axes') : starts.map((_, i) => i);
      const steps = ins[4] ? ints(ins[4], node, 'steps') : starts.map(() => 1);
      if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) fail(node, 'starts, ends, axes and steps of different lengths');
      let cur = v;
      axes.forEach((rawAxis, k) => {
        const axis = axisOf(rawAxis, cur.dims.length, node);
        const n = cur.dims[axis];
        if (steps[k] !== 1) fail(node, `step ${steps[k]} (only 1)`);
        const clampTo = (x: number): number => Math.min(n, Math.max(0, x < 0 ? x + n : x));
        const [s0, e0] = [clampTo(starts[k]), clampTo(ends[k])];
        const len = Math.max(0, e0 - s0);
        const outer = size(cur.dims.slice(0, axis));
        const inner = size(cur.dims.slice(axis + 1));
        const out = same(cur, outer * len * inner);
        for (let o = 0; o < outer; o++) out.set(cur.data.subarray((o * n + s0) * inner, (o * n + s0 + len) * inner), o * len * inner);
        const dims = [...cur.dims];
        dims[axis] = len;
        cur = { dims, data: out };
      });
      return [cur];
    }
    case 'Gemm':
      return [gemm(need(0), need(1), ins[2], node, Number(attr(node, 'transA')?.i ?? 0), Number(attr(node, 'transB')?.i ?? 0), attr(node, 'alpha')?.f ?? 1, attr(node, 'beta')?.f ?? 1)];
    case 'MatMul':
      return [gemm(need(0), need(1), undefined, node)];
    case 'Add':
      return [add(need(0), need(1), node)];
    case 'Shape': {
      // Opset 15's start and end, clamped as Slice clamps them.
      const rank = need(0).dims.length;
      const clampTo = (x: number): number => Math.min(rank, Math.max(0, x < 0 ? x + rank : x));
      const s0 = clampTo(Number(attr(node, 'start')?.i ?? 0));
      const e0 = attr(node, 'end') ? clampTo(Number(attr(node, 'end')!.i)) : rank;
      const dims = need(0).dims.slice(s0, Math.max(s0, e0));
      return [{ dims: [dims.length], data: Float64Array.from(dims) }];
    }
    case 'ConstantOfShape': {
      const dims = ints(ins[0], node, 'shape');
      if (dims.some((d) => !Number.isSafeInteger(d) || d < 0) || size(dims) > 2 ** 28) fail(node, `shape ${JSON.stringify(dims)}`);
      const t = attr(node, 'value')?.t;
      const fill = t ? tensorValues(t) : { dims: [1], values: new Float32Array(1) };
      if (fill.values.length !== 1) fail(node, 'a value with more than one element');
      const out = fill.values instanceof Float32Array ? new Float32Array(size(dims)) : fill.values instanceof Int32Array ? new Int32Array(size(dims)) : new Float64Array(size(dims));
      out.fill(fill.values[0]);
      return [{ dims, data: out }];
    }
    case 'Expand': {
      const v = need(0);
      const shape = ints(ins[1], node, 'shape');
      if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(node, `shape ${JSON.stringify(shape)}`);
      // Numpy broadcasting of v against a tensor of `shape` (ones are stretched either way).
      const rank = Math.max(v.dims.length, shape.length);
      const padded = [...new Array(rank - v.dims.length).fill(1), ...v.dims];
      const target = [...new Array(rank - shape.length).fill(1), ...shape];
      const dims = padded.map((d, i) => {
        if (d !== target[i] && d !== 1 && target[i] !== 1) fail(node, `[${v.dims}] does not broadcast to ${JSON.stringify(shape)}`);
        return d === 1 ? target[i] : d;
      });
      if (size(dims) > 2 ** 28) fail(node, `shape ${JSON.stringify(shape)}`);
      return [broadcast(v, dims)];
    }
    case 'Cast': {
      const v = need(0);
      const to = Number(attr(node, 'to')?.i ?? 0);
      if (to === ONNX_FLOAT) return [{ dims: v.dims, data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data) }];
      // Integers: truncation toward zero, as a C cast does.
      if (to === ONNX_INT32 || to === ONNX_INT64) return [{ dims: v.dims, data: Float64Array.from(v.data, Math.trunc) }];
      // Doubles are carried as float32, the precision every node here computes in.
      if (to === ONNX_DOUBLE) return [{ dims: v.dims, data: Float32Array.from(v.data) }];
      fail(node, `cast to data type ${to}`);
    }
    // falls through: fail() never returns
    default:
      fail(node, 'not a glue operator');
  }
}

/** `v` broadcast to `dims` (same rank or lower; numpy rules, already checked). */
function broadcast(v: OnnxValue, dims: number[]): OnnxValue {
  const rank = dims.length;
  const vd = [...new Array(rank - v.dims.length).fill(1), ...v.dims];
  const vs = strides(vd);
  const out = same(v, size(dims));
  const idx = new Array(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let i = 0;
    for (let k = 0; k < rank; k++) if (vd[k] !== 1) i += idx[k] * vs[k];
    out[o] = v.data[i];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { dims, data: out };
}

/**
 * A loaded ONNX model: `run` for the whole graph in ONNX's names and shapes, `forward` for its
 * recurrent layers with PyTorch's conventions. Made by `engine.load` or `engine.loadOnnx`.
 */
