/**
 * ONNX models: a whole graph as PyTorch's exporter writes it, the recurrent nodes (RNN, LSTM,
 * GRU; onnx.ts) on the GPU and the glue around them on the CPU (onnx-glue.ts). Any other
 * operator is refused by name when the model is loaded. Glue whose inputs are all constants
 * is evaluated once, at load.
 *
 * `run` takes and returns graph values by their ONNX names, in ONNX shapes. `forward` runs the
 * recurrent nodes alone as one webrnn model with PyTorch's conventions, where they form a stack
 * (see {@link OnnxModel.recurrentModel}).
 */
import { ShapeError, WebRnnError } from '../errors.js';
import type { ForwardOptions, ForwardOutput, RecurrentModel } from '../model/recurrent-model.js';
import { add, fail, GLUE, isRecurrent, runGlue, size } from './onnx-glue.js';
import { nodeModelOptions, nodeStateDict, parseRecurrentNode, RecurrentNodeRunner, type ModelFactory, type OnnxValue, type RecurrentNodeConfig } from './onnx.js';
import { decodeModel, ONNX_DOUBLE, ONNX_FLOAT, tensorValues, type OnnxGraph, type OnnxNode } from './onnx-proto.js';

export type { OnnxValue } from './onnx.js';

/** What `run` accepts for an input: a value with its dims, or flat data shaped by the graph's declared dims. */
export type OnnxFeed = OnnxValue | Float32Array | Int32Array | BigInt64Array | Float64Array | number[];

/** A graph input as the file declares it: dims are numbers, symbolic names, or null where unknown. */
export interface OnnxInputInfo {
  name: string;
  dims: Array<number | string | null> | null;
  /** ONNX element type (1 float, 6 int32, 7 int64, 11 double). */
  elemType: number;
}

export class OnnxModel {
  /** The graph inputs the caller feeds (initializers excluded), with their declared dims. */
  readonly inputs: readonly OnnxInputInfo[];
  /** Names of the graph inputs the caller feeds, and of the graph outputs. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Values known at load: initializers, and glue evaluated from them. */
  private readonly constants = new Map<string, OnnxValue>();
  /** The nodes left to run per call, in topological order. */
  private readonly nodes: OnnxNode[];
  private readonly runners = new Map<OnnxNode, RecurrentNodeRunner>();
  private stack: RecurrentModel | null = null;
  private destroyed = false;

  constructor(
    private readonly engine: ModelFactory,
    graph: OnnxGraph,
  ) {
    for (const t of graph.initializer) {
      const v = tensorValues(t);
      this.constants.set(t.name, { dims: v.dims, data: v.values });
    }
    this.inputs = graph.input
      .filter((i) => !this.constants.has(i.name))
      .map((i) => {
        const t = i.type?.tensorType;
        const dims = t?.shape ? t.shape.dim.map((d) => (d.dimValue ? Number(d.dimValue) : d.dimParam ? d.dimParam : null)) : null;
        return { name: i.name, dims, elemType: t?.elemType ?? ONNX_FLOAT };
      });
    this.inputNames = this.inputs.map((i) => i.name);
    this.outputNames = graph.output.map((o) => o.name);
    for (const node of graph.node) {
      if (node.domain && node.domain !== 'ai.onnx') fail(node, `domain '${node.domain}' is not supported`);
      if (isRecurrent(node)) this.runners.set(node, new RecurrentNodeRunner(engine, parseRecurrentNode(node)));
      else if (!GLUE.has(node.opType)) throw new WebRnnError('invalid-file', `onnx: operator ${node.opType} (node '${node.name}') is not supported`);
    }
    if (!this.runners.size) throw new WebRnnError('invalid-file', 'onnx: the graph has no RNN, LSTM or GRU node');
    // Topological order from what is known before any input arrives; glue whose inputs are
    // all constants is evaluated now, once.
    const known = new Set<string>([...this.constants.keys(), ...this.inputNames]);
    const pending = [...graph.node];
    this.nodes = [];
    while (pending.length) {
      const i = pending.findIndex((n) => n.input.every((x) => x === '' || known.has(x)));
      if (i < 0) throw new WebRnnError('invalid-file', `onnx: node '${pending[0].name}' waits for inputs no node produces`);
      const [node] = pending.splice(i, 1);
      for (const name of node.output) if (name) known.add(name);
      if (!isRecurrent(node) && node.input.every((x) => x === '' || this.constants.has(x))) {
        const outs = runGlue(node, node.input.map((x) => (x === '' ? undefined : this.constants.get(x))));
        node.output.forEach((name, k) => {
          if (name && outs[k]) this.constants.set(name, outs[k]!);
        });
      } else this.nodes.push(node);
    }
    for (const name of this.outputNames) if (!known.has(name)) throw new WebRnnError('invalid-file', `onnx: graph output '${name}' is never produced`);
  }

