/**
 * Running whole ONNX graphs: the recurrent nodes on the GPU (onnx.ts) and the glue that
 * PyTorch's exporter writes around them on the CPU — Constant, Identity, Transpose,
 * Squeeze/Unsqueeze, Reshape, Concat, Gather, Slice, Gemm, MatMul, Add — in topological order.
 * Any other operator is refused by name when the model is loaded.
 */
import { WebRnnError } from '../errors.js';
import type { Engine } from '../engine.js';
import { OnnxRecurrentModel } from './onnx.js';
import { decodeModel, tensorValues, type OnnxAttribute, type OnnxGraph, type OnnxNode } from './onnx-proto.js';

/** A value of the graph: dims and data (floats as Float32Array, integers as Float64Array). */
export interface OnnxValue {
  dims: number[];
  data: Float32Array | Float64Array | Int32Array;
}

const RECURRENT = new Set(['RNN', 'LSTM', 'GRU']);
const GLUE = new Set(['Constant', 'Identity', 'Transpose', 'Squeeze', 'Unsqueeze', 'Reshape', 'Concat', 'Gather', 'Slice', 'Gemm', 'MatMul', 'Add']);

function fail(node: OnnxNode, message: string): never {
  throw new WebRnnError('invalid-file', `onnx: ${node.opType} node '${node.name}': ${message}`);
}

const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
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
function add(a: OnnxValue, b: OnnxValue, node: OnnxNode): OnnxValue {
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

/** A loaded ONNX graph: recurrent nodes on the GPU, glue on the CPU. */
export class OnnxGraphModel {
  /** Names of the graph inputs the caller feeds, and of the graph outputs. */
  readonly inputNames: string[];
  readonly outputNames: string[];
  private readonly constants = new Map<string, OnnxValue>();
  private readonly recurrent = new Map<OnnxNode, OnnxRecurrentModel>();

  constructor(
    private readonly engine: Engine,
    private readonly graph: OnnxGraph,
  ) {
    for (const t of graph.initializer) {
      const v = tensorValues(t);
      this.constants.set(t.name, { dims: v.dims, data: v.values });
    }
    this.inputNames = graph.input.map((i) => i.name).filter((n) => !this.constants.has(n));
    this.outputNames = graph.output.map((o) => o.name);
    for (const node of graph.node) {
      if (node.domain && node.domain !== 'ai.onnx') fail(node, `domain '${node.domain}' is not supported`);
      if (RECURRENT.has(node.opType)) continue;
      if (!GLUE.has(node.opType)) throw new WebRnnError('invalid-file', `onnx: operator ${node.opType} (node '${node.name}') is not supported`);
    }
    if (!graph.node.some((n) => RECURRENT.has(n.opType))) throw new WebRnnError('invalid-file', 'onnx: the graph has no RNN, LSTM or GRU node');
  }

  /** Run the graph on `feeds` (values with their dims); returns every graph output. */
  async run(feeds: Record<string, OnnxValue>): Promise<Record<string, OnnxValue>> {
    const values = new Map(this.constants);
    for (const name of this.inputNames) {
      const v = feeds[name];
      if (!v) throw new WebRnnError('invalid-option', `onnx run: input '${name}' missing`);
      if (size(v.dims) !== v.data.length) throw new WebRnnError('shape', `onnx run: input '${name}' has ${v.data.length} values, dims [${v.dims}] need ${size(v.dims)}`);
      values.set(name, v);
    }
    for (const name of Object.keys(feeds)) if (!this.inputNames.includes(name)) throw new WebRnnError('invalid-option', `onnx run: '${name}' is not an input of the graph`);
    // Topological order: run any node whose inputs are all known, until none is left.
    const pending = [...this.graph.node];
    while (pending.length) {
      const i = pending.findIndex((n) => n.input.every((x) => x === '' || values.has(x)));
      if (i < 0) throw new WebRnnError('invalid-file', `onnx: node '${pending[0].name}' waits for inputs no node produces`);
      const [node] = pending.splice(i, 1);
      const outs = await this.runNode(node, node.input.map((x) => (x === '' ? undefined : values.get(x))));
      node.output.forEach((name, k) => {
        if (name && outs[k]) values.set(name, outs[k]!);
      });
    }
    const result: Record<string, OnnxValue> = {};
    for (const name of this.outputNames) {
      const v = values.get(name);
      if (!v) throw new WebRnnError('invalid-file', `onnx: graph output '${name}' is never produced`);
      result[name] = v;
    }
    return result;
  }

  private async runNode(node: OnnxNode, ins: Array<OnnxValue | undefined>): Promise<Array<OnnxValue | undefined>> {
    const x = ins[0];
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
        const dims: number[] = [];
        let k = 0;
        for (let i = 0; i < rank; i++) dims.push(add1.has(i) ? 1 : v.dims[k++]);
        return [{ dims, data: v.data }];
      }
      case 'Reshape': {
        const v = need(0);
        const shape = ints(ins[1], node, 'shape');
        const dims = shape.map((d, i) => (d === 0 && !attr(node, 'allowzero')?.i ? v.dims[i] : d));
        const known = size(dims.filter((d) => d !== -1));
        const out = dims.map((d) => (d === -1 ? v.data.length / known : d));
        if (!out.every((d) => Number.isInteger(d) && d >= 0) || size(out) !== v.data.length) fail(node, `cannot reshape [${v.dims}] to ${JSON.stringify(shape)}`);
        return [{ dims: out, data: v.data }];
      }
      case 'Concat': {
        const parts = ins.filter((v): v is OnnxValue => v !== undefined);
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
      default:
        return this.runRecurrent(node, ins, x);
    }
  }

  private async runRecurrent(node: OnnxNode, ins: Array<OnnxValue | undefined>, x: OnnxValue | undefined): Promise<Array<OnnxValue | undefined>> {
    if (!x || x.dims.length !== 3) fail(node, 'X must be 3-D');
    let model = this.recurrent.get(node);
    if (!model) {
      // The node's own inputs are all fed: its weights are values of this graph.
      model = new OnnxRecurrentModel(this.engine, node, new Map(), node.input.filter((n) => n !== ''));
      this.recurrent.set(node, model);
    }
    model.setBatch(model.layout === 1 ? x.dims[0] : x.dims[1]);
    const feeds: Record<string, Float32Array | Int32Array> = {};
    node.input.forEach((name, k) => {
      const v = ins[k];
      if (name && v) feeds[name] = v.data instanceof Int32Array || v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
    });
    const out = await model.run(feeds);
    const T = model.layout === 1 ? x.dims[1] : x.dims[0];
    const B = model.layout === 1 ? x.dims[0] : x.dims[1];
    const D = model.direction === 'bidirectional' ? 2 : 1;
    const H = model.hiddenSize;
    const yDims = model.layout === 1 ? [B, T, D, H] : [T, D, B, H];
    const sDims = model.layout === 1 ? [B, D, H] : [D, B, H];
    return node.output.map((name, k) => (name && out[name] ? { dims: k === 0 ? yDims : sDims, data: out[name] } : undefined));
  }

  destroy(): void {
    for (const m of this.recurrent.values()) m.destroy();
    this.recurrent.clear();
  }
}

/** Parse an ONNX model into a graph runner. */
export function importOnnxGraph(engine: Engine, bytes: Uint8Array): OnnxGraphModel {
  const model = decodeModel(bytes);
  if (!model.graph) throw new WebRnnError('invalid-file', 'onnx: the model has no graph');
  return new OnnxGraphModel(engine, model.graph);
}