  /**
   * Run the graph. Each input is `{ dims, data }`, or flat data shaped by the graph's declared
   * dims (a symbolic or unknown dim is inferred when it is the only one left, and a symbolic
   * name keeps its value across inputs). Returns every graph output as `{ dims, data }`.
   */
  async run(feeds: Record<string, OnnxFeed>): Promise<Record<string, OnnxValue>> {
    this.assertAlive('run');
    if (feeds === null || typeof feeds !== 'object') throw new WebRnnError('invalid-option', 'onnx run: feeds { name: value } expected');
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) throw new WebRnnError('invalid-option', `onnx run: '${name}' is not an input of the graph (inputs: ${this.inputNames.join(', ')})`);
    }
    const values = new Map(this.constants);
    for (const [name, v] of this.shapeFeeds(feeds)) values.set(name, v);
    for (const node of this.nodes) {
      const ins = node.input.map((x) => (x === '' ? undefined : values.get(x)));
      const outs = isRecurrent(node) ? await this.runners.get(node)!.run(ins) : runGlue(node, ins);
      this.assertAlive('run');
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

  /** Give every feed its dims and the element type its input declares. */
  private shapeFeeds(feeds: Record<string, OnnxFeed>): Map<string, OnnxValue> {
    const out = new Map<string, OnnxValue>();
    const symbols = new Map<string, number>();
    const bind = (info: OnnxInputInfo, dims: number[]): void => {
      if (!info.dims) return;
      if (info.dims.length !== dims.length) throw new ShapeError(`input '${info.name}'`, info.dims.map((d) => (typeof d === 'number' ? d : 0)), dims, `declared [${info.dims.map((d) => d ?? '?')}]`);
      info.dims.forEach((d, k) => {
        const declared = typeof d === 'string' ? symbols.get(d) : d;
        if (typeof declared === 'number' && declared !== dims[k]) {
          throw new ShapeError(`input '${info.name}'`, info.dims!.map((x) => (typeof x === 'number' ? x : typeof x === 'string' ? (symbols.get(x) ?? 0) : 0)), dims, `dim ${k} is ${typeof d === 'string' ? `'${d}' = ${declared}` : declared}`);
        }
        if (typeof d === 'string') symbols.set(d, dims[k]);
      });
    };
    const convert = (info: OnnxInputInfo, data: Exclude<OnnxFeed, OnnxValue>): OnnxValue['data'] => {
      const float = info.elemType === ONNX_FLOAT || info.elemType === ONNX_DOUBLE;
      if (data instanceof Float32Array) return float ? data : Float64Array.from(data);
      if (data instanceof Int32Array) return float ? Float32Array.from(data) : data;
      const numbers = data instanceof BigInt64Array ? Float64Array.from(data, Number) : Float64Array.from(data as ArrayLike<number>);
      if (float) return Float32Array.from(numbers);
      for (let i = 0; i < numbers.length; i++) if (!Number.isInteger(numbers[i])) throw new WebRnnError('invalid-option', `onnx run: input '${info.name}' holds integers; element ${i} is ${numbers[i]}`);
      return numbers;
    };
    const flat: Array<[OnnxInputInfo, Exclude<OnnxFeed, OnnxValue>]> = [];
    for (const info of this.inputs) {
      const v = feeds[info.name];
      if (v === undefined) continue;
      if (ArrayBuffer.isView(v) || Array.isArray(v)) {
        flat.push([info, v as Exclude<OnnxFeed, OnnxValue>]);
        continue;
      }
      const value = v as OnnxValue;
      if (!Array.isArray(value.dims) || !ArrayBuffer.isView(value.data)) throw new WebRnnError('invalid-option', `onnx run: input '${info.name}' must be { dims, data } or a typed array`);
      if (value.dims.some((d) => !Number.isSafeInteger(d) || d < 0) || size(value.dims) !== value.data.length) {
        throw new WebRnnError('shape', `onnx run: input '${info.name}' has ${value.data.length} values, dims [${value.dims}] need ${size(value.dims)}`);
      }
      bind(info, value.dims);
      out.set(info.name, { dims: [...value.dims], data: convert(info, value.data as Exclude<OnnxFeed, OnnxValue>) });
    }
    // Flat feeds: substitute what is known; one unknown dim left is inferred from the length.
    let progress = true;
    while (flat.length && progress) {
      progress = false;
      for (let i = 0; i < flat.length; i++) {
        const [info, data] = flat[i];
        if (!info.dims) throw new WebRnnError('invalid-option', `onnx run: input '${info.name}' declares no shape; pass { dims, data }`);
        const dims = info.dims.map((d) => (typeof d === 'number' ? d : typeof d === 'string' ? (symbols.get(d) ?? -1) : -1));
        const unknown = dims.filter((d) => d === -1).length;
        if (unknown > 1) continue;
        if (unknown === 1) {
          const rest = size(dims.filter((d) => d !== -1));
          const inferred = rest > 0 ? data.length / rest : -1;
          if (!Number.isInteger(inferred) || inferred < 1) throw new WebRnnError('shape', `onnx run: input '${info.name}' has ${data.length} values, which do not fill its declared dims [${info.dims.map((d) => d ?? '?')}]`);
          dims[dims.indexOf(-1)] = inferred;
        }
        if (size(dims) !== data.length) throw new ShapeError(`input '${info.name}'`, dims, [data.length]);
        bind(info, dims);
        out.set(info.name, { dims, data: convert(info, data) });
        flat.splice(i--, 1);
        progress = true;
      }
    }
    if (flat.length) {
      const [info] = flat[0];
      throw new WebRnnError('invalid-option', `onnx run: the dims of input '${info.name}' (declared [${info.dims!.map((d) => d ?? '?')}]) cannot be told from its length; pass { dims, data }`);
    }
    for (const info of this.inputs) if (!out.has(info.name) && this.isNeeded(info.name)) throw new WebRnnError('invalid-option', `onnx run: input '${info.name}' missing`);
    return out;
  }

  /** Whether a graph input feeds any node or output (an unused declared input may be left out). */
  private isNeeded(name: string): boolean {
    return this.outputNames.includes(name) || this.nodes.some((n) => n.input.includes(name));
  }

  /**
   * The recurrent nodes as one webrnn model (built on first use, owned by this ONNX model):
   * possible where they form a stack, as PyTorch exports an `nn.RNN`, `nn.LSTM` or `nn.GRU` of
   * several layers: the same operator and attributes on every node (direction forward or
   * bidirectional), weights that are constants of the file, initial states that are not
   * non-zero constants, and each node after the first reading exactly the previous node's Y
   * laid out as [T, B, D·H] ([B, T, D·H] for layout 1) by the glue between them (checked by
   * running that glue on a probe). Otherwise an error says which condition fails.
   */
  recurrentModel(): RecurrentModel {
    this.assertAlive('recurrentModel');
    this.stack ??= this.buildStack();
    return this.stack;
  }

  /**
   * Run the recurrent layers with webrnn's conventions, as `forward` of a built model: x
   * [T, B, I] ([B, T, I] for ONNX layout 1), output [T, B, D·H] of the last layer, hN and cN
   * [L·D, B, H]. The glue around the stack (a read-out, say) is not applied; `run` applies it.
   */
  async forward(x: Float32Array, options: ForwardOptions): Promise<ForwardOutput> {
    return this.recurrentModel().forward(x, options);
  }

  private buildStack(): RecurrentModel {
    const chain = this.nodes.filter(isRecurrent);
    const configs = chain.map((n) => this.runners.get(n)!.config);
    const first = configs[0];
    const why = (reason: string): never => {
      throw new WebRnnError('invalid-option', `onnx: the recurrent nodes do not form one stack that forward can run (${reason}); use run`);
    };
    const signature = (c: RecurrentNodeConfig): string => JSON.stringify([c.kind, c.hiddenSize, c.direction, c.layout, c.linearBeforeReset, c.cell]);
    for (const c of configs) if (signature(c) !== signature(first)) why(`node '${c.node.name}' differs from '${first.node.name}' in operator or attributes`);
    if (first.direction === 'reverse') why("direction 'reverse'");
    const dict: Record<string, Float32Array> = {};
    let inputSize = 0;
    const peepholes = first.node.input[7] ? true : false;
    configs.forEach((c, l) => {
      const [, W, R, B, , h0, c0, P] = c.node.input;
      const constant = (name: string | undefined, what: string): OnnxValue | undefined => {
        if (!name) return undefined;
        return this.constants.get(name) ?? why(`${what} of '${c.node.name}' is not a constant of the file`);
      };
      for (const [name, what] of [[h0, 'initial_h'], [c0, 'initial_c']] as const) {
        const v = name ? this.constants.get(name) : undefined;
        if (v && v.data.some((e) => e !== 0)) why(`${what} of '${c.node.name}' is a non-zero constant`);
      }
      if (Boolean(P) !== peepholes) why('peepholes on some nodes only');
      const part = nodeStateDict(c, l, constant(W, 'W')!, constant(R, 'R')!, constant(B, 'B'), constant(P, 'P'));
      if (l === 0) inputSize = part.inputSize;
      else if (part.inputSize !== c.directions * c.hiddenSize) why(`'${c.node.name}' takes ${part.inputSize} inputs, not the ${c.directions * c.hiddenSize} of the layer below`);
      Object.assign(dict, part.dict);
      if (l > 0 && !this.feedsNext(configs[l - 1], c)) why(`the X of '${c.node.name}' is not the Y of '${configs[l - 1].node.name}' as [T, B, D·H]`);
    });
    const model = this.engine[first.kind](nodeModelOptions(first, inputSize, configs.length, peepholes));
    try {
      model.loadStateDict(dict);
    } catch (e) {
      model.destroy();
      throw e;
    }
    return model;
  }

  /**
   * Whether `next` reads `prev`'s Y reshaped to [T, B, D·H] (or [B, T, D·H]): run the glue on a
   * probe Y of distinct values (T = 3, B = 2) and compare with that arrangement.
   */
  private feedsNext(prev: RecurrentNodeConfig, next: RecurrentNodeConfig): boolean {
    const [T, B, D, H] = [3, 2, prev.directions, prev.hiddenSize];
    const yName = prev.node.output[0];
    if (!yName) return false;
    const n = T * B * D * H;
    const probe: OnnxValue = { dims: prev.layout === 1 ? [B, T, D, H] : [T, D, B, H], data: Float32Array.from({ length: n }, (_, i) => i + 1) };
    const values = new Map(this.constants);
    values.set(yName, probe);
    for (const node of this.nodes) {
      if (isRecurrent(node) || !node.input.every((x) => x === '' || values.has(x))) continue;
      try {
        const outs = runGlue(node, node.input.map((x) => (x === '' ? undefined : values.get(x))));
        node.output.forEach((name, k) => {
          if (name && outs[k]) values.set(name, outs[k]!);
        });
      } catch {
        return false;
      }
    }
    const x = values.get(next.node.input[0]);
    if (!x) return false;
    const want = next.layout === 1 ? [B, T, D * H] : [T, B, D * H];
    if (x.dims.length !== 3 || x.dims.some((d, i) => d !== want[i])) return false;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        for (let d = 0; d < D; d++) {
          for (let j = 0; j < H; j++) {
            const from = prev.layout === 1 ? ((b * T + t) * D + d) * H + j : ((t * D + d) * B + b) * H + j;
            const to = (next.layout === 1 ? b * T + t : t * B + b) * D * H + d * H + j;
            if (x.data[to] !== probe.data[from]) return false;
          }
        }
      }
    }
    return true;
  }

  private assertAlive(what: string): void {
    if (this.destroyed) throw new WebRnnError('destroyed', `onnx ${what}: the model has been destroyed`);
  }

  /** Release the GPU models behind the graph. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const r of this.runners.values()) r.destroy();
    this.stack?.destroy();
    this.stack = null;
  }
}

/**
 * Whether bytes look like an ONNX ModelProto as exporters write it: field 1 (ir_version, a
 * varint from 1 to 127) first, then another field's tag with a valid wire type.
 */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  return bytes.length > 3 && bytes[0] === 0x08 && bytes[1] >= 1 && bytes[1] < 0x80 && bytes[2] >> 3 > 1 && [0, 2].includes(bytes[2] & 7);
}

/** Parse an ONNX model. */
export function importOnnx(engine: ModelFactory, bytes: Uint8Array): OnnxModel {
  const model = decodeModel(bytes);
  if (!model.graph) throw new WebRnnError('invalid-file', 'onnx: the model has no graph');
  return new OnnxModel(engine, model.graph);
}
